/*
 * The order reset drops in (engine/lifecycle/reset_order.c): dependents
 * before what they depend on, a cycle as one group, every object once.
 * Each case is a graph as "from>to" edges over n objects and the drop
 * order expected, groups in brackets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle/reset_int.h"
#include "tap.h"

struct order_case {
	const char *name;
	size_t n;
	const char *edges;                  /* "0>1 1>2": 0 depends on 1, 1 on 2 */
	const char *want;                   /* groups in drop order, members ascending */
};

static const struct order_case cases[] = {
	{"no dependency: each object alone", 3, "", NULL},
	{"a chain: view on view on table", 3, "0>1 1>2", "[0][1][2]"},
	{"a chain given backwards", 3, "2>1 1>0", "[2][1][0]"},
	{"two tables in an FK cycle are one group, before the type they use", 3,
	 "0>1 1>0 0>2 1>2", "[0,1][2]"},
	{"a diamond: the shared dependency last", 4, "0>1 0>2 1>3 2>3", NULL},
	{"a self-contained cycle of three", 3, "0>1 1>2 2>0", "[0,1,2]"},
};

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *) a, y = *(const size_t *) b;

	return x < y ? -1 : x > y;
}

static void
parse_edges(const char *text, struct manifest *m)
{
	const char *p = text;
	size_t from, to;
	int used;

	m->edges = calloc(16, sizeof(*m->edges));
	while (sscanf(p, " %zu>%zu%n", &from, &to, &used) == 2) {
		m->edges[m->nedges].from = from;
		m->edges[m->nedges++].to = to;
		p += used;
	}
}

static void
render(const struct drop_group *g, size_t n, char *out, size_t len)
{
	size_t pos = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		qsort(g[i].members, g[i].n, sizeof(size_t), cmp_size);
		pos += (size_t) snprintf(out + pos, len - pos, "[");
		for (size_t k = 0; k < g[i].n; k++)
			pos += (size_t) snprintf(out + pos, len - pos, "%s%zu", k ? "," : "", g[i].members[k]);
		pos += (size_t) snprintf(out + pos, len - pos, "]");
	}
}

/* Every edge between two groups goes forward in the order: the dependent is dropped first. */
static int
respects_edges(const struct manifest *m, const struct drop_group *g, size_t n)
{
	size_t at[16];

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < g[i].n; k++)
			at[g[i].members[k]] = i;
	for (size_t e = 0; e < m->nedges; e++)
		if (at[m->edges[e].from] > at[m->edges[e].to])
			return 0;
	return 1;
}

int
main(void)
{
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct order_case *tc = &cases[c];
		struct manifest m = {.nobjects = tc->n};
		struct drop_group *groups;
		size_t ngroups, members = 0;
		char got[128], label[160];

		parse_edges(tc->edges, &m);
		ngroups = reset_order(&m, &groups);
		for (size_t i = 0; i < ngroups; i++)
			members += groups[i].n;
		snprintf(label, sizeof(label), "%s: every object once", tc->name);
		is_int(members, tc->n, label);
		snprintf(label, sizeof(label), "%s: dependents first", tc->name);
		ok(respects_edges(&m, groups, ngroups), label);
		if (tc->want) {
			render(groups, ngroups, got, sizeof(got));
			snprintf(label, sizeof(label), "%s: %s", tc->name, tc->want);
			is_str(got, tc->want, label);
		}
		drop_groups_free(groups, ngroups);
		free(m.edges);
	}
	return done_testing();
}
