/*
 * The Graphviz form of a plan: one node per step, one edge per dependency
 * (drawn in execution order), steps grouped by stage. Ids are written as
 * escaped dot strings, so any identifier is safe.
 */
#include <string.h>

#include "report/report.h"

static void
dot_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

void
report_dot(FILE *out, const struct plan_report *r)
{
	const char *stage = NULL;
	int cluster = 0;

	fprintf(out, "digraph pgshift {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n");
	for (size_t i = 0; i < r->dag->n; i++) {
		const struct step *st = &r->dag->steps[i];

		if (!stage || strcmp(stage, step_stage(st)) != 0) {
			if (stage)
				fprintf(out, "  }\n");
			stage = step_stage(st);
			fprintf(out, "  subgraph cluster_%d {\n    label=", cluster++);
			dot_string(out, stage);
			fprintf(out, ";\n");
		}
		fprintf(out, "    ");
		dot_string(out, st->id);
		fprintf(out, ";\n");
	}
	if (stage)
		fprintf(out, "  }\n");
	for (size_t i = 0; i < r->dag->n; i++)
		for (size_t k = 0; k < r->dag->steps[i].ndeps; k++) {
			fprintf(out, "  ");
			dot_string(out, r->dag->steps[step_deps(r->dag, &r->dag->steps[i])[k]].id);
			fprintf(out, " -> ");
			dot_string(out, r->dag->steps[i].id);
			fprintf(out, ";\n");
		}
	fprintf(out, "}\n");
}
