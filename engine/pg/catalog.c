/*
 * catalog_load: reads the source catalog kind by kind (catalog_tables.c,
 * catalog_indexes.c, catalog_objects.c) inside one REPEATABLE READ READ ONLY
 * transaction, so tables, indexes and constraints all describe the same
 * moment even while the application runs DDL. About ten queries in all,
 * however many tables the source has. With many tables, the reads after the
 * tables' run on several sessions (catalog_reads.c) that import the first
 * session's exported snapshot, so they still see that one moment.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/catalog.h"
#include "pg/catalog_int.h"
#include "pg/conn.h"
#include "util/log.h"
#include "util/xalloc.h"

static const char server_sql[] =
	"SELECT current_setting('server_version_num'), current_setting('server_version'),"
	" current_database(), EXISTS (SELECT 1 FROM pg_largeobject_metadata)";

/* Extensions' own schemas are created by CREATE EXTENSION, never by pgshift. */
static const char schemas_sql[] =
	"SELECT n.nspname FROM pg_namespace n WHERE " CAT_USER_SCHEMA
	" AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_namespace'::regclass"
	"  AND e.objid = n.oid AND e.deptype = 'e')"
	" ORDER BY n.nspname COLLATE \"C\"";

static bool
load_server(struct cat_load *ctx)
{
	PGresult *res = pg_query(ctx->conn, server_sql, 0, NULL, ctx->err);

	if (!res)
		return false;
	ctx->cat->server_version_num = (int) cat_int64(res, 0, 0);
	ctx->cat->server_version = cat_str(ctx, res, 0, 1);
	ctx->cat->database = cat_str(ctx, res, 0, 2);
	ctx->cat->has_large_objects = cat_bool(res, 0, 3);
	PQclear(res);
	return true;
}

/*
 * Every schema is tried against the schema patterns (so their hits are
 * known). With include_tables set, only schemas holding a kept object are
 * listed (finish_schemas), as pg_dump --table creates no other schema.
 */
static bool
load_schemas(struct cat_load *ctx, bool list_all)
{
	PGresult *res = pg_query(ctx->conn, schemas_sql, 0, NULL, ctx->err);

	if (!res)
		return false;
	for (int i = 0; i < PQntuples(res); i++)
		if (cat_filter_schema(&ctx->filter, PQgetvalue(res, i, 0)) && list_all)
			cat_add_schema(ctx->cat, PQgetvalue(res, i, 0));
	PQclear(res);
	return true;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * A kept partition or owned sequence may live in a schema the filters left
 * out. Sorted, then duplicates dropped: O(n log n) for schema-per-tenant
 * sources with as many schemas as tables. Tables, sequences and views come
 * sorted by schema, so only a change of schema is added.
 */
static void
finish_schemas(struct catalog *cat)
{
	size_t kept = 0;

	for (size_t i = 0; i < cat->ntables; i++)
		if (i == 0 || strcmp(cat->tables[i].schema, cat->tables[i - 1].schema) != 0)
			cat_add_schema(cat, cat->tables[i].schema);
	for (size_t i = 0; i < cat->nsequences; i++)
		if (i == 0 || strcmp(cat->sequences[i].schema, cat->sequences[i - 1].schema) != 0)
			cat_add_schema(cat, cat->sequences[i].schema);
	for (size_t i = 0; i < cat->nviews; i++)
		if (i == 0 || strcmp(cat->views[i].schema, cat->views[i - 1].schema) != 0)
			cat_add_schema(cat, cat->views[i].schema);
	if (cat->nschemas > 1)
		qsort(cat->schemas, cat->nschemas, sizeof(char *), cmp_str);
	for (size_t i = 0; i < cat->nschemas; i++)
		if (kept == 0 || strcmp(cat->schemas[kept - 1], cat->schemas[i]) != 0)
			cat->schemas[kept++] = cat->schemas[i];
	cat->nschemas = kept;
}

/*
 * Helper sessions that see conn's snapshot. conn's transaction must be
 * REPEATABLE READ (it exports the snapshot it runs on); each helper imports
 * it before its first query. Returns how many it opened; a server that
 * refuses (max_connections, a standby...) only costs the parallelism.
 */
static size_t
open_helpers(PGconn *conn, const struct pg_session *s, PGconn **helpers, size_t want)
{
	struct pgs_error err;
	PGresult *res;
	char *lit, *sql;
	size_t n = 0;

	pgs_error_clear(&err);
	res = pg_query(conn, "SELECT pg_export_snapshot()", 0, NULL, &err);
	if (!res) {
		log_debug("catalog read on one session: %s", err.message);
		return 0;
	}
	/* SET TRANSACTION SNAPSHOT takes no parameter: the server's own id, still quoted */
	lit = PQescapeLiteral(conn, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)));
	PQclear(res);
	sql = lit ? xasprintf("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
						  " SET TRANSACTION SNAPSHOT %s", lit) : NULL;
	PQfreemem(lit);
	while (sql && n < want) {
		PGconn *h = pg_connect_like(conn, s, &err);

		if (h && !pg_exec(h, sql, 0, NULL, &err)) {
			PQfinish(h);
			h = NULL;
		}
		if (!h) {
			log_debug("catalog read on %zu sessions: %s", n + 1, err.message);
			break;
		}
		helpers[n++] = h;
	}
	free(sql);
	return n;
}

