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
#include <stdio.h>
#include <stdlib.h>

#include "cdc/cdc_slot.h"
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
		cdc_create_publication(tgt, &rev, run->cat, err);
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
	if (remove_tree(plan->rollback.spool_dir) != 0)
		return pgs_fail(err, "could not empty the reverse spool directory \"%s\": %m",
						plan->rollback.spool_dir);
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
