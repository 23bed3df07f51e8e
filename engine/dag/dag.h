/*
 * The step DAG of DESIGN.md §3, compiled from a plan and (unless offline) the
 * source catalog. `plan` prints it, `apply` executes it, `status` reports on
 * it: all three use the same compiler, so step ids are stable across them.
 */
#ifndef PGSHIFT_DAG_DAG_H
#define PGSHIFT_DAG_DAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pg/catalog.h"
#include "plan/plan.h"
#include "util/error.h"
#include "util/strpool.h"

enum step_kind {
	STEP_PREFLIGHT,
	STEP_SNAPSHOT,
	STEP_SCHEMA_PRE,
	STEP_COPY,
	STEP_INDEX,
	STEP_CONSTRAINT,
	STEP_SCHEMA_POST,
	STEP_BLOBS,
	STEP_VACUUM,
	STEP_CDC_STREAM,
	STEP_CDC_CATCHUP,
	STEP_CUTOVER_GATE,
	STEP_CUTOVER,
	STEP_CLEANUP,
	STEP_ROLLBACK_SLOT,         /* rollback.enabled: reverse publication + slot on the target */
};

/* 40 bytes: 500,000 of them for 100,000 tables, so no field is wider than it needs */
struct step {
	char *id;                   /* in dag.ids; e.g. "copy:public.orders#2/4" */
	int64_t est_bytes;          /* bytes this step moves or reads, 0 when unknown */
	uint32_t dep_at, ndeps;     /* its deps (steps that must finish first):
								 * dag.edges[dep_at .. dep_at + ndeps), see step_deps */
	int32_t table;              /* catalog table (copy, vacuum, constraint), -1 if none */
	int32_t object;             /* by kind: the catalog index (STEP_INDEX) or constraint
								 * (STEP_CONSTRAINT), the plan->cutover.steps index
								 * (STEP_CUTOVER); -1 if none */
	uint16_t part, nparts;      /* copy part K of N (1-based); 0/0 when not split */
	uint8_t kind;               /* enum step_kind */
	bool placeholder;           /* offline: stands for all steps of its kind */
};

struct dag {
	struct step *steps;         /* owned; in a topological order */
	size_t n, cap;
	uint32_t *edges;            /* owned; every step's deps, step after step */
	size_t nedges, capedges;
	uint32_t *seen;             /* owned while compiling: seen[d] == i + 1 once step i
								 * depends on d (edges are filed once) */
	uint32_t *by_id;            /* owned; step indexes sorted by id, for dag_find */
	struct strpool ids;         /* owns the steps' ids */
	bool offline;
};

/* The steps st runs after (st->ndeps of them). */
static inline const uint32_t *
step_deps(const struct dag *dag, const struct step *st)
{
	return dag->edges + st->dep_at;
}

/*
 * Compiles plan (+ cat, or NULL for the stage-level offline DAG) into dag.
 * Fails only on an internal inconsistency, which dag_check names.
 */
bool dag_compile(const struct plan *plan, const struct catalog *cat, struct dag *dag,
				 struct pgs_error *err);
void dag_free(struct dag *dag);

/* Every edge points at an existing step, ids are unique, no cycle (named). */
bool dag_check(const struct dag *dag, struct pgs_error *err);

/* The step of that id, -1 if none: a binary search of a compiled DAG. */
long dag_find(const struct dag *dag, const char *id);
const char *step_kind_name(enum step_kind kind);
/* The stage a step belongs to, as used by events: "copy", "schema", ... */
const char *step_stage(const struct step *step);

/*
 * How many parts a table of `bytes` is split into under the plan's copy
 * settings, when `total_bytes` are copied in all.
 */
int dag_copy_parts(const struct plan *plan, int64_t bytes, int64_t total_bytes);

#endif
