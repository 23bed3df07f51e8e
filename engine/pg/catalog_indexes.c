/*
 * Indexes and constraints of the kept tables, each kind in one query bound
 * to the kept tables' oids. Definitions come from pg_get_indexdef and
 * pg_get_constraintdef (with search_path = pg_catalog, so every name is
 * schema-qualified), because the index and constraint steps replay them on
 * the target as the source wrote them. pg_get_indexdef costs about 25 us an
 * index (most of plan's server time at 10,000 tables), so it runs only when
 * the caller asks for definitions ($2): plan shows and fingerprints indexes
 * by their shape, the catalog columns a definition is made of, which cost
 * next to nothing. The index read is split in parts (catalog_reads.c) that
 * may run on several sessions; the parts are put back in name order here.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/catalog_int.h"
#include "util/xalloc.h"

/*
 * Invalid plain indexes are left-overs of a failed CREATE INDEX CONCURRENTLY
 * that the source does not use; a partitioned index is invalid only until
 * every partition has its index attached, so it is kept.
 */
/*
 * Everything pg_get_indexdef prints but the names, as a JSON array (so no
 * field can run into the next): access method, key column count (the rest
 * are INCLUDE columns), opclasses, collations, per-column options (DESC,
 * NULLS FIRST), storage parameters, expressions and predicate. Node trees
 * keep the offset of each expression in the CREATE INDEX text it came from:
 * taken out, or the same index created with other spacing would differ.
 * NULLS NOT DISTINCT exists from PostgreSQL 15 on.
 */
#define INDEX_SHAPE(nulls_not_distinct) \
	" json_build_array(am.amname, i.indnkeyatts, i.indclass::text, i.indcollation::text," \
	" i.indoption::text, " nulls_not_distinct ", c.reloptions," \
	" regexp_replace(i.indexprs::text, ' :location -?[0-9]+', '', 'g')," \
	" regexp_replace(i.indpred::text, ' :location -?[0-9]+', '', 'g'))::text"

/*
 * Invalid plain indexes are left-overs of a failed CREATE INDEX CONCURRENTLY
 * that the source does not use; a partitioned index is invalid only until
 * every partition has its index attached, so it is kept.
 */
#define INDEXES_SQL(nulls_not_distinct) \
	"SELECT i.indexrelid, i.indrelid, n.nspname, c.relname," \
	" CASE WHEN $2 THEN pg_get_indexdef(i.indexrelid) END," \
	" i.indisprimary, i.indisunique," \
	" EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid" \
	"  AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))," \
	" (SELECT h.inhparent FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)," \
	" i.indkey::text," INDEX_SHAPE(nulls_not_distinct) \
	" FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid" \
	" JOIN pg_namespace n ON n.oid = c.relnamespace" \
	" JOIN pg_am am ON am.oid = c.relam" \
	" WHERE i.indrelid = ANY ($1::oid[]) AND (i.indisvalid OR c.relkind = 'I')" \
	" AND " CAT_NOT_EXTENSION_MEMBER \
	" ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\""

const char cat_indexes_sql[] = INDEXES_SQL("i.indnullsnotdistinct");
const char cat_indexes_sql_before15[] = INDEXES_SQL("false");

/* Rows that clone an FK per referenced partition share its name: ordered by target too. */
const char cat_constraints_sql[] =
	"SELECT k.conrelid, k.conname, k.contype, pg_get_constraintdef(k.oid), k.convalidated,"
	" k.conindid, k.confrelid, rn.nspname, rc.relname, k.conparentid <> 0 OR NOT k.conislocal"
	" FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
	" JOIN pg_namespace n ON n.oid = c.relnamespace"
	" LEFT JOIN pg_class rc ON rc.oid = k.confrelid"
	" LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace"
	" WHERE k.conrelid = ANY ($1::oid[]) AND k.contype IN ('p', 'u', 'f', 'c', 'x')"
	" ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\", k.conname COLLATE \"C\","
	" rn.nspname COLLATE \"C\", rc.relname COLLATE \"C\"";

static void
read_index(struct cat_load *ctx, const PGresult *res, int row, size_t table, struct cat_index *ix)
{
	ix->oid = cat_oid(res, row, 0);
	ix->table = (uint32_t) table;
	ix->schema = cat_intern(ctx, res, row, 2);
	ix->name = cat_str(ctx, res, row, 3);
	ix->def = cat_str(ctx, res, row, 4);
	ix->is_primary = cat_bool(res, row, 5);
	ix->is_unique = cat_bool(res, row, 6);
	ix->backs_constraint = cat_bool(res, row, 7);
	ix->parent_oid = cat_oid(res, row, 8);
	ix->parent = -1;
	ix->keys = cat_intern(ctx, res, row, 9);
	ix->shape = cat_intern(ctx, res, row, 10);
}

