/*
 * cutover.N:KIND: the plan's cutover steps, in order. Each kind is its own
 * function; a failure stops the cutover before the following steps.
 */
#include "hooks/hooks.h"
#include "steps/steps.h"
#include "verify/verify.h"

/*
 * cutover lua: the file's function gets the step id as its event
 * ("cutover.N:lua") and a ctx naming the plan, run and step. The file runs
 * in a state of its own, closed when the step ends, so no session a hook
 * opened stays on the source after traffic moved; its error or
 * `return false, "reason"` fails the step and the cutover stops here.
 */
static bool
cutover_lua(struct run *run, size_t step, const struct cutover_step *cs, struct pgs_error *err)
{
	const char *id = run->dag->steps[step].id;
	struct hooks_config cfg = hooks_config_from_plan(run->plan);
	struct event ev = event_init(id, run->plan->name, run->run_id, id);
	struct hooks *h;

	cfg.notifier = run->notifier;
	h = hooks_new(&cfg);
	bool ok = hooks_run(h, cs->lua_file, &ev, err);

	hooks_free(h);
	return ok;
}

bool
step_cutover(struct run *run, size_t step, struct pgs_error *err)
{
	const struct cutover_step *cs = &run->plan->cutover.steps[run->dag->steps[step].object];

	switch (cs->kind) {
	case CUTOVER_SYNC_SEQUENCES:
		return cutover_sync_sequences(run, cs, err);
	case CUTOVER_VERIFY:
		return cutover_verify(run, cs, err);
	case CUTOVER_LUA:
		return cutover_lua(run, step, cs, err);
	case CUTOVER_WAIT_FOR_CATCHUP:
		return cutover_wait_for_catchup(run, cs, err);
	case CUTOVER_FENCE_WRITES:
		return cutover_fence_writes(run, cs, err);
	}
	return pgs_fail(err, "unknown cutover step kind %d", (int) cs->kind);
}
