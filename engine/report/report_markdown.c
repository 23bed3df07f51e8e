/*
 * The Markdown form of a plan, ready to post as a pull-request comment:
 * a summary table, the steps per stage collapsed in <details>, and the preflight
 * table. Table cells are escaped so odd identifiers cannot break the layout.
 */
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "util/redact.h"
#include "util/units.h"

/* Writes s as one table cell: | and newlines escaped, backticks kept literal. */
static void
md_cell(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else if (*s == '\n')
			fputs("<br>", out);
		else if (*s == '<')
			fputs("&lt;", out);
		else
			fputc(*s, out);
	}
}

static void
md_summary(FILE *out, const struct plan_report *r)
{
	struct plan_summary s;
	char bytes[32];
	char *src = redact_conninfo(r->plan->source_uri);
	char *dst = redact_conninfo(r->plan->target_uri);

	plan_summarize(r, &s);
	format_size(s.bytes, bytes, sizeof(bytes));
	fprintf(out, "### pgshift plan `%s`\n\n", r->plan->name);
	fprintf(out, "> %s\n\n", r->cat ? dry_run_notice : "offline: no connection was made");
	fprintf(out, "| | |\n|---|---|\n");
	fprintf(out, "| source | `");
	md_cell(out, src);
	fprintf(out, "` |\n| target | `");
	md_cell(out, dst);
	fprintf(out, "` |\n| mode | %s |\n", r->plan->cdc.enabled ? "online (copy + CDC)" : "offline copy");
	if (r->plan->cdc.enabled && r->plan->cdc.ddl == DDL_REPLICATE)
		fprintf(out, "| ddl | %s |\n", ddl_capture_notice);
	if (r->cat)
		fprintf(out, "| tables | %zu (%zu copied, %zu schema only, %zu partitioned parents) |\n"
				"| data | %s in %zu copy steps |\n| indexes | %zu |\n| constraints | %zu |\n"
				"| sequences | %zu |\n", s.tables, s.tables_copied, s.tables_schema_only,
				s.partitioned_parents, bytes, s.copy_steps, s.indexes, s.constraints, s.sequences);
	fprintf(out, "| steps | %zu |\n| preflight | **%s** |\n\n", s.steps, plan_verdict(r));
	free(src);
	free(dst);
}

static void
md_stage_row(FILE *out, const struct dag *dag, const struct stage_summary *g)
{
	char size[32] = "";

	if (g->bytes > 0)
		format_size(g->bytes, size, sizeof(size));
	fprintf(out, "| %s | %zu | %s | ", g->name, g->steps, size);
	for (size_t k = 0; k < g->ntop; k++) {
		const struct step *st = &dag->steps[g->top[k]];
		char one[32] = "";

		if (st->est_bytes > 0)
			format_size(st->est_bytes, one, sizeof(one));
		fputs(k ? ", `" : "`", out);
		md_cell(out, st->id);
		fprintf(out, "`%s%s", one[0] ? " " : "", one);
	}
	if (g->steps > g->ntop)
		fprintf(out, " and %zu more", g->steps - g->ntop);
	fputs(" |\n", out);
}

/*
 * Steps per stage, with counts, sizes and the largest few: the comment
 * stays the same size for 100 tables or 100,000 (a PR comment holds
 * 65,536 characters); `plan --format json` lists every step.
 */
static void
md_steps(FILE *out, const struct plan_report *r)
{
	struct stage_summary stages[REPORT_MAX_STAGES];
	size_t n = plan_stages(r->dag, stages);

	fprintf(out, "<details><summary>%zu steps</summary>\n\n| stage | steps | size | largest |\n"
			"|---|---|---|---|\n", r->dag->n);
	for (size_t g = 0; g < n; g++)
		md_stage_row(out, r->dag, &stages[g]);
	fprintf(out, "\nEvery step with what it runs after: `pgshift plan PLAN --format json`.\n"
			"\n</details>\n\n");
}

static void
md_preflight(FILE *out, const struct plan_report *r)
{
	if (!r->pf)
		return;
	fprintf(out, "| preflight | status | observed | fix |\n|---|---|---|---|\n");
	for (size_t i = 0; i < r->pf->nchecks; i++) {
		const struct check_result *c = &r->pf->checks[i];

		fprintf(out, "| %s | %s | ", c->name, check_status_name(c->status));
		md_cell(out, c->observed);
		fputs(" | ", out);
		md_cell(out, c->status == CHECK_PASS ? "" : c->hint);
		fputs(" |\n", out);
	}
	if (r->pf->nparams) {
		fprintf(out, "\n| setting | source | target | changes behaviour |\n|---|---|---|---|\n");
		for (size_t i = 0; i < r->pf->nparams; i++) {
			const struct param_diff *d = &r->pf->params[i];

			fprintf(out, "| %s | ", d->name);
			md_cell(out, d->source_value);
			fputs(" | ", out);
			md_cell(out, d->target_value);
			fprintf(out, " | %s |\n", d->changes_behaviour ? "yes" : "no");
		}
	}
}

void
report_markdown(FILE *out, const struct plan_report *r)
{
	md_summary(out, r);
	md_steps(out, r);
	report_rollback_markdown(out, r->plan);
	md_preflight(out, r);
}
