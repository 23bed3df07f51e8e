/*
 * cutover.gate: with approval manual, the run waits here until the gate is
 * approved — by `apply --approve`, or by `pgshift cutover PLAN` from any
 * machine while this process waits (state_gate_wait records which session
 * waits, so an approval cannot outlive the process it was given to).
 */
#include <unistd.h>

#include "run/run_cdc.h"
#include "run/run_events.h"
#include "steps/steps.h"
#include "util/log.h"
#include "util/test_crash.h"

static bool
wait_for_approval(struct run *run, struct pgs_error *err)
{
	bool approved = false;

	while (!atomic_load(&run->cancel)) {
		if (!state_is_approved(run->state, &approved, err))
			return false;
		if (approved) {
			log_info("cutover gate: approved");
			return true;
		}
		sleep(1);
	}
	/* a dead CDC thread stops the run too: its error is the cause to show first */
	if (!run_cdc_threads_ok(run, err))
		return false;
	return pgs_fail(err, "cutover gate: the run was stopped while waiting for approval");
}

bool
step_cutover_gate(struct run *run, size_t step, struct pgs_error *err)
{
	struct pgs_error cerr;
	bool ok;

	if (run->plan->cutover.approval == APPROVAL_AUTO)
		return true;
	if (run->approve)
		return state_approve(run->state, err);
	if (!run_events_gate(run, step, err) || !state_gate_wait(run->state, true, err))
		return false;
	log_info("cutover gate: waiting for approval; run \"pgshift cutover %s\" to continue",
			 run->plan->file);
	test_crash_point("cutover.gate.waiting", NULL);
	ok = wait_for_approval(run, err);
	pgs_error_clear(&cerr);
	if (!state_gate_wait(run->state, false, &cerr) && ok) {
		*err = cerr;
		ok = false;
	}
	return ok;
}
