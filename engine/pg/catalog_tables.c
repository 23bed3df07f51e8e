/*
 * Tables of the source catalog: plain and partitioned tables with their
 * partition parent, size, row estimate, persistence, replica identity and
 * what PostgreSQL would accept as one, and then their sizes and columns. One
 * query per kind, whatever the table count (sizes: one per part, see
 * catalog_reads.c).
 * Which tables are kept is decided here, because partitions follow their
 * root table: a leaf is kept when its parent is kept and the leaf itself is
 * not named by exclude_tables (or its schema by exclude_schemas).
 */
#include <stdlib.h>
#include <string.h>

#include "pg/catalog_int.h"
#include "pg/conn.h"
#include "util/xalloc.h"

static const char tables_sql[] =
	"SELECT c.oid, n.nspname, c.relname, c.relkind, c.relispartition, pi.inhparent,"
	" pn.nspname, pc.relname, c.reltuples, c.relreplident,"
	" EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p'),"
	" c.relpersistence = 'u',"
	/* the tests PostgreSQL itself applies (RelationGetIndexList) to a PK or identity index */
	" EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary"
	"  AND i.indisvalid AND i.indimmediate),"
	/*
	 * The identity index and the candidate are read only for the tables
	 * that use them (identity.c): per table, these subqueries were 1.6 s of
	 * the tables' 2.2 s at 100,000 tables.
	 */
	" CASE WHEN c.relreplident = 'i' THEN (SELECT ic.relname FROM pg_index i"
	"  JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid AND i.indisreplident) END,"
	" EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident"
	"  AND i.indisvalid AND i.indimmediate AND i.indpred IS NULL),"
	/* what ALTER TABLE ... REPLICA IDENTITY USING INDEX accepts; fewest columns first */
	" CASE WHEN NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary"
	"  AND i.indisvalid AND i.indimmediate) THEN"
	" (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
	"  WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indisready"
	"  AND i.indislive AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL"
	"  AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey::int2[]) k (attnum)"
	"   LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum"
	"   WHERE a.attnum IS NULL OR NOT a.attnotnull)"
	"  ORDER BY i.indnatts, ic.relname COLLATE \"C\" LIMIT 1) END"
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	" LEFT JOIN pg_inherits pi ON c.relispartition AND pi.inhrelid = c.oid"
	" LEFT JOIN pg_class pc ON pc.oid = pi.inhparent"
	" LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace"
	" WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'"
	" AND " CAT_USER_SCHEMA " AND " CAT_NOT_EXTENSION_MEMBER
	" ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"";

/*
 * Each pg_relation_size opens its relation (the costliest part of reading
 * tables: about 15 us a table), so the sizes are a read of their own that
 * catalog_reads.c can split across sessions. Not pg_table_size: it opens
 * the maps and the TOAST index too, 3x the cost per table.
 */
const char cat_sizes_sql[] =
	"SELECT c.oid, pg_relation_size(c.oid),"
	" CASE WHEN c.reltoastrelid <> 0 THEN pg_relation_size(c.reltoastrelid) ELSE 0 END"
	" FROM pg_class c WHERE c.oid = ANY ($1::oid[])";

const char cat_columns_sql[] =
	"SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnum,"
	" a.attnotnull, a.attgenerated <> '', a.attidentity, a.atttypid, a.atttypmod,"
	/* built in, with binary send and receive, and so its elements: copy.format auto */
	" a.atttypid < 16384 AND ty.typsend::oid <> 0 AND ty.typreceive::oid <> 0"
	" AND (ty.typelem = 0 OR EXISTS (SELECT 1 FROM pg_type e WHERE e.oid = ty.typelem"
	"  AND e.oid < 16384 AND e.typsend::oid <> 0 AND e.typreceive::oid <> 0))"
	" FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid"
	" WHERE a.attrelid = ANY ($1::oid[])"
	" AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum";

enum { UNDECIDED, DECIDING, DECIDED };

/*
 * A table read from the server, before the filters decided on it. Its
 * strings point into the tables' result until keep_tables copies the kept
 * ones into the catalog's pool.
 */
struct candidate {
	struct cat_table t;
	uint32_t parent_oid;
	long parent;                /* index into the candidates, -1 if none */
	int state;
	bool keep;
};