/* One part's indexes, appended; cat_link_indexes orders them once all are in. */
void
cat_read_indexes(struct cat_load *ctx, const PGresult *res)
{
	struct catalog *cat = ctx->cat;
	int n = PQntuples(res);

	cat->indexes = xrealloc(cat->indexes, (cat->nindexes + (size_t) n + 1) * sizeof(*cat->indexes));
	for (int i = 0; i < n; i++) {
		long t = cat_oidmap_find(&ctx->tables, cat_oid(res, i, 1));

		if (t >= 0)
			read_index(ctx, res, i, (size_t) t, &cat->indexes[cat->nindexes++]);
	}
}

/* The query's own order: schema, then name, both as bytes (COLLATE "C"). */
static int
cmp_index(const void *a, const void *b)
{
	const struct cat_index *x = a, *y = b;
	int c = strcmp(x->schema, y->schema);

	return c ? c : strcmp(x->name, y->name);
}

void
cat_link_indexes(struct cat_load *ctx)
{
	struct catalog *cat = ctx->cat;
	uint32_t *oids = xcalloc(cat->nindexes + 1, sizeof(uint32_t));

	if (cat->nindexes > 1)
		qsort(cat->indexes, cat->nindexes, sizeof(*cat->indexes), cmp_index);
	for (size_t i = 0; i < cat->nindexes; i++)
		oids[i] = cat->indexes[i].oid;
	cat_oidmap_build(&ctx->indexes, oids, cat->nindexes);
	free(oids);
	for (size_t i = 0; i < cat->nindexes; i++)
		if (cat->indexes[i].parent_oid)
			cat->indexes[i].parent =
				(int32_t) cat_oidmap_find(&ctx->indexes, cat->indexes[i].parent_oid);
}

static void
read_constraint(struct cat_load *ctx, const PGresult *res, int row, size_t table,
				struct cat_constraint *k)
{
	memset(k, 0, sizeof(*k));
	k->name = cat_str(ctx, res, row, 1);
	k->table = (uint32_t) table;
	k->type = PQgetvalue(res, row, 2)[0];
	k->def = cat_intern(ctx, res, row, 3);
	k->validated = cat_bool(res, row, 4);
	k->index = -1;
	k->ref_table = -1;
	if (k->type == 'p' || k->type == 'u' || k->type == 'x')
		k->index = (int32_t) cat_oidmap_find(&ctx->indexes, cat_oid(res, row, 5));
	if (k->type == 'f') {
		k->ref_table = (int32_t) cat_oidmap_find(&ctx->tables, cat_oid(res, row, 6));
		k->ref_schema = cat_intern(ctx, res, row, 7);
		k->ref_name = cat_str(ctx, res, row, 8);
	}
	k->inherited = cat_bool(res, row, 9);
}

/* One part's constraints, appended; cat_sort_constraints orders them once all are in. */
void
cat_read_constraints(struct cat_load *ctx, const PGresult *res)
{
	struct catalog *cat = ctx->cat;
	int n = PQntuples(res);

	cat->constraints = xrealloc(cat->constraints,
								(cat->nconstraints + (size_t) n + 1) * sizeof(*cat->constraints));
	for (int i = 0; i < n; i++) {
		long t = cat_oidmap_find(&ctx->tables, cat_oid(res, i, 0));

		if (t >= 0)
			read_constraint(ctx, res, i, (size_t) t, &cat->constraints[cat->nconstraints++]);
	}
}

/* NULL after every string, as ORDER BY ... ASC puts it */
static int
cmp_nullable(const char *a, const char *b)
{
	if (!a || !b)
		return (a == NULL) - (b == NULL);
	return strcmp(a, b);
}

/*
 * The query's own order: the table (cat->tables is by schema and name, as
 * bytes), the name, the referenced schema and table; the definition only so
 * that no two rows compare equal.
 */
static int
cmp_constraint(const void *a, const void *b)
{
	const struct cat_constraint *x = a, *y = b;
	int c;

	if (x->table != y->table)
		return x->table < y->table ? -1 : 1;
	if ((c = strcmp(x->name, y->name)) || (c = cmp_nullable(x->ref_schema, y->ref_schema)) ||
		(c = cmp_nullable(x->ref_name, y->ref_name)))
		return c;
	return cmp_nullable(x->def, y->def);
}

void
cat_sort_constraints(struct cat_load *ctx)
{
	struct catalog *cat = ctx->cat;

	if (cat->nconstraints > 1)
		qsort(cat->constraints, cat->nconstraints, sizeof(*cat->constraints), cmp_constraint);
}
