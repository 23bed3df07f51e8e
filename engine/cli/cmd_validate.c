/*
 * pgshift validate PLAN: the offline check. Diagnostics go to stderr as
 * FILE:LINE:COL; on success a short summary of what the plan will do goes to
 * stdout, with connection strings redacted.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "plan/plan.h"
#include "util/redact.h"
#include "util/units.h"

/* schema.owners, privileges and roles, the map spelled out. */
static void
print_schema(const struct plan *p)
{
	static const char *const roles[] = {"required", "created when missing", "ignored when missing"};

	printf("  schema:  owners %s", p->schema.owners == OWNERS_KEEP ? "kept"
		   : p->schema.owners == OWNERS_TARGET_ROLE ? "the target role" : "mapped");
	for (size_t i = 0; i < p->schema.nmap; i++)
		printf("%s%s -> %s", i ? ", " : " (", p->schema.map[i].source, p->schema.map[i].target);
	printf("%s, privileges %s, roles %s\n", p->schema.nmap ? ")" : "",
		   p->schema.privileges == PRIVILEGES_KEEP ? "kept" : "dropped", roles[p->schema.roles]);
}

static void
print_summary(const struct plan *p)
{
	char *src = redact_conninfo(p->source_uri);
	char *dst = redact_conninfo(p->target_uri);
	char split[32], lag[32], keep[32];

	format_size(p->copy.split_tables_larger_than, split, sizeof(split));
	format_duration(p->cdc.max_lag_ms, lag, sizeof(lag));
	printf("plan \"%s\" is valid (%s)\n", p->name, p->file);
	printf("  source:  %s\n", src);
	printf("  target:  %s\n", dst);
	print_schema(p);
	printf("  copy:    %d table jobs, %d index jobs, %s format, split tables above %s into up to %d parts\n",
		   p->copy.table_jobs, p->copy.index_jobs,
		   copy_format_name(p->copy.format), split, p->copy.split_max_parts);
	if (p->cdc.enabled)
		printf("  cdc:     slot %s, publication %s, caught up below %s lag\n", p->cdc.slot,
			   p->cdc.publication, lag);
	else
		printf("  cdc:     off (offline copy)\n");
	printf("  cutover: %s approval;", p->cutover.approval == APPROVAL_MANUAL ? "manual" : "auto");
	for (size_t i = 0; i < p->cutover.nsteps; i++)
		printf(" %zu:%s", i + 1, cutover_kind_name(p->cutover.steps[i].kind));
	if (p->cutover.nsteps == 0)
		printf(" no steps");
	printf("\n");
	if (p->rollback.enabled) {
		format_duration(p->rollback.keep_for_ms, keep, sizeof(keep));
		printf("  rollback: reverse stream from the cutover (slot and publication %s on the target), "
			   "kept %s\n", p->rollback.slot, keep);
	}
	printf("  hooks:   %zu Lua hook(s); notify: %zu target(s)\n", p->hooks.nlua, p->nnotify);
	free(src);
	free(dst);
}

int
cmd_validate(const struct cli_args *args)
{
	struct plan *plan = cli_load_plan(args->plan, true);

	if (!plan)
		return EXIT_USAGE;
	print_summary(plan);
	plan_free(plan);
	return EXIT_OK;
}
