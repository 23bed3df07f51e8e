/*
 * Indexes and constraints of the kept tables, each kind in one query bound
 * to the kept tables' oids. Definitions come from pg_get_indexdef and
 * pg_get_constraintdef (with search_path = pg_catalog, so every name is
 * schema-qualified), because the index and constraint steps replay them on
 * the target as the source wrote them.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/catalog_int.h"
#include "pg/conn.h"
#include "util/xalloc.h"

/*
 * Invalid plain indexes are left-overs of a failed CREATE INDEX CONCURRENTLY
 * that the source does not use; a partitioned index is invalid only until
 * every partition has its index attached, so it is kept.
 */
static const char indexes_sql[] =
	"SELECT i.indexrelid, i.indrelid, n.nspname, c.relname, pg_get_indexdef(i.indexrelid),"
	" i.indisprimary, i.indisunique,"
	" EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid"
	"  AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')),"
	" (SELECT h.inhparent FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)"
	" FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
	" JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE i.indrelid = ANY ($1::oid[]) AND (i.indisvalid OR c.relkind = 'I')"
	" AND " CAT_NOT_EXTENSION_MEMBER
	" ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"";

/* Rows that clone an FK per referenced partition share its name: ordered by target too. */
static const char constraints_sql[] =
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
read_index(const PGresult *res, int row, size_t table, struct cat_index *ix)
{
	ix->oid = cat_oid(res, row, 0);
	ix->table = table;
	ix->schema = cat_str(res, row, 2);
	ix->name = cat_str(res, row, 3);
	ix->def = cat_str(res, row, 4);
	ix->is_primary = cat_bool(res, row, 5);
	ix->is_unique = cat_bool(res, row, 6);
	ix->backs_constraint = cat_bool(res, row, 7);
	ix->parent = -1;
}

/* Resolves each index's parent once all indexes (and so the oid map) are known. */
static void
link_index_parents(struct cat_load *ctx, const PGresult *res, const int *rows)
{
	struct catalog *cat = ctx->cat;
	uint32_t *oids = xcalloc(cat->nindexes + 1, sizeof(uint32_t));

	for (size_t i = 0; i < cat->nindexes; i++)
		oids[i] = cat->indexes[i].oid;
	cat_oidmap_build(&ctx->indexes, oids, cat->nindexes);
	free(oids);
	for (size_t i = 0; i < cat->nindexes; i++) {
		uint32_t parent = cat_oid(res, rows[i], 8);

		if (parent)
			cat->indexes[i].parent = cat_oidmap_find(&ctx->indexes, parent);
	}
}

bool
cat_load_indexes(struct cat_load *ctx)
{
	const char *params[] = {ctx->table_oids};
	PGresult *res = pg_query(ctx->conn, indexes_sql, 1, params, ctx->err);
	struct catalog *cat = ctx->cat;
	int *rows;
	int n;

	if (!res)
		return false;
	n = PQntuples(res);
	cat->indexes = xcalloc((size_t) n + 1, sizeof(*cat->indexes));
	rows = xcalloc((size_t) n + 1, sizeof(int));
	for (int i = 0; i < n; i++) {
		long t = cat_oidmap_find(&ctx->tables, cat_oid(res, i, 1));

		if (t < 0)
			continue;
		rows[cat->nindexes] = i;
		read_index(res, i, (size_t) t, &cat->indexes[cat->nindexes++]);
	}
	link_index_parents(ctx, res, rows);
	free(rows);
	PQclear(res);
	return true;
}

static void
read_constraint(struct cat_load *ctx, const PGresult *res, int row, size_t table,
				struct cat_constraint *k)
{
	k->name = cat_str(res, row, 1);
	k->table = table;
	k->type = PQgetvalue(res, row, 2)[0];
	k->def = cat_str(res, row, 3);
	k->validated = cat_bool(res, row, 4);
	k->index = -1;
	k->ref_table = -1;
	if (k->type == 'p' || k->type == 'u' || k->type == 'x')
		k->index = cat_oidmap_find(&ctx->indexes, cat_oid(res, row, 5));
	if (k->type == 'f') {
		k->ref_table = cat_oidmap_find(&ctx->tables, cat_oid(res, row, 6));
		k->ref_schema = cat_str(res, row, 7);
		k->ref_name = cat_str(res, row, 8);
	}
	k->inherited = cat_bool(res, row, 9);
}

bool
cat_load_constraints(struct cat_load *ctx)
{
	const char *params[] = {ctx->table_oids};
	PGresult *res = pg_query(ctx->conn, constraints_sql, 1, params, ctx->err);
	struct catalog *cat = ctx->cat;
	int n;

	if (!res)
		return false;
	n = PQntuples(res);
	cat->constraints = xcalloc((size_t) n + 1, sizeof(*cat->constraints));
	for (int i = 0; i < n; i++) {
		long t = cat_oidmap_find(&ctx->tables, cat_oid(res, i, 0));

		if (t >= 0)
			read_constraint(ctx, res, i, (size_t) t, &cat->constraints[cat->nconstraints++]);
	}
	PQclear(res);
	return true;
}
