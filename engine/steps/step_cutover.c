/*
 * cutover.N:KIND: the plan's cutover steps, in order. Each kind is its own
 * function; a failure stops the cutover before the following steps.
 */
#include "steps/steps.h"
#include "verify/verify.h"

bool
step_cutover(struct run *run, size_t step, struct pgs_error *err)
{
	const struct cutover_step *cs = &run->plan->cutover.steps[run->dag->steps[step].cutover];

	switch (cs->kind) {
	case CUTOVER_SYNC_SEQUENCES:
		return cutover_sync_sequences(run, cs, err);
	case CUTOVER_VERIFY:
		return cutover_verify(run, cs, err);
	case CUTOVER_LUA:
		return pgs_fail(err, "lua hooks are not available in this build of pgshift (%s)",
						cs->lua_file);
	case CUTOVER_WAIT_FOR_CATCHUP:
		return cutover_wait_for_catchup(run, cs, err);
	case CUTOVER_FENCE_WRITES:
		return cutover_fence_writes(run, cs, err);
	}
	return pgs_fail(err, "unknown cutover step kind %d", (int) cs->kind);
}
