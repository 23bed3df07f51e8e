/* Loading the PLAN argument of a command, with its diagnostics on stderr. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "hooks/hooks.h"
#include "pg/conn.h"
#include "plan/plan.h"

/*
 * Prints a hook file that does not compile as "FILE:LINE: error: message",
 * Lua's "FILE:LINE: message" in the voice of the plan's diagnostics.
 */
static size_t
check_hook_file(const char *file)
{
	struct pgs_error err;
	const char *p;

	pgs_error_clear(&err);
	if (hooks_compile(file, &err))
		return 0;
	p = err.message;
	if (strncmp(p, file, strlen(file)) == 0 && p[strlen(file)] == ':') {
		p += strlen(file) + 1;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == ':' && p[1] == ' ') {
			fprintf(stderr, "%.*s error: %s\n", (int) (p + 1 - err.message), err.message, p + 2);
			return 1;
		}
	}
	fprintf(stderr, "%s: error: %s\n", file, err.message);
	return 1;
}

/*
 * Every Lua file the plan names is compiled (not run) now, so a syntax
 * error is found by validate, not halfway through a cutover.
 */
static size_t
check_hook_files(const struct plan *plan)
{
	size_t n = 0;

	for (size_t i = 0; i < plan->cutover.nsteps; i++)
		if (plan->cutover.steps[i].kind == CUTOVER_LUA)
			n += check_hook_file(plan->cutover.steps[i].lua_file);
	for (size_t i = 0; i < plan->hooks.nlua; i++)
		n += check_hook_file(plan->hooks.lua[i].file);
	return n;
}

/*
 * Loads and checks the plan file, printing diagnostics; NULL when invalid.
 * check_hooks: the command validates or will run the plan (validate, plan,
 * apply), so every Lua hook file is compiled now, before anything runs.
 */
struct plan *
cli_load_plan(const char *path, bool check_hooks)
{
	struct diag_list dl;
	struct plan *plan;
	size_t nhook = 0;

	diag_init(&dl, path);
	plan = plan_load(path, &dl);
	diag_print(&dl, stderr);
	if (plan) {
		pg_conn_configure("source", plan->source_conn.connect_timeout_ms,
						  plan->source_conn.keepalives_idle_ms);
		pg_conn_configure("target", plan->target_conn.connect_timeout_ms,
						  plan->target_conn.keepalives_idle_ms);
	}
	if (plan && check_hooks && (nhook = check_hook_files(plan)) > 0) {
		plan_free(plan);
		plan = NULL;
	}
	if (!plan)
		fprintf(stderr, "pgshift: error: %s: %zu error(s); the plan is not valid\n", path,
				dl.nerrors + nhook);
	diag_free(&dl);
	return plan;
}
