/* step_execute: the one place that maps a step kind to the code that runs it. */
#include "steps/steps.h"
#include "util/test_crash.h"

static bool
dispatch(struct run *run, size_t step, struct pgs_error *err)
{
	switch (run->dag->steps[step].kind) {
	case STEP_PREFLIGHT:
		/* apply runs preflight before the scheduler starts: nothing left to do */
		return true;
	case STEP_SNAPSHOT:
		return step_snapshot(run, step, err);
	case STEP_SCHEMA_PRE:
		return step_schema_pre(run, step, err);
	case STEP_COPY:
		return step_copy(run, step, err);
	case STEP_INDEX:
		return step_index(run, step, err);
	case STEP_CONSTRAINT:
		return step_constraint(run, step, err);
	case STEP_SCHEMA_POST:
		return step_schema_post(run, step, err);
	case STEP_BLOBS:
		return step_blobs(run, step, err);
	case STEP_VACUUM:
		return step_vacuum(run, step, err);
	case STEP_CUTOVER_GATE:
		return step_cutover_gate(run, step, err);
	case STEP_CUTOVER:
		return step_cutover(run, step, err);
	case STEP_CLEANUP:
		return step_cleanup(run, step, err);
	case STEP_CDC_STREAM:
		return step_cdc_stream(run, step, err);
	case STEP_CDC_CATCHUP:
		return step_cdc_catchup(run, step, err);
	case STEP_ROLLBACK_SLOT:
		return step_rollback_slot(run, step, err);
	}
	return pgs_fail(err, "step \"%s\" has a kind this build of pgshift does not know",
					run->dag->steps[step].id);
}

/* The crash test's points around every step: before it runs, and after its work before it is recorded done. */
bool
step_execute(struct run *run, size_t step, struct pgs_error *err)
{
	const char *id = run->dag->steps[step].id;
	bool ok;

	test_crash_point("before", id);
	ok = dispatch(run, step, err);
	if (ok)
		test_crash_point("after", id);
	return ok;
}
