/* Loading the PLAN argument of a command, with its diagnostics on stderr. */
#include <stdio.h>

#include "cli/cli.h"
#include "plan/plan.h"

/* Loads and checks the plan file, printing diagnostics; NULL when invalid. */
struct plan *
cli_load_plan(const char *path)
{
	struct diag_list dl;
	struct plan *plan;

	diag_init(&dl, path);
	plan = plan_load(path, &dl);
	diag_print(&dl, stderr);
	if (!plan)
		fprintf(stderr, "pgshift: error: %s: %zu error(s); the plan is not valid\n", path,
				dl.nerrors);
	diag_free(&dl);
	return plan;
}
