/*
 * cutover.gate: with approval manual, the run waits here until the gate is
 * approved — by `apply --approve`, or by `pgshift cutover PLAN` from any
 * machine, which records the approval in the target's state.
 */
#include <unistd.h>

#include "run/run_events.h"
#include "steps/steps.h"
#include "util/log.h"

bool
step_cutover_gate(struct run *run, size_t step, struct pgs_error *err)
{
	bool approved = false;

	if (run->plan->cutover.approval == APPROVAL_AUTO)
		return true;
	if (run->approve)
		return state_approve(run->state, err);
	if (!run_events_gate(run, step, err))
		return false;
	log_info("cutover gate: waiting for approval; run \"pgshift cutover %s\" to continue",
			 run->plan->file);
	while (!atomic_load(&run->cancel)) {
		if (!state_is_approved(run->state, &approved, err))
			return false;
		if (approved) {
			log_info("cutover gate: approved");
			return true;
		}
		sleep(1);
	}
	return pgs_fail(err, "cutover gate: the run was stopped while waiting for approval");
}
