/* Internal to engine/dag: adding steps and edges while compiling. */
#ifndef PGSHIFT_DAG_DAG_BUILD_H
#define PGSHIFT_DAG_DAG_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "dag/dag.h"

/* A growable list of step indexes (uint32, as the steps' deps). */
struct idlist {
	uint32_t *items;
	uint32_t n, cap;
};

#define STEPLIST_END UINT32_MAX

struct steplist_cell {
	uint32_t step, next;
};

/*
 * Many short lists of step indexes (one a table: its copies, or its
 * indexes...) as chains of cells in one array, each first-added first: an
 * array per list cost more in headers and spare room than its items.
 */
struct steplists {
	uint32_t *head, *tail;      /* per list: its first and last cell, or STEPLIST_END */
	struct steplist_cell *cells;
	size_t ncells, cap;
};

/* Appends a step (its id copied into dag->ids); returns its index. */
size_t dag_add(struct dag *dag, enum step_kind kind, const char *id);
size_t dag_addf(struct dag *dag, enum step_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Room for n steps in all: one allocation instead of doublings that copy 500,000 steps. */
void dag_reserve(struct dag *dag, size_t n);
/*
 * The step added last runs after `after` (an edge that step has already is
 * not filed twice). A step's edges are added before the next step is, so
 * they go straight into dag->edges, in the order added.
 */
void dag_edge(struct dag *dag, size_t after);
void dag_edges(struct dag *dag, const struct idlist *after);
void dag_edges_list(struct dag *dag, const struct steplists *l, size_t list);
/* Once every step and edge is added: gives back the room the compile needed. */
void dag_edges_done(struct dag *dag);
/* Sorts the step ids into dag->by_id, once every step is added. */
void dag_index_ids(struct dag *dag);

void idlist_push(struct idlist *l, size_t v);
void idlist_free(struct idlist *l);

void steplists_init(struct steplists *l, size_t nlists);
void steplists_push(struct steplists *l, size_t list, size_t step);
bool steplists_empty(const struct steplists *l, size_t list);
void steplists_free(struct steplists *l);

#endif
