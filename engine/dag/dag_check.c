/*
 * Proving a compiled DAG sound: unique ids, edges to existing steps, no
 * cycle. A cycle is reported by naming its steps in order, the way
 * pg_dump_sort.c names a dependency loop, so the bug can be found.
 */
#include <stdlib.h>
#include <string.h>

#include "dag/dag.h"
#include "util/buf.h"
#include "util/xalloc.h"

static int
cmp_ids(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static bool
check_unique_ids(const struct dag *dag, struct pgs_error *err)
{
	const char **ids = xcalloc(dag->n, sizeof(char *));
	bool ok = true;

	for (size_t i = 0; i < dag->n; i++)
		ids[i] = dag->steps[i].id;
	qsort(ids, dag->n, sizeof(char *), cmp_ids);
	for (size_t i = 1; i < dag->n && ok; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			ok = pgs_fail(err, "two steps have the id \"%s\"", ids[i]);
	free(ids);
	return ok;
}

static bool
check_edges(const struct dag *dag, struct pgs_error *err)
{
	for (size_t i = 0; i < dag->n; i++)
		for (size_t d = 0; d < dag->steps[i].ndeps; d++) {
			size_t to = step_deps(dag, &dag->steps[i])[d];

			if (to >= dag->n)
				return pgs_fail(err, "step \"%s\" depends on a step that does not exist (#%zu)",
								dag->steps[i].id, to);
			if (to == i)
				return pgs_fail(err, "step \"%s\" depends on itself", dag->steps[i].id);
		}
	return true;
}

enum { WHITE, GREY, BLACK };

/* Names the loop that starts at `from` on the DFS path. */
static bool
report_cycle(const struct dag *dag, const size_t *path, size_t depth, size_t from,
			 struct pgs_error *err)
{
	struct buf b;
	size_t start = 0;

	while (start < depth && path[start] != from)
		start++;
	buf_init(&b);
	for (size_t i = start; i < depth; i++)
		buf_printf(&b, "%s -> ", dag->steps[path[i]].id);
	buf_puts(&b, dag->steps[from].id);
	pgs_fail(err, "dependency cycle (each step runs after the next): %s", b.data);
	buf_free(&b);
	return false;
}

/* Iterative DFS over "runs after" edges; a grey step seen again closes a cycle. */
static bool
check_acyclic(const struct dag *dag, struct pgs_error *err)
{
	unsigned char *color = xcalloc(dag->n, 1);
	size_t *path = xcalloc(dag->n, sizeof(size_t));
	size_t *next = xcalloc(dag->n, sizeof(size_t));
	bool ok = true;

	for (size_t root = 0; root < dag->n && ok; root++) {
		size_t depth = 0;

		if (color[root] != WHITE)
			continue;
		path[depth++] = root;
		color[root] = GREY;
		next[root] = 0;
		while (depth > 0 && ok) {
			size_t v = path[depth - 1];

			if (next[v] == dag->steps[v].ndeps) {
				color[v] = BLACK;
				depth--;
				continue;
			}
			size_t w = step_deps(dag, &dag->steps[v])[next[v]++];

			if (color[w] == GREY)
				ok = report_cycle(dag, path, depth, w, err);
			else if (color[w] == WHITE) {
				color[w] = GREY;
				next[w] = 0;
				path[depth++] = w;
			}
		}
	}
	free(color);
	free(path);
	free(next);
	return ok;
}

bool
dag_check(const struct dag *dag, struct pgs_error *err)
{
	return check_unique_ids(dag, err) && check_edges(dag, err) && check_acyclic(dag, err);
}
