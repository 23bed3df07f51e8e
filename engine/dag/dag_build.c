/* Building blocks of a DAG: adding steps and edges, lookup, freeing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag/dag.h"
#include "dag/dag_build.h"
#include "util/xalloc.h"

/* The stamps cover every step there is room for, so an edge to one is filed once. */
static void
grow_steps(struct dag *dag, size_t cap)
{
	dag->steps = xrealloc(dag->steps, cap * sizeof(*dag->steps));
	dag->seen = xrealloc(dag->seen, cap * sizeof(*dag->seen));
	memset(dag->seen + dag->cap, 0, (cap - dag->cap) * sizeof(*dag->seen));
	dag->cap = cap;
}

void
dag_reserve(struct dag *dag, size_t n)
{
	if (n > dag->cap)
		grow_steps(dag, n);
}

size_t
dag_add(struct dag *dag, enum step_kind kind, const char *id)
{
	struct step *s;

	if (dag->n == dag->cap)
		grow_steps(dag, dag->cap ? dag->cap * 2 : 32);
	s = &dag->steps[dag->n];
	memset(s, 0, sizeof(*s));
	s->id = strpool_copy(&dag->ids, id);
	s->kind = kind;
	s->table = s->object = -1;
	s->dep_at = (uint32_t) dag->nedges;
	return dag->n++;
}

size_t
dag_addf(struct dag *dag, enum step_kind kind, const char *fmt, ...)
{
	char small[256], *id = small;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n >= (int) sizeof(small)) {
		id = xmalloc((size_t) n + 1);
		va_start(ap, fmt);
		vsnprintf(id, (size_t) n + 1, fmt, ap);
		va_end(ap);
	}
	n = (int) dag_add(dag, kind, id);
	if (id != small)
		free(id);
	return (size_t) n;
}

/*
 * Straight into the one array of all edges (no list per step, no list of
 * pairs to sort out later: at 500,000 steps those were most of the
 * compiler's memory). A duplicate is caught by its stamp in O(1); an edge
 * to a step that does not exist is kept, for dag_check to name.
 */
void
dag_edge(struct dag *dag, size_t after)
{
	struct step *s = &dag->steps[dag->n - 1];
	uint32_t stamp = (uint32_t) dag->n;

	if (after < dag->cap) {
		if (dag->seen[after] == stamp)
			return;
		dag->seen[after] = stamp;
	}
	if (dag->nedges == dag->capedges) {
		dag->capedges = dag->capedges ? dag->capedges * 2 : 1024;
		dag->edges = xrealloc(dag->edges, dag->capedges * sizeof(*dag->edges));
	}
	dag->edges[dag->nedges++] = (uint32_t) after;
	s->ndeps++;
}

void
dag_edges(struct dag *dag, const struct idlist *after)
{
	for (size_t i = 0; i < after->n; i++)
		dag_edge(dag, after->items[i]);
}

void
dag_edges_list(struct dag *dag, const struct steplists *l, size_t list)
{
	for (uint32_t c = l->head[list]; c != STEPLIST_END; c = l->cells[c].next)
		dag_edge(dag, l->cells[c].step);
}

void
dag_edges_done(struct dag *dag)
{
	free(dag->seen);
	dag->seen = NULL;
	dag->edges = xrealloc(dag->edges, (dag->nedges + 1) * sizeof(*dag->edges));
	dag->capedges = dag->nedges + 1;
}

void
idlist_push(struct idlist *l, size_t v)
{
	if (l->n == l->cap) {
		/* most lists hold one or two steps (a table's copy, its indexes) */
		l->cap = l->cap ? l->cap * 2 : 2;
		l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	l->items[l->n++] = (uint32_t) v;
}

void
idlist_free(struct idlist *l)
{
	free(l->items);
	l->items = NULL;
	l->n = l->cap = 0;
}

void
steplists_init(struct steplists *l, size_t nlists)
{
	memset(l, 0, sizeof(*l));
	l->head = xmalloc((nlists + 1) * sizeof(uint32_t));
	l->tail = xmalloc((nlists + 1) * sizeof(uint32_t));
	memset(l->head, 0xff, (nlists + 1) * sizeof(uint32_t));
	memset(l->tail, 0xff, (nlists + 1) * sizeof(uint32_t));
}

void
steplists_push(struct steplists *l, size_t list, size_t step)
{
	uint32_t c = (uint32_t) l->ncells;

	if (l->ncells == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->cells = xrealloc(l->cells, l->cap * sizeof(*l->cells));
	}
	l->cells[l->ncells++] = (struct steplist_cell) {(uint32_t) step, STEPLIST_END};
	if (l->tail[list] == STEPLIST_END)
		l->head[list] = c;
	else
		l->cells[l->tail[list]].next = c;
	l->tail[list] = c;
}

bool
steplists_empty(const struct steplists *l, size_t list)
{
	return l->head[list] == STEPLIST_END;
}

void
steplists_free(struct steplists *l)
{
	free(l->head);
	free(l->tail);
	free(l->cells);
	memset(l, 0, sizeof(*l));
}

static int
cmp_by_id(const void *a, const void *b, void *arg)
{
	const struct dag *dag = arg;

	return strcmp(dag->steps[*(const uint32_t *) a].id, dag->steps[*(const uint32_t *) b].id);
}

void
dag_index_ids(struct dag *dag)
{
	dag->by_id = xcalloc(dag->n + 1, sizeof(uint32_t));
	for (size_t i = 0; i < dag->n; i++)
		dag->by_id[i] = (uint32_t) i;
	qsort_r(dag->by_id, dag->n, sizeof(uint32_t), cmp_by_id, dag);
}

long
dag_find(const struct dag *dag, const char *id)
{
	size_t lo = 0, hi = dag->by_id ? dag->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(dag->steps[dag->by_id[mid]].id, id);

		if (c == 0)
			return (long) dag->by_id[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void
dag_free(struct dag *dag)
{
	free(dag->steps);
	free(dag->edges);
	free(dag->seen);
	free(dag->by_id);
	strpool_free(&dag->ids);
	memset(dag, 0, sizeof(*dag));
}

static const char *const kind_names[] = {
	[STEP_PREFLIGHT] = "preflight", [STEP_SNAPSHOT] = "snapshot",
	[STEP_SCHEMA_PRE] = "schema.pre", [STEP_COPY] = "copy", [STEP_INDEX] = "index",
	[STEP_CONSTRAINT] = "constraint", [STEP_SCHEMA_POST] = "schema.post",
	[STEP_BLOBS] = "blobs", [STEP_VACUUM] = "vacuum", [STEP_CDC_STREAM] = "cdc.stream",
	[STEP_CDC_CATCHUP] = "cdc.catchup", [STEP_CUTOVER_GATE] = "cutover.gate",
	[STEP_CUTOVER] = "cutover", [STEP_CLEANUP] = "cleanup",
	[STEP_ROLLBACK_SLOT] = "rollback.slot",
};

const char *
step_kind_name(enum step_kind kind)
{
	return kind_names[kind];
}

const char *
step_stage(const struct step *step)
{
	switch (step->kind) {
	case STEP_SCHEMA_PRE:
	case STEP_SCHEMA_POST:
		return "schema";
	case STEP_BLOBS:
		return "copy";
	case STEP_CDC_STREAM:
	case STEP_CDC_CATCHUP:
		return "cdc";
	case STEP_CUTOVER_GATE:
	case STEP_CUTOVER:
	case STEP_ROLLBACK_SLOT:
		/* part of the cutover; events rollback.* are `pgshift rollback`'s */
		return "cutover";
	default:
		return kind_names[step->kind];
	}
}
