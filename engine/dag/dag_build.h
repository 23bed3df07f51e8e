/* Internal to engine/dag: adding steps and edges while compiling. */
#ifndef PGSHIFT_DAG_DAG_BUILD_H
#define PGSHIFT_DAG_DAG_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "dag/dag.h"

/* A growable list of step indexes (uint32, as struct step's deps: 3 lists a table). */
struct idlist {
	uint32_t *items;
	uint32_t n, cap;
};

/* Appends a step (its id copied into dag->ids); returns its index. */
size_t dag_add(struct dag *dag, enum step_kind kind, const char *id);
size_t dag_addf(struct dag *dag, enum step_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Room for n steps in all: one allocation instead of doublings that copy 500,000 steps. */
void dag_reserve(struct dag *dag, size_t n);
/* step runs after `after`; duplicates stay until dag_dedup_edges. */
void dag_edge(struct dag *dag, size_t step, size_t after);
void dag_edges(struct dag *dag, size_t step, const struct idlist *after);
/* Drops duplicate edges, keeping each step's first-added order. */
void dag_dedup_edges(struct dag *dag);
/* Sorts the step ids into dag->by_id, once every step is added. */
void dag_index_ids(struct dag *dag);

void idlist_push(struct idlist *l, size_t v);
void idlist_free(struct idlist *l);

#endif
