/*
 * The terminal form of a plan: the summary first (what an operator checks
 * before reading further), then stages and steps, then preflight verdicts
 * with their fixes, then settings that differ between the servers.
 */
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "util/redact.h"
#include "util/units.h"

static void
text_header(FILE *out, const struct plan_report *r)
{
	char *src = redact_conninfo(r->plan->source_uri);
	char *dst = redact_conninfo(r->plan->target_uri);

	fprintf(out, "pgshift plan \"%s\" (%s)\n", r->plan->name, r->plan->file);
	fprintf(out, "%s\n\n", r->cat ? dry_run_notice
			: "offline: no connection was made; the DAG is shown at stage level");
	fprintf(out, "  source   %s", src);
	if (r->cat)
		fprintf(out, " (PostgreSQL %s, database %s)", r->cat->server_version, r->cat->database);
	fprintf(out, "\n  target   %s\n", dst);
	fprintf(out, "  mode     %s, %s cutover approval\n\n",
			r->plan->cdc.enabled ? "online (copy + CDC)" : "offline copy (no CDC)",
			r->plan->cutover.approval == APPROVAL_MANUAL ? "manual" : "auto");
	if (r->plan->cdc.enabled && r->plan->cdc.ddl == DDL_REPLICATE)
		fprintf(out, "  ddl      %s\n\n", ddl_capture_notice);
	free(src);
	free(dst);
}

static void
text_summary(FILE *out, const struct plan_report *r)
{
	struct plan_summary s;
	char bytes[32];

	plan_summarize(r, &s);
	format_size(s.bytes, bytes, sizeof(bytes));
	fprintf(out, "Summary\n");
	if (r->cat) {
		fprintf(out, "  tables        %zu (%zu copied, %zu schema only, %zu partitioned parents)\n",
				s.tables, s.tables_copied, s.tables_schema_only, s.partitioned_parents);
		fprintf(out, "  data          %s in %zu copy steps (%zu tables split into parts)\n", bytes,
				s.copy_steps, s.tables_split);
		fprintf(out, "  indexes       %zu\n  constraints   %zu\n  sequences     %zu\n", s.indexes,
				s.constraints, s.sequences);
	}
	fprintf(out, "  steps         %zu\n\n", s.steps);
}

static void
text_step(FILE *out, const struct dag *dag, const struct step *st, struct buf *deps)
{
	char size[32] = "";

	if (st->est_bytes > 0)
		format_size(st->est_bytes, size, sizeof(size));
	buf_reset(deps);
	put_step_deps(deps, dag, st);
	fprintf(out, "    %-44s %10s  after: %s\n", st->id, size, deps->len ? deps->data : "-");
}

static void
text_every_step(FILE *out, const struct plan_report *r)
{
	const char *stage = NULL;
	struct buf deps;

	buf_init(&deps);
	fprintf(out, "Steps (by stage; each runs after the steps listed)\n");
	for (size_t i = 0; i < r->dag->n; i++) {
		const struct step *st = &r->dag->steps[i];

		if (!stage || strcmp(stage, step_stage(st)) != 0) {
			stage = step_stage(st);
			fprintf(out, "  [%s]\n", stage);
		}
		text_step(out, r->dag, st, &deps);
	}
	fputc('\n', out);
	buf_free(&deps);
}

/*
 * Per stage its count, size and largest steps, so the output is the same
 * height for 100 tables or 100,000 (a step list of 10,000 tables was
 * 50,000 lines); --verbose or --format json list every step.
 */
static void
text_stages(FILE *out, const struct plan_report *r)
{
	struct stage_summary stages[REPORT_MAX_STAGES];
	size_t n = plan_stages(r->dag, stages);
	struct buf deps;

	buf_init(&deps);
	fprintf(out, "Steps (by stage: count, size, the %d largest and what they run after;"
			" every step: --verbose or --format json)\n", REPORT_TOP);
	for (size_t g = 0; g < n; g++) {
		char size[32] = "";

		if (stages[g].bytes > 0)
			format_size(stages[g].bytes, size, sizeof(size));
		fprintf(out, "  [%s] %zu step%s%s%s\n", stages[g].name, stages[g].steps,
				stages[g].steps == 1 ? "" : "s", size[0] ? ", " : "", size);
		for (size_t k = 0; k < stages[g].ntop; k++)
			text_step(out, r->dag, &r->dag->steps[stages[g].top[k]], &deps);
		if (stages[g].steps > stages[g].ntop)
			fprintf(out, "    ... and %zu more\n", stages[g].steps - stages[g].ntop);
	}
	fputc('\n', out);
	buf_free(&deps);
}

static void
text_preflight(FILE *out, const struct plan_report *r)
{
	struct buf b;

	if (!r->pf) {
		fprintf(out, "Preflight: not run (offline)\n");
		return;
	}
	buf_init(&b);
	preflight_report_text(r->pf, &b);
	fprintf(out, "Preflight\n%s", b.data);
	fprintf(out, "Verdict: %s\n", r->pf->nfail
			? "apply would stop at preflight; fix the FAIL checks first" : "nothing blocks apply");
	buf_free(&b);
}

void
report_text(FILE *out, const struct plan_report *r, bool every_step)
{
	text_header(out, r);
	text_summary(out, r);
	if (every_step)
		text_every_step(out, r);
	else
		text_stages(out, r);
	report_rollback_text(out, r->plan);
	text_preflight(out, r);
}
