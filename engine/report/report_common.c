/* What every report form shares: the summary numbers, the stages and the verdict. */
#include <string.h>

#include "cdc/ddl_capture.h"
#include "report/report.h"

const char ddl_capture_notice[] =
	"DDL replicated (cdc.ddl: replicate): the snapshot step creates event triggers "
	DDL_CAPTURE_END_TRIGGER " (ddl_command_end) and " DDL_CAPTURE_DROP_TRIGGER " (sql_drop) "
	"on the source, with functions pgshift.ddl_capture(), pgshift.ddl_emit(), "
	"pgshift.ddl_not_immutable() and pgshift.ddl_using_volatile() and table "
	"pgshift.ddl_capture in schema pgshift; cleanup drops them";

const char dry_run_notice[] =
	"dry run: every session was read-only; no slot, publication, schema or row "
	"was created or changed on either server";

void
plan_summarize(const struct plan_report *r, struct plan_summary *s)
{
	*s = (struct plan_summary) {0};
	s->steps = r->dag->n;
	for (size_t i = 0; i < r->dag->n; i++) {
		const struct step *st = &r->dag->steps[i];

		if (st->kind == STEP_COPY && !st->placeholder) {
			s->copy_steps++;
			if (st->part == 1)
				s->tables_split++;
		}
	}
	if (!r->cat)
		return;
	s->tables = r->cat->ntables;
	for (size_t t = 0; t < r->cat->ntables; t++) {
		const struct cat_table *tab = &r->cat->tables[t];

		if (tab->relkind == 'p')
			s->partitioned_parents++;
		else if (tab->exclude_data)
			s->tables_schema_only++;
		else {
			s->tables_copied++;
			s->bytes += tab->bytes;
		}
	}
	s->indexes = r->cat->nindexes;
	s->constraints = r->cat->nconstraints;
	s->sequences = r->cat->nsequences;
}

const char *
plan_verdict(const struct plan_report *r)
{
	if (!r->pf)
		return "not run";
	if (r->pf->nfail)
		return "fail";
	return r->pf->nwarn ? "warn" : "pass";
}

void
put_step_deps(struct buf *b, const struct dag *dag, const struct step *st)
{
	/* schema.post runs after every constraint: its full list is in the JSON form */
	for (size_t k = 0; k < st->ndeps && k < 5; k++)
		buf_printf(b, "%s%s", k ? ", " : "", dag->steps[step_deps(dag, st)[k]].id);
	if (st->ndeps > 5)
		buf_printf(b, " and %zu more", (size_t) st->ndeps - 5);
}

static void
stage_add(struct stage_summary *g, const struct dag *dag, size_t i)
{
	int64_t b = dag->steps[i].est_bytes;
	size_t k;

	g->steps++;
	g->bytes += b > 0 ? b : 0;
	for (k = g->ntop; k > 0 && dag->steps[g->top[k - 1]].est_bytes < b; k--)
		if (k < REPORT_TOP)
			g->top[k] = g->top[k - 1];
	if (k < REPORT_TOP) {
		g->top[k] = i;
		if (g->ntop < REPORT_TOP)
			g->ntop++;
	}
}

size_t
plan_stages(const struct dag *dag, struct stage_summary stages[REPORT_MAX_STAGES])
{
	size_t n = 0;

	memset(stages, 0, REPORT_MAX_STAGES * sizeof(*stages));
	for (size_t i = 0; i < dag->n; i++) {
		const char *name = step_stage(&dag->steps[i]);
		size_t g = 0;

		while (g < n && strcmp(stages[g].name, name) != 0)
			g++;
		if (g == n && n < REPORT_MAX_STAGES)
			stages[n++].name = name;
		if (g < n)
			stage_add(&stages[g], dag, i);
	}
	return n;
}