static bool
load_all(struct cat_load *ctx, const struct plan *plan, const struct pg_session *s)
{
	bool list_all = !plan || plan->filters.include_tables.n == 0;
	PGconn *conns[CAT_SESSIONS] = {ctx->conn};
	size_t n = 1;
	bool ok;

	if (!load_server(ctx) || !load_schemas(ctx, list_all) || !cat_load_tables(ctx))
		return false;
	if (s && ctx->cat->ntables >= CAT_PARALLEL_MIN_TABLES)
		n += open_helpers(ctx->conn, s, conns + 1, CAT_SESSIONS - 1);
	ok = cat_run_reads(ctx, conns, n);
	ctx->cat->read_sessions = n;
	for (size_t i = 1; i < n; i++)
		PQfinish(conns[i]);
	return ok;
}

static bool
load(PGconn *conn, const struct pg_session *s, const struct plan *plan, bool definitions,
	 struct catalog *cat, struct pgs_error *err)
{
	struct cat_load ctx = {.conn = conn, .plan = plan, .cat = cat, .definitions = definitions,
						   .err = err};
	/* a caller already in a transaction (e.g. on an exported snapshot) keeps it */
	bool own_tx = PQtransactionStatus(conn) == PQTRANS_IDLE;
	bool ok;

	memset(cat, 0, sizeof(*cat));
	cat_filter_init(&ctx.filter, plan);
	ok = !own_tx || pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, err);
	ok = ok && load_all(&ctx, plan, own_tx ? s : NULL);
	if (own_tx && PQtransactionStatus(conn) != PQTRANS_IDLE) {
		struct pgs_error end_err;

		/* a failed COMMIT after successful reads changes nothing we read */
		pg_exec(conn, ok ? "COMMIT" : "ROLLBACK", 0, NULL, &end_err);
	}
	if (ok) {
		finish_schemas(cat);
		cat_filter_unmatched(&ctx.filter, cat);
	} else {
		pgs_error_prefix(err, "could not read the source catalog");
		if (!err->hint[0])
			pgs_error_hint(err, "check that the source user may read the system catalogs");
		catalog_free(cat);
	}
	cat_filter_free(&ctx.filter);
	cat_oidmap_free(&ctx.tables);
	cat_oidmap_free(&ctx.indexes);
	return ok;
}

bool
catalog_load(PGconn *conn, const struct plan *plan, struct catalog *cat, struct pgs_error *err)
{
	return load(conn, NULL, plan, true, cat, err);
}

bool
catalog_load_parallel(PGconn *conn, const struct pg_session *s, const struct plan *plan,
					  bool definitions, struct catalog *cat, struct pgs_error *err)
{
	return load(conn, s, plan, definitions, cat, err);
}

bool
cat_table_copies_data(const struct cat_table *t)
{
	return t->relkind == 'r' && !t->exclude_data;
}

const struct cat_table *
catalog_find_table(const struct catalog *cat, const char *schema, const char *name)
{
	for (size_t i = 0; i < cat->ntables; i++)
		if (strcmp(cat->tables[i].schema, schema) == 0 && strcmp(cat->tables[i].name, name) == 0)
			return &cat->tables[i];
	return NULL;
}

void
catalog_free_columns(struct catalog *cat)
{
	for (size_t i = 0; i < cat->ntables; i++) {
		free(cat->tables[i].cols);
		cat->tables[i].cols = NULL;
		cat->tables[i].ncols = 0;
	}
}

void
catalog_free(struct catalog *cat)
{
	if (!cat)
		return;
	catalog_free_columns(cat);
	free(cat->tables);
	free(cat->indexes);
	free(cat->constraints);
	free(cat->sequences);
	free(cat->extensions);
	free(cat->views);
	free(cat->globals);
	free(cat->schemas);
	for (size_t i = 0; i < cat->nunmatched; i++)
		free(cat->unmatched[i].pattern);
	free(cat->unmatched);
	strpool_free(&cat->strings);
	memset(cat, 0, sizeof(*cat));
}
