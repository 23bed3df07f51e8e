/*
 * cleanup: what the run leaves behind once the cutover is done. With CDC
 * the receiver and applier are stopped first (the cutover is past: nothing
 * more is to be replayed, and a walsender still streaming would keep the
 * slot from being dropped), then the slot and the publication go as the
 * plan says (a slot left behind keeps WAL on the source forever), and the
 * spool. The state is dropped unless the plan keeps it
 * (cleanup.keep_state), so a finished migration leaves no pgshift schema on
 * the target - except the record of replica identities the snapshot step
 * changed on the source: they stay changed (the application may still
 * write to the source), the step says so, and `pgshift cleanup
 * --restore-identity` puts them back.
 */
#include <time.h>

#include "cdc/cdc_slot.h"
#include "cdc/ddl_capture.h"
#include "cdc/identity_restore.h"
#include "cdc/spool_owner.h"
#include "run/run_cdc.h"
#include "state/reverse_state.h"
#include "steps/cleanup.h"
#include "steps/steps.h"
#include "util/fs.h"
#include "util/log.h"

bool
cleanup_cdc_objects(const struct plan *plan, PGconn *src, struct pgs_error *err)
{
	bool dropped;

	/* first: nothing pgshift changes on the source from here on may be captured */
	if (!ddl_capture_remove(src, plan->name, &dropped, err))
		return false;
	if (dropped)
		log_info("cleanup: dropped the DDL capture on the source (event triggers %s, %s, "
				 "schema pgshift's functions)", DDL_CAPTURE_END_TRIGGER, DDL_CAPTURE_DROP_TRIGGER);
	if (plan->cleanup.drop_slot) {
		if (!cdc_drop_slot(src, plan->cdc.slot, &dropped, err))
			return false;
		if (dropped)
			log_info("cleanup: dropped replication slot \"%s\" on the source", plan->cdc.slot);
		else
			log_info("cleanup: no replication slot \"%s\" on the source (already dropped)",
					 plan->cdc.slot);
	} else
		log_info("cleanup: keeping replication slot \"%s\" (drop_slot: false)", plan->cdc.slot);
	if (plan->cleanup.drop_publication) {
		if (!cdc_drop_publication(src, plan->cdc.publication, &dropped, err))
			return false;
		if (dropped)
			log_info("cleanup: dropped publication \"%s\" on the source", plan->cdc.publication);
		else
			log_info("cleanup: no publication \"%s\" on the source (already dropped)",
					 plan->cdc.publication);
	} else
		log_info("cleanup: keeping publication \"%s\" (drop_publication: false)",
				 plan->cdc.publication);
	return spool_remove_own(plan->cdc.spool_dir, plan->name, err);
}

static bool
cleanup_cdc(struct run *run, size_t step, struct pgs_error *err)
{
	PGconn *src;
	bool ok;

	if (!run_cdc_stop(run, err))
		return false;
	/* a plan without wait_for_catchup gets them back here, once nothing is replayed */
	src = run_connect_target(run, run->dag->steps[step].id, err);
	ok = src && held_triggers_restore(src, run->plan->name, "cleanup", err);
	PQfinish(src);
	if (!ok)
		return false;
	src = run_connect_source(run, run->dag->steps[step].id, err);
	if (!src)
		return false;
	ok = cleanup_cdc_objects(run->plan, src, err) &&
		(!run->state || identity_report_left(run->state, run->plan->file, err));
	PQfinish(src);
	return ok;
}

/* rollback.enabled: the reverse stream outlives this step, and the operator is told until when. */
static bool
say_reverse_kept(struct run *run, size_t step, struct pgs_error *err)
{
	const struct plan *plan = run->plan;
	PGconn *src = run_connect_source(run, run->dag->steps[step].id, err);
	struct reverse_state rs = {0};
	bool found = false, ok = src && reverse_state_read(src, plan, &rs, &found, err);
	char when[32];
	time_t until;

	PQfinish(src);
	if (!ok || !found)
		return ok;
	until = (time_t) (rs.started_at + (double) plan->rollback.keep_for_ms / 1000.0);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&until));
	log_info("cleanup: keeping the reverse stream (replication slot and publication \"%s\" on the "
			 "target, the source fenced) until %s (rollback.keep_for): `pgshift rollback %s` rolls "
			 "back; `pgshift cleanup %s` ends it after that, or now with --force", plan->rollback.slot,
			 when, plan->file, plan->file);
	reverse_state_free(&rs);
	return true;
}

bool
step_cleanup(struct run *run, size_t step, struct pgs_error *err)
{
	if (run->plan->cdc.enabled && !cleanup_cdc(run, step, err))
		return false;
	if (run->plan->rollback.enabled && !say_reverse_kept(run, step, err))
		return false;
	if (run->plan->cleanup.keep_state) {
		log_info("cleanup: keeping the state in schema pgshift on the target (keep_state)");
		return true;
	}
	/* the run's own row goes last: apply records the run as finished first */
	run->drop_state_at_end = true;
	return true;
}
