/*
 * rollback.slot (rollback.enabled, README "Rollback"): right after the last
 * wait_for_catchup stopped the forward applier, and before any later
 * cutover step lets the application write to the target, the reverse
 * stream's publication and logical slot are created on the TARGET and its
 * consistent point is recorded as the reverse applied LSN on the source
 * (reverse_state.h); the source's triggers and rules that would fire in the
 * replica role are held (held_triggers.c) until nothing more is replayed
 * into it. Every change the application then makes on the target
 * commits after that point, so the reverse stream carries all of them, and
 * none of pgshift's forward replay. The stream itself is read by `pgshift
 * rollback --follow` and by `pgshift rollback`.
 *
 * Run again after a crash, the step starts the reverse stream over: the
 * slot and publication of the failed attempt are dropped (its consistent
 * point was never recorded, or the record is replaced), the reverse spool
 * emptied. Nothing
 * can have been written to the target meanwhile, as the later cutover
 * steps have not run.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "cdc/cdc_slot.h"
#include "cdc/spool_owner.h"
#include "cdc/pgoutput.h"
#include "pg/conn.h"
#include "pg/lock_watch.h"
#include "plan/plan_reverse.h"
#include "state/reverse_state.h"
#include "steps/steps.h"
#include "util/fs.h"
#include "util/log.h"

#define WAIT_POLL_MS 200
#define WAIT_SAY_EVERY_MS 5000

/*
 * The transactions holding an xid on the target's cluster, prepared ones
 * included, oldest first: CREATE_REPLICATION_SLOT waits for each of them
 * to end ($1: the creating walsender's pid).
 */
static const char writers_sql[] =
	"SELECT pg_catalog.string_agg(who, ', ' ORDER BY since) FROM ("
	" SELECT pg_catalog.format('transaction of pid %s (%s, xid %s, open %s s)', pid,"
	"  coalesce(nullif(application_name, ''), usename::text, '?'), backend_xid,"
	"  round(extract(epoch FROM now() - xact_start))) AS who, xact_start AS since"
	" FROM pg_catalog.pg_stat_activity WHERE backend_xid IS NOT NULL"
	" AND pid <> pg_catalog.pg_backend_pid() AND pid <> $1::int"
	" UNION ALL"
	" SELECT pg_catalog.format('prepared transaction %L (xid %s, prepared %s s ago)', gid,"
	"  transaction, round(extract(epoch FROM now() - prepared))), prepared"
	" FROM pg_catalog.pg_prepared_xacts) w";

/* What the slot's creation waits for, looked at on a second target session. */
struct slot_wait {
	struct run *run;            /* a signal or a failed step sets run->cancel: stop waiting */
	const struct plan *plan;
	PGconn *tgt;
	char creator[16];           /* the replication session's pid */
	int64_t timeout_ms, waited_ms;
	bool gave_up;               /* err is slot_waiting's own, which names the target */
};

static int64_t
catchup_timeout_ms(const struct plan *plan)
{
	int64_t ms = 60000;

	for (size_t i = 0; i < plan->cutover.nsteps; i++)
		if (plan->cutover.steps[i].kind == CUTOVER_WAIT_FOR_CATCHUP)
			ms = plan->cutover.steps[i].timeout_ms;
	return ms;
}

/*
 * pg_await's callback while CREATE_REPLICATION_SLOT runs: it waits
 * silently, with the source fenced, for every transaction that holds an
 * xid, even one begun after this step started (a prepared one would make
 * it wait forever). Says which every 5 s; gives up after the last
 * wait_for_catchup's timeout, naming them.
 */
static bool
slot_waiting(void *arg, struct pgs_error *err)
{
	struct slot_wait *w = arg;
	const char *params[1] = {w->creator};
	PGresult *res = pg_query(w->tgt, writers_sql, 1, params, err);
	const char *who;

	w->waited_ms += WAIT_POLL_MS;
	w->gave_up = true;
	if (atomic_load(&w->run->cancel)) {
		PQclear(res);
		return pgs_fail(err, "rollback.slot: the run was stopped while the reverse slot was "
						"being created on the target: it was not created");
	}
	if (!res)
		return false;
	who = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);
	if (w->waited_ms >= w->timeout_ms) {
		pgs_fail(err, "rollback.slot: creating the reverse slot on the target still waits after "
				 "%" PRId64 " ms (the last wait_for_catchup's timeout) for %s", w->timeout_ms,
				 who ? who : "the target (no transaction holds an xid now)");
		pgs_error_hint(err, "a logical slot is created only once every transaction that has "
					   "written on the target's cluster ended: end those (COMMIT or ROLLBACK, "
					   "pg_terminate_backend(pid), or COMMIT/ROLLBACK PREPARED), then run "
					   "`pgshift apply %s` again: the cutover continues, the source stays "
					   "fenced meanwhile", w->plan->file);
		PQclear(res);
		return false;
	}
	if (who && (w->waited_ms - WAIT_POLL_MS) % WAIT_SAY_EVERY_MS == 0)
		log_info("rollback.slot: creating the reverse slot waits for the %s on the target to "
				 "end (up to %" PRId64 " ms)", who, w->timeout_ms);
	PQclear(res);
	w->gave_up = false;
	return true;
}

