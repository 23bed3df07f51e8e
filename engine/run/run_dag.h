/*
 * The DAG a run was compiled with, recorded in the state by its first apply
 * (DESIGN.md §4b): every resume executes exactly that DAG. A resume
 * compiles again from the live catalog with the recorded table sizes, so a
 * table that grew or shrank keeps its recorded split (the same step ids and
 * ctid bounds); then the catalog-bound steps (copy, index, constraint,
 * vacuum) are compared with the recorded ones, and what drifted is named.
 */
#ifndef PGSHIFT_RUN_RUN_DAG_H
#define PGSHIFT_RUN_RUN_DAG_H

#include <stdbool.h>

#include "dag/dag.h"
#include "pg/catalog.h"
#include "state/state.h"
#include "util/error.h"

/* What the live catalog's DAG adds to or takes from the recorded one. */
enum dag_drift {
	DAG_SAME,                   /* nothing recorded, or the same catalog-bound steps */
	DAG_NEW,                    /* only new steps (new tables, indexes, constraints) */
	DAG_GONE                    /* recorded steps the catalog no longer has */
};

/* Gives each recorded table the size its copy steps were compiled with. */
void run_dag_recorded_sizes(const struct dag_record *rec, struct catalog *cat);

/*
 * Compares dag with rec. DAG_NEW and DAG_GONE fill err naming every new or
 * gone table and step (with the hint that fits); DAG_SAME leaves it alone.
 */
enum dag_drift run_dag_drift(const struct dag_record *rec, const struct dag *dag,
							 const struct catalog *cat, const char *plan_name,
							 const char *plan_file, struct pgs_error *err);

/*
 * cdc.ddl: replicate: the catalog-bound steps of dag the record lacks (the
 * tables, indexes and constraints created on the source since the run
 * began) were made on the target by the replicated DDL, in commit order,
 * and their rows come with the stream, so a resume runs none of them; they
 * are marked in covered (dag->n entries). Returns how many.
 */
size_t run_dag_ddl_covered(const struct dag_record *rec, const struct dag *dag, bool *covered);

/* Whether any recorded step belongs to that table. */
bool run_dag_has_table(const struct dag_record *rec, const char *schema, const char *table);

/* Steps [from, to) of dag as one of state_record_dag's JSON chunks (malloc'd). */
char *run_dag_json(const struct dag *dag, const struct catalog *cat, size_t from, size_t to);

#endif
