/*
 * What `pgshift plan` prints: the same compiled DAG, preflight verdicts and
 * catalog summary in four forms (text for a terminal, JSON with a stable
 * shape, Markdown for a pull-request comment, dot for Graphviz). The JSON
 * form is also the saved plan of `plan --out`.
 */
#ifndef PGSHIFT_REPORT_REPORT_H
#define PGSHIFT_REPORT_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dag/dag.h"
#include "pg/catalog.h"
#include "plan/plan.h"
#include "preflight/preflight.h"
#include "util/buf.h"

struct plan_report {
	const struct plan *plan;
	const struct catalog *cat;              /* NULL offline */
	const struct dag *dag;
	const struct preflight_report *pf;      /* NULL offline */
	const char *fingerprint;                /* catalog fingerprint, NULL offline */
};

struct plan_summary {
	size_t tables, tables_copied, tables_schema_only, partitioned_parents;
	size_t tables_split, copy_steps, indexes, constraints, sequences, steps;
	int64_t bytes;
};

#define JSON_FORMAT_VERSION 1

enum { REPORT_TOP = 5, REPORT_MAX_STAGES = 32 };

/* One stage of the step summary: its count, size and largest steps. */
struct stage_summary {
	const char *name;               /* step_stage()'s, static */
	size_t steps;
	int64_t bytes;
	size_t top[REPORT_TOP], ntop;   /* dag indexes, largest first */
};

void plan_summarize(const struct plan_report *r, struct plan_summary *s);
/* "pass", "warn" or "fail" over all preflight checks ("not run" offline). */
const char *plan_verdict(const struct plan_report *r);
/*
 * The DAG's stages in the order they first appear, each with its count,
 * size and REPORT_TOP largest steps: one pass, whatever the step count.
 * Returns how many stages it filled (at most REPORT_MAX_STAGES).
 */
size_t plan_stages(const struct dag *dag, struct stage_summary stages[REPORT_MAX_STAGES]);
/* The ids of a step's first five dependencies, comma-separated, and how many more, into b. */
void put_step_deps(struct buf *b, const struct dag *dag, const struct step *st);

/* every_step (--verbose): each step with what it runs after, not a summary per stage */
void report_text(FILE *out, const struct plan_report *r, bool every_step);
/*
 * The JSON form, written to each of the nout streams of out a part at a
 * time (at 100,000 tables it is 108 MB, and held whole it was most of
 * plan's peak memory). A failed write shows in the stream's ferror().
 */
void report_json(FILE *const *out, size_t nout, const struct plan_report *r);
void report_markdown(FILE *out, const struct plan_report *r);
void report_dot(FILE *out, const struct plan_report *r);
/* rollback.enabled: the reverse steps run after the cutover (report_rollback.c); json: ",\"rollback\":{...}" */
void report_rollback_text(FILE *out, const struct plan *plan);
void report_rollback_markdown(FILE *out, const struct plan *plan);
void report_rollback_json(struct buf *b, const struct plan *plan);

extern const char dry_run_notice[];
/* What cdc.ddl: replicate creates on the source, named for the reviewer. */
extern const char ddl_capture_notice[];

#endif
