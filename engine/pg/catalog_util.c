/*
 * Small helpers the catalog readers share: typed reads of one result field
 * and a sorted oid -> position map, so that attaching columns, indexes and
 * constraints to their table costs a binary search, not a scan per row.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/catalog_int.h"
#include "util/xalloc.h"

char *
cat_str(struct cat_load *ctx, const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL
		: strpool_copy(&ctx->cat->strings, PQgetvalue(res, row, col));
}

char *
cat_intern(struct cat_load *ctx, const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL
		: strpool_intern(&ctx->cat->strings, PQgetvalue(res, row, col));
}

bool
cat_bool(const PGresult *res, int row, int col)
{
	return PQgetvalue(res, row, col)[0] == 't';
}

int64_t
cat_int64(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

uint32_t
cat_oid(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return (uint32_t) strtoul(PQgetvalue(res, row, col), NULL, 10);
}

/* Duplicates are removed once, when the catalog is complete (catalog.c's finish_schemas). */
void
cat_add_schema(struct catalog *cat, const char *schema)
{
	if (cat->nschemas == cat->capschemas) {
		cat->capschemas = cat->capschemas ? cat->capschemas * 2 : 16;
		cat->schemas = xrealloc(cat->schemas, cat->capschemas * sizeof(char *));
	}
	cat->schemas[cat->nschemas++] = strpool_intern(&cat->strings, schema);
}

static int
cmp_oidpos(const void *a, const void *b)
{
	uint32_t x = ((const struct cat_oidpos *) a)->oid, y = ((const struct cat_oidpos *) b)->oid;

	return x < y ? -1 : x > y;
}

void
cat_oidmap_build(struct cat_oidmap *m, const uint32_t *oids, size_t n)
{
	m->items = xcalloc(n + 1, sizeof(*m->items));
	m->n = n;
	for (size_t i = 0; i < n; i++) {
		m->items[i].oid = oids[i];
		m->items[i].pos = i;
	}
	qsort(m->items, n, sizeof(*m->items), cmp_oidpos);
}

void
cat_oidmap_free(struct cat_oidmap *m)
{
	free(m->items);
	m->items = NULL;
	m->n = 0;
}

long
cat_oidmap_find(const struct cat_oidmap *m, uint32_t oid)
{
	struct cat_oidpos key = {oid, 0};
	const struct cat_oidpos *hit;

	if (m->n == 0)
		return -1;
	hit = bsearch(&key, m->items, m->n, sizeof(*m->items), cmp_oidpos);
	return hit ? (long) hit->pos : -1;
}