static char *
borrow(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static void
read_candidate(const PGresult *res, int row, struct candidate *c)
{
	const char *tuples = PQgetvalue(res, row, 8);

	memset(c, 0, sizeof(*c));
	c->t.oid = cat_oid(res, row, 0);
	c->t.schema = borrow(res, row, 1);
	c->t.name = borrow(res, row, 2);
	c->t.relkind = PQgetvalue(res, row, 3)[0];
	c->t.is_partition = cat_bool(res, row, 4);
	c->parent_oid = cat_oid(res, row, 5);
	c->t.parent_schema = borrow(res, row, 6);
	c->t.parent_name = borrow(res, row, 7);
	/* reltuples is -1 until the first VACUUM/ANALYZE (PostgreSQL 14+) */
	c->t.est_rows = strtod(tuples, NULL) < 0 ? -1 : (int64_t) strtod(tuples, NULL);
	c->t.replident = PQgetvalue(res, row, 9)[0];
	c->t.has_pk = cat_bool(res, row, 10);
	c->t.unlogged = cat_bool(res, row, 11);
	c->t.pk_usable = cat_bool(res, row, 12);
	c->t.replident_index = borrow(res, row, 13);
	c->t.replident_usable = cat_bool(res, row, 14);
	c->t.identity_candidate = borrow(res, row, 15);
	c->parent = -1;
}

/*
 * Decides one candidate, parents first. Exclude patterns are tried on a
 * partition even when its root is dropped: a pattern naming an existing
 * table is not a typo, so it must not be reported as matching nothing.
 * An include pattern naming a partition counts as matched only when the
 * root is kept anyway; otherwise it had no effect and preflight says so.
 */
static void
decide(struct cat_filter *f, struct candidate *cs, struct candidate *c)
{
	bool named, schema_named;

	if (c->state != UNDECIDED)
		return;                 /* DECIDING: a cycle, impossible in pg_inherits */
	c->state = DECIDING;
	if (c->parent < 0) {
		c->keep = cat_filter_schema(f, c->t.schema) &&
				  cat_filter_relation(f, c->t.schema, c->t.name);
		c->t.exclude_data = c->keep && cat_filter_data_excluded(f, c->t.schema, c->t.name);
	} else {
		struct candidate *p = &cs[c->parent];

		decide(f, cs, p);
		if (p->keep)
			cat_filter_table_included(f, c->t.schema, c->t.name);
		named = cat_filter_table_excluded(f, c->t.schema, c->t.name);
		schema_named = cat_filter_schema_excluded(f, c->t.schema);
		c->keep = p->keep && !named && !schema_named;
		c->t.exclude_data = c->keep &&
			(cat_filter_data_excluded(f, c->t.schema, c->t.name) || p->t.exclude_data);
	}
	c->state = DECIDED;
}

static void
link_parents(struct candidate *cs, size_t n)
{
	uint32_t *oids = xcalloc(n + 1, sizeof(uint32_t));
	struct cat_oidmap m;

	for (size_t i = 0; i < n; i++)
		oids[i] = cs[i].t.oid;
	cat_oidmap_build(&m, oids, n);
	for (size_t i = 0; i < n; i++)
		if (cs[i].t.is_partition && cs[i].parent_oid)
			cs[i].parent = cat_oidmap_find(&m, cs[i].parent_oid);
	cat_oidmap_free(&m);
	free(oids);
}

static char *
intern(struct catalog *cat, const char *s)
{
	return s ? strpool_intern(&cat->strings, s) : NULL;
}

static char *
copy(struct catalog *cat, const char *s)
{
	return s ? strpool_copy(&cat->strings, s) : NULL;
}

/* The candidate's strings, from the result into the pool: schemas repeat, names do not. */
static void
own_strings(struct catalog *cat, struct cat_table *t)
{
	t->schema = intern(cat, t->schema);
	t->name = copy(cat, t->name);
	t->parent_schema = intern(cat, t->parent_schema);
	t->parent_name = intern(cat, t->parent_name);
	t->replident_index = copy(cat, t->replident_index);
	t->identity_candidate = copy(cat, t->identity_candidate);
}

/* Moves the kept candidates into cat->tables and builds the oid map. */
static void
keep_tables(struct cat_load *ctx, struct candidate *cs, size_t n)
{
	struct catalog *cat = ctx->cat;
	size_t nkept = 0;
	uint32_t *oids;

	for (size_t i = 0; i < n; i++)
		nkept += cs[i].keep;
	oids = xcalloc(nkept + 1, sizeof(uint32_t));
	cat->tables = xcalloc(nkept + 1, sizeof(*cat->tables));
	for (size_t i = 0; i < n; i++) {
		if (!cs[i].keep)
			continue;
		oids[cat->ntables] = cs[i].t.oid;
		own_strings(cat, &cs[i].t);
		cat->tables[cat->ntables++] = cs[i].t;
	}
	cat_oidmap_build(&ctx->tables, oids, cat->ntables);
	free(oids);
}

bool
cat_load_tables(struct cat_load *ctx)
{
	PGresult *res = pg_query(ctx->conn, tables_sql, 0, NULL, ctx->err);
	struct candidate *cs;
	size_t n;

	if (!res)
		return false;
	n = (size_t) PQntuples(res);
	cs = xcalloc(n + 1, sizeof(*cs));
	for (size_t i = 0; i < n; i++)
		read_candidate(res, (int) i, &cs[i]);
	link_parents(cs, n);
	for (size_t i = 0; i < n; i++)
		decide(&ctx->filter, cs, &cs[i]);
	keep_tables(ctx, cs, n);
	PQclear(res);
	free(cs);
	return true;
}

/* Column names and types repeat from table to table: interned. */
static void
read_column(struct cat_load *ctx, const PGresult *res, int row, struct cat_column *col)
{
	col->name = cat_intern(ctx, res, row, 1);
	col->type = cat_intern(ctx, res, row, 2);
	col->attnum = (int) cat_int64(res, row, 3);
	col->not_null = cat_bool(res, row, 4);
	col->generated = cat_bool(res, row, 5);
	col->identity = PQgetvalue(res, row, 6)[0];
	col->type_oid = cat_oid(res, row, 7);
	col->typmod = (int) cat_int64(res, row, 8);
	col->binary_io = cat_bool(res, row, 9);
}

void
cat_read_sizes(struct cat_load *ctx, const PGresult *res)
{
	struct catalog *cat = ctx->cat;

	for (int i = 0; i < PQntuples(res); i++) {
		long t = cat_oidmap_find(&ctx->tables, cat_oid(res, i, 0));

		if (t < 0)
			continue;
		cat->tables[t].heap_bytes = cat_int64(res, i, 1);
		cat->tables[t].bytes = cat->tables[t].heap_bytes + cat_int64(res, i, 2);
		cat->total_bytes += cat->tables[t].bytes;
	}
}

/* One part's columns: its tables' arrays, each allocated once (counted first). */
void
cat_read_columns(struct cat_load *ctx, const PGresult *res)
{
	struct catalog *cat = ctx->cat;
	int n = PQntuples(res);

	/* a table is in one part only: its count starts at 0 here */
	for (int i = 0; i < n; i++) {
		long t = cat_oidmap_find(&ctx->tables, cat_oid(res, i, 0));

		if (t >= 0)
			cat->tables[t].ncols++;
	}
	for (int i = 0; i < n; i++) {
		long t = cat_oidmap_find(&ctx->tables, cat_oid(res, i, 0));

		if (t < 0)
			continue;
		if (!cat->tables[t].cols) {
			/* exactly: at 100,000 tables a spare column each is 3 MB */
			cat->tables[t].cols = xcalloc(cat->tables[t].ncols, sizeof(struct cat_column));
			cat->tables[t].ncols = 0;
		}
		read_column(ctx, res, i, &cat->tables[t].cols[cat->tables[t].ncols++]);
	}
}

/* A table without columns (CREATE TABLE t ()) still gets its empty array. */
void
cat_columns_done(struct cat_load *ctx)
{
	for (size_t t = 0; t < ctx->cat->ntables; t++)
		if (!ctx->cat->tables[t].cols)
			ctx->cat->tables[t].cols = xcalloc(1, sizeof(struct cat_column));
}