static bool
create_slot(struct run *run, const char *step_id, PGconn *tgt, uint64_t *lsn,
			struct pgs_error *err)
{
	char app[RUN_APP_NAME_SIZE];
	struct pg_session s = {"target", app, false, true, false, false};
	struct slot_wait w = {run, run->plan, tgt, "", catchup_timeout_ms(run->plan), 0, false};
	struct slot_watch watch = {WAIT_POLL_MS, slot_waiting, &w};
	PGconn *repl;
	char *snapshot = NULL;
	bool ok;

	run_app_name(run->run_id, step_id, app, sizeof(app));
	repl = pg_connect(run->plan->target_uri, &s, err);
	if (!repl)
		return false;
	snprintf(w.creator, sizeof(w.creator), "%d", PQbackendPID(repl));
	ok = cdc_create_slot_watched(repl, run->plan->rollback.slot, &watch, &snapshot, lsn, err);
	if (!ok && !w.gave_up) {
		/* the slot module's messages and hints speak of the forward slot, on the source */
		pgs_error_swap_sides(err);
		pgs_error_prefix(err, "rollback.slot: on the target");
	}
	free(snapshot);
	PQfinish(repl);
	return ok;
}

/*
 * The publication and the slot on the target, created anew: one left by an
 * earlier migration of the plan (another table set) must not fail the
 * cutover here, with the source already fenced.
 */
static bool
target_objects(struct run *run, const char *step_id, uint64_t *lsn, struct pgs_error *err)
{
	struct plan rev;
	PGconn *tgt = run_connect_target(run, step_id, err);
	struct pg_session s = {"target", "pgshift rollback.slot lock watch", true, false, false, false};
	struct lock_watch lw;
	char hint[512];
	bool ok;

	if (!tgt)
		return false;
	plan_reverse(run->plan, &rev);
	/* DROP/CREATE PUBLICATION queue behind a lock on a migrated table (an early CREATE INDEX) */
	snprintf(hint, sizeof(hint), "end what those sessions do on the target (or "
			 "pg_terminate_backend(pid)), then run `pgshift apply %s` again: the cutover "
			 "continues, the source stays fenced meanwhile", run->plan->file);
	ok = lock_watch_start(&lw, run->plan->target_uri, &s, tgt, "rollback.slot: the reverse "
						  "publication's creation on the target", hint,
						  catchup_timeout_ms(run->plan), err);
	if (ok) {
		ok = cdc_drop_slot(tgt, rev.cdc.slot, NULL, err) &&
			cdc_drop_publication(tgt, rev.cdc.publication, NULL, err) &&
			cdc_create_publication(tgt, &rev, run->cat, err);
		ok = lock_watch_stop(&lw, ok, err);
	}
	ok = ok && create_slot(run, step_id, tgt, lsn, err);
	PQfinish(tgt);
	return ok;
}

bool
step_rollback_slot(struct run *run, size_t step, struct pgs_error *err)
{
	const struct plan *plan = run->plan;
	const char *id = run->dag->steps[step].id;
	char text[PGO_LSN_TEXT_SIZE];
	uint64_t lsn = 0;
	PGconn *src;
	bool ok;

	if (!target_objects(run, id, &lsn, err))
		return false;
	if (!spool_remove_own(plan->rollback.spool_dir, plan->name, err))
		return false;
	pgo_lsn_text(lsn, text);
	src = run_connect_source(run, id, err);
	/* the source's ENABLE ALWAYS / REPLICA triggers would fire again on the replayed rows */
	ok = src && reverse_state_begin(src, plan, run->run_id, text, err) &&
		held_triggers_disable(src, plan->rollback.slot, err);
	PQfinish(src);
	if (ok)
		log_info("rollback.slot: publication \"%s\" and replication slot \"%s\" created on the "
				 "target at %s; `pgshift rollback %s --follow` streams its changes into the source",
				 plan->rollback.publication, plan->rollback.slot, text, plan->file);
	return ok;
}
