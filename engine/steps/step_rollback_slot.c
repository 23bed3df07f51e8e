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
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cdc/cdc_slot.h"
#include "cdc/spool_owner.h"
#include "cdc/pgoutput.h"
#include "pg/conn.h"
#include "plan/plan_reverse.h"
#include "state/reverse_state.h"
#include "steps/steps.h"
#include "util/fs.h"
#include "util/log.h"

static bool
create_slot(struct run *run, const char *step_id, uint64_t *lsn, struct pgs_error *err)
{
	char app[64];
	struct pg_session s = {"target", app, false, true, false};
	PGconn *repl;
	char *snapshot = NULL;
	bool ok;

	snprintf(app, sizeof(app), "pgshift %s", step_id);
	repl = pg_connect(run->plan->target_uri, &s, err);
	if (!repl)
		return false;
	ok = cdc_create_slot(repl, run->plan->rollback.slot, &snapshot, lsn, err);
	if (!ok)
		pgs_error_prefix(err, "rollback.slot: on the target");
	free(snapshot);
	PQfinish(repl);
	return ok;
}

#define WRITERS_POLL_MS 200
#define WRITERS_SAY_EVERY 25        /* polls: every 5 s */

/* The oldest transaction holding an xid on the target's cluster, prepared ones included. */
static const char oldest_writer_sql[] =
	"SELECT who FROM ("
	" SELECT pg_catalog.format('transaction of pid %s (%s, xid %s, open %s s)', pid,"
	"  coalesce(nullif(application_name, ''), usename::text, '?'), backend_xid,"
	"  round(extract(epoch FROM now() - xact_start))) AS who, xact_start AS since"
	" FROM pg_catalog.pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
	" UNION ALL"
	" SELECT pg_catalog.format('prepared transaction %L (xid %s, prepared %s s ago)', gid,"
	"  transaction, round(extract(epoch FROM now() - prepared))), prepared"
	" FROM pg_catalog.pg_prepared_xacts) w ORDER BY since LIMIT 1";

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
 * Creating a logical slot waits for every transaction that holds an xid on
 * the target's cluster to end, silently and with the source fenced: it is
 * waited for here instead, naming what, within the last wait_for_catchup's
 * timeout (a prepared transaction would wait forever).
 */
static bool
wait_for_writers(const struct plan *plan, PGconn *tgt, struct pgs_error *err)
{
	struct timespec poll = {0, WRITERS_POLL_MS * 1000000L};
	int64_t timeout = catchup_timeout_ms(plan);

	for (int64_t waited = 0;; waited += WRITERS_POLL_MS) {
		PGresult *res = pg_query(tgt, oldest_writer_sql, 0, NULL, err);

		if (!res)
			return false;
		if (PQntuples(res) == 0) {
			PQclear(res);
			return true;
		}
		if (waited >= timeout) {
			pgs_fail(err, "rollback.slot: the %s on the target is still running after %" PRId64
					 " ms (the last wait_for_catchup's timeout): the reverse slot cannot be "
					 "created before it ends", PQgetvalue(res, 0, 0), timeout);
			pgs_error_hint(err, "end it on the target (COMMIT or ROLLBACK it, "
						   "pg_terminate_backend(pid), or COMMIT/ROLLBACK PREPARED), then run "
						   "`pgshift apply %s` again: the cutover continues, the source stays "
						   "fenced meanwhile", plan->file);
			PQclear(res);
			return false;
		}
		if (waited % (WRITERS_POLL_MS * WRITERS_SAY_EVERY) == 0)
			log_info("rollback.slot: waiting for the %s on the target to end: the reverse slot's "
					 "creation waits for every transaction that has written (up to %" PRId64
					 " ms)", PQgetvalue(res, 0, 0), timeout);
		PQclear(res);
		nanosleep(&poll, NULL);
	}
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
	bool ok;

	if (!tgt)
		return false;
	plan_reverse(run->plan, &rev);
	ok = cdc_drop_slot(tgt, rev.cdc.slot, NULL, err) &&
		cdc_drop_publication(tgt, rev.cdc.publication, NULL, err) &&
		cdc_create_publication(tgt, &rev, run->cat, err) && wait_for_writers(run->plan, tgt, err);
	PQfinish(tgt);
	return ok && create_slot(run, step_id, lsn, err);
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
