/* Building blocks of a DAG: adding steps and edges, lookup, freeing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag/dag.h"
#include "dag/dag_build.h"
#include "util/xalloc.h"

void
dag_reserve(struct dag *dag, size_t n)
{
	if (n <= dag->cap)
		return;
	dag->cap = n;
	dag->steps = xrealloc(dag->steps, dag->cap * sizeof(*dag->steps));
}

size_t
dag_add(struct dag *dag, enum step_kind kind, const char *id)
{
	struct step *s;

	if (dag->n == dag->cap) {
		dag->cap = dag->cap ? dag->cap * 2 : 32;
		dag->steps = xrealloc(dag->steps, dag->cap * sizeof(*dag->steps));
	}
	s = &dag->steps[dag->n];
	memset(s, 0, sizeof(*s));
	s->id = strpool_copy(&dag->ids, id);
	s->kind = kind;
	s->table = s->index = s->constraint = s->cutover = -1;
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
 * Edges go into one list of (step, after) pairs: one array that grows by
 * doubling instead of a small array per step (at 500,000 steps their
 * headers and spare room were most of the compiler's memory). Duplicates
 * are removed once, by dag_dedup_edges: a check here was O(deps) per edge.
 */
void
dag_edge(struct dag *dag, size_t step, size_t after)
{
	if (dag->npending == dag->cappending) {
		dag->cappending = dag->cappending ? dag->cappending * 2 : 1024;
		dag->pending = xrealloc(dag->pending, dag->cappending * sizeof(*dag->pending));
	}
	dag->pending[dag->npending++] = (struct dag_pending) {(uint32_t) step, (uint32_t) after};
}

/*
 * Files the pending edges under their steps (after the ones already there),
 * in one array, keeping the first occurrence of each dependency in the
 * order added: O(steps + edges), with one stamp per step (seen[d] == i + 1
 * once step i listed d). An edge to a step that does not exist is kept, for
 * dag_check to name.
 */
void
dag_dedup_edges(struct dag *dag)
{
	size_t n = dag->n, total = 0;
	size_t *start = xcalloc(n + 1, sizeof(size_t));
	uint32_t *seen = xcalloc(n + 1, sizeof(uint32_t)), *all, *kept;

	for (size_t i = 0; i < n; i++)
		start[i + 1] = dag->steps[i].ndeps;
	for (size_t e = 0; e < dag->npending; e++)
		start[dag->pending[e].step + 1]++;
	for (size_t i = 0; i < n; i++)
		start[i + 1] += start[i];
	all = xcalloc(start[n] + 1, sizeof(uint32_t));
	for (size_t i = 0; i < n; i++)
		if (dag->steps[i].ndeps > 0)
			memcpy(all + start[i], dag->steps[i].deps, dag->steps[i].ndeps * sizeof(uint32_t));
	for (size_t e = 0; e < dag->npending; e++) {
		struct step *s = &dag->steps[dag->pending[e].step];

		all[start[dag->pending[e].step] + s->ndeps++] = dag->pending[e].after;
	}
	free(dag->pending);
	dag->pending = NULL;
	dag->npending = dag->cappending = 0;
	free(dag->edges);
	for (size_t i = 0; i < n; i++) {
		struct step *s = &dag->steps[i];
		uint32_t *from = all + start[i], nk = 0;

		for (uint32_t d = 0; d < s->ndeps; d++) {
			if (from[d] < n && seen[from[d]] == i + 1)
				continue;
			if (from[d] < n)
				seen[from[d]] = (uint32_t) i + 1;
			all[total + nk++] = from[d];
		}
		start[i] = total;
		s->ndeps = nk;
		total += nk;
	}
	/* the kept edges are a prefix: give back the duplicates' room */
	kept = xrealloc(all, (total + 1) * sizeof(uint32_t));
	for (size_t i = 0; i < n; i++)
		dag->steps[i].deps = kept + start[i];
	dag->edges = kept;
	free(seen);
	free(start);
}

void
dag_edges(struct dag *dag, size_t step, const struct idlist *after)
{
	for (size_t i = 0; i < after->n; i++)
		dag_edge(dag, step, after->items[i]);
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

static int
cmp_by_id(const void *a, const void *b, void *arg)
{
	const struct dag *dag = arg;

	return strcmp(dag->steps[*(const size_t *) a].id, dag->steps[*(const size_t *) b].id);
}

void
dag_index_ids(struct dag *dag)
{
	dag->by_id = xcalloc(dag->n + 1, sizeof(size_t));
	for (size_t i = 0; i < dag->n; i++)
		dag->by_id[i] = i;
	qsort_r(dag->by_id, dag->n, sizeof(size_t), cmp_by_id, dag);
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
	free(dag->pending);
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
