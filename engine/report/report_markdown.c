/*
 * The Markdown form of a plan, ready to post as a pull-request comment:
 * a summary table, the step list collapsed in <details>, and the preflight
 * table. Table cells are escaped so odd identifiers cannot break the layout.
 */
#include <stdlib.h>

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
md_steps(FILE *out, const struct plan_report *r)
{
	struct buf deps;

	buf_init(&deps);
	fprintf(out, "<details><summary>%zu steps</summary>\n\n| step | size | runs after |\n|---|---|---|\n",
			r->dag->n);
	for (size_t i = 0; i < r->dag->n; i++) {
		const struct step *st = &r->dag->steps[i];
		char size[32] = "";

		if (st->est_bytes > 0)
			format_size(st->est_bytes, size, sizeof(size));
		buf_reset(&deps);
		put_step_deps(&deps, r->dag, st);
		fputs("| `", out);
		md_cell(out, st->id);
		fprintf(out, "` | %s | ", size);
		md_cell(out, deps.len ? deps.data : "");
		fputs(" |\n", out);
	}
	fprintf(out, "\n</details>\n\n");
	buf_free(&deps);
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
	md_preflight(out, r);
}
