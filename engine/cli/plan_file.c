/* Loading the PLAN argument of a command, with its diagnostics on stderr. */
#include <stdio.h>

#include "cli/cli.h"
#include "plan/plan.h"

/*
 * Lua hooks are part of the plan format but not of this build: a plan that
 * uses them is refused before anything runs, not halfway through a cutover.
 */
static size_t
refuse_lua(const struct plan *plan, struct diag_list *dl)
{
	size_t n = 0;

	for (size_t i = 0; i < plan->cutover.nsteps; i++) {
		const struct cutover_step *st = &plan->cutover.steps[i];

		if (st->kind == CUTOVER_LUA && ++n)
			diag_add(dl, DIAG_ERROR, st->line, 7, "cutover.steps[%zu]: lua hooks are not "
					 "built in this version of pgshift; remove the step or use a release "
					 "with hooks", st->pos);
	}
	for (size_t i = 0; i < plan->hooks.nlua; i++, n++)
		diag_add(dl, DIAG_ERROR, 0, 0, "hooks.lua[%zu] (%s): lua hooks are not built in this "
				 "version of pgshift", i + 1, plan->hooks.lua[i].file);
	return n;
}

/*
 * Loads and checks the plan file, printing diagnostics; NULL when invalid.
 * runnable: the command will run the plan (plan, apply), so parts of the
 * format this build cannot execute are refused now, before anything runs.
 */
struct plan *
cli_load_plan(const char *path, bool runnable)
{
	struct diag_list dl;
	struct plan *plan;

	diag_init(&dl, path);
	plan = plan_load(path, &dl);
	if (plan && runnable && refuse_lua(plan, &dl) > 0) {
		plan_free(plan);
		plan = NULL;
	}
	diag_print(&dl, stderr);
	if (!plan)
		fprintf(stderr, "pgshift: error: %s: %zu error(s); the plan is not valid\n", path,
				dl.nerrors);
	diag_free(&dl);
	return plan;
}
