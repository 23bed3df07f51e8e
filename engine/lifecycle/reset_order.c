/*
 * Tarjan's strongly connected components over the manifest's dependency
 * edges (from depends on to). Tarjan emits a component only after every
 * component it reaches, i.e. what an object depends on comes out before the
 * object: the reverse of that is the drop order. Iterative, so a long chain
 * of views cannot overflow the stack.
 */
#include <stdlib.h>

#include "lifecycle/reset_int.h"
#include "util/xalloc.h"

struct tarjan {
	size_t n;
	size_t *first, *adj;                /* edges of v: adj[first[v] .. first[v + 1]) */
	size_t *index, *low, *stack, *call, *next;
	unsigned char *on_stack;
	size_t counter, sp, ngroups;
	struct drop_group *groups;          /* in Tarjan's order; reversed at the end */
};

#define UNSEEN ((size_t) -1)

static void
build_adjacency(struct tarjan *t, const struct manifest *m)
{
	size_t *fill = xcalloc(t->n + 1, sizeof(size_t));

	t->first = xcalloc(t->n + 1, sizeof(size_t));
	t->adj = xcalloc(m->nedges ? m->nedges : 1, sizeof(size_t));
	for (size_t e = 0; e < m->nedges; e++)
		t->first[m->edges[e].from + 1]++;
	for (size_t v = 0; v < t->n; v++)
		t->first[v + 1] += t->first[v];
	for (size_t e = 0; e < m->nedges; e++) {
		size_t v = m->edges[e].from;

		t->adj[t->first[v] + fill[v]++] = m->edges[e].to;
	}
	free(fill);
}

static void
pop_group(struct tarjan *t, size_t root)
{
	struct drop_group *g = &t->groups[t->ngroups++];
	size_t top = t->sp;

	while (t->stack[top - 1] != root)
		top--;
	top--;
	g->n = t->sp - top;
	g->members = xcalloc(g->n, sizeof(size_t));
	for (size_t i = 0; i < g->n; i++) {
		g->members[i] = t->stack[top + i];
		t->on_stack[g->members[i]] = 0;
	}
	t->sp = top;
}

static void
visit(struct tarjan *t, size_t root)
{
	size_t depth = 0;

	t->call[depth++] = root;
	t->index[root] = t->low[root] = t->counter++;
	t->stack[t->sp++] = root;
	t->on_stack[root] = 1;
	t->next[root] = t->first[root];
	while (depth > 0) {
		size_t v = t->call[depth - 1];

		if (t->next[v] < t->first[v + 1]) {
			size_t w = t->adj[t->next[v]++];

			if (t->index[w] == UNSEEN) {
				t->index[w] = t->low[w] = t->counter++;
				t->stack[t->sp++] = w;
				t->on_stack[w] = 1;
				t->next[w] = t->first[w];
				t->call[depth++] = w;
			} else if (t->on_stack[w] && t->index[w] < t->low[v])
				t->low[v] = t->index[w];
			continue;
		}
		if (t->low[v] == t->index[v])
			pop_group(t, v);
		if (--depth > 0) {
			size_t parent = t->call[depth - 1];

			if (t->low[v] < t->low[parent])
				t->low[parent] = t->low[v];
		}
	}
}

size_t
reset_order(const struct manifest *m, struct drop_group **groups)
{
	struct tarjan t = {.n = m->nobjects};
	size_t cap = t.n ? t.n : 1;

	build_adjacency(&t, m);
	t.index = xcalloc(cap, sizeof(size_t));
	t.low = xcalloc(cap, sizeof(size_t));
	t.stack = xcalloc(cap, sizeof(size_t));
	t.call = xcalloc(cap, sizeof(size_t));
	t.next = xcalloc(cap, sizeof(size_t));
	t.on_stack = xcalloc(cap, 1);
	t.groups = xcalloc(cap, sizeof(*t.groups));
	for (size_t v = 0; v < t.n; v++)
		t.index[v] = UNSEEN;
	for (size_t v = 0; v < t.n; v++)
		if (t.index[v] == UNSEEN)
			visit(&t, v);
	for (size_t i = 0; i < t.ngroups / 2; i++) {
		struct drop_group g = t.groups[i];

		t.groups[i] = t.groups[t.ngroups - 1 - i];
		t.groups[t.ngroups - 1 - i] = g;
	}
	free(t.first);
	free(t.adj);
	free(t.index);
	free(t.low);
	free(t.stack);
	free(t.call);
	free(t.next);
	free(t.on_stack);
	*groups = t.groups;
	return t.ngroups;
}

void
drop_groups_free(struct drop_group *groups, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(groups[i].members);
	free(groups);
}
