/*
 * The source objects that are not tables: sequences (with the column that
 * owns them, for serial and identity columns), extensions, views and
 * materialized views. Table patterns apply to views and free-standing
 * sequences as pg_dump's --table does; an owned sequence follows its table,
 * because the column's default or identity needs it.
 */
#include <stdlib.h>

#include "pg/catalog_int.h"
#include "util/xalloc.h"

/* deptype 'a': serial (OWNED BY); 'i': identity column */
const char cat_sequences_sql[] =
	"SELECT n.nspname, c.relname, d.refobjid, tn.nspname, tc.relname, a.attname"
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	" LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid"
	"  AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')"
	" LEFT JOIN pg_class tc ON tc.oid = d.refobjid"
	" LEFT JOIN pg_namespace tn ON tn.oid = tc.relnamespace"
	" LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
	" WHERE c.relkind = 'S' AND c.relpersistence <> 't'"
	" AND " CAT_USER_SCHEMA " AND " CAT_NOT_EXTENSION_MEMBER
	" ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"";

const char cat_extensions_sql[] =
	"SELECT e.extname, e.extversion, n.nspname FROM pg_extension e"
	" JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY e.extname COLLATE \"C\"";

const char cat_views_sql[] =
	"SELECT n.nspname, c.relname, c.relkind = 'm'"
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.relkind IN ('v', 'm') AND c.relpersistence <> 't'"
	" AND " CAT_USER_SCHEMA " AND " CAT_NOT_EXTENSION_MEMBER
	" ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"";

static bool
keep_sequence(struct cat_load *ctx, const PGresult *res, int row)
{
	const char *schema = PQgetvalue(res, row, 0);
	const char *name = PQgetvalue(res, row, 1);

	if (!PQgetisnull(res, row, 2))
		return cat_oidmap_find(&ctx->tables, cat_oid(res, row, 2)) >= 0;
	return cat_filter_schema(&ctx->filter, schema) &&
		   cat_filter_relation(&ctx->filter, schema, name);
}

void
cat_read_sequences(struct cat_load *ctx, const PGresult *res)
{
	struct catalog *cat = ctx->cat;
	int n = PQntuples(res);

	cat->sequences = xcalloc((size_t) n + 1, sizeof(*cat->sequences));
	for (int i = 0; i < n; i++) {
		struct cat_sequence *s;

		if (!keep_sequence(ctx, res, i))
			continue;
		s = &cat->sequences[cat->nsequences++];
		s->schema = cat_str(ctx, res, i, 0);
		s->name = cat_str(ctx, res, i, 1);
		s->owner_schema = cat_str(ctx, res, i, 3);
		s->owner_table = cat_str(ctx, res, i, 4);
		s->owner_column = cat_str(ctx, res, i, 5);
	}
}

void
cat_read_extensions(struct cat_load *ctx, const PGresult *res)
{
	struct catalog *cat = ctx->cat;
	int n = PQntuples(res);

	cat->extensions = xcalloc((size_t) n + 1, sizeof(*cat->extensions));
	for (int i = 0; i < n; i++) {
		struct cat_extension *e;

		if (!cat_filter_extension(&ctx->filter, PQgetvalue(res, i, 0)))
			continue;
		e = &cat->extensions[cat->nextensions++];
		e->name = cat_str(ctx, res, i, 0);
		e->version = cat_str(ctx, res, i, 1);
		e->schema = cat_str(ctx, res, i, 2);
	}
}

void
cat_read_views(struct cat_load *ctx, const PGresult *res)
{
	struct catalog *cat = ctx->cat;
	int n = PQntuples(res);

	cat->views = xcalloc((size_t) n + 1, sizeof(*cat->views));
	for (int i = 0; i < n; i++) {
		const char *schema = PQgetvalue(res, i, 0), *name = PQgetvalue(res, i, 1);
		struct cat_view *v;

		if (!cat_filter_schema(&ctx->filter, schema) ||
			!cat_filter_relation(&ctx->filter, schema, name))
			continue;
		v = &cat->views[cat->nviews++];
		v->schema = cat_str(ctx, res, i, 0);
		v->name = cat_str(ctx, res, i, 1);
		v->materialized = cat_bool(res, i, 2);
	}
}
