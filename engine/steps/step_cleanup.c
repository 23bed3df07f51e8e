/*
 * cleanup: what the run leaves behind once the cutover is done. Without CDC
 * there is no slot, publication or spool; the state is dropped unless the
 * plan keeps it (cleanup.keep_state), so a finished migration leaves no
 * pgshift schema on the target.
 */
#include "steps/steps.h"
#include "util/log.h"

bool
step_cleanup(struct run *run, size_t step, struct pgs_error *err)
{
	(void) step;
	(void) err;
	if (run->plan->cleanup.keep_state) {
		log_info("cleanup: keeping the state in schema pgshift on the target (keep_state)");
		return true;
	}
	/* the run's own row goes last: apply records the run as finished first */
	run->drop_state_at_end = true;
	return true;
}
