/*
 * The source's objects outside any schema that pg_dump moves with a
 * database: access methods, casts, transforms, procedural languages,
 * foreign-data wrappers, servers, user mappings and event triggers, the
 * user's own (not built in, not an extension's, not made with another
 * object such as a range type's multirange casts). They are read whatever the
 * filters say, because pg_dump moves them whatever the schemas: verify
 * checks each is on the target, preflight names the ones the target role
 * cannot create and the user mappings whose password pgshift leaves behind.
 * An object is known by pg_describe_object's text ("cast from integer to
 * zoo.pair"), the same on both servers.
 */
#include <stdlib.h>

#include "pg/catalog_int.h"
#include "pg/conn.h"
#include "util/xalloc.h"

#define GLOBAL_ROW(kind, cat, oidcol, super, secret, from) \
	" SELECT '" kind "' AS kind, '" cat "'::pg_catalog.regclass AS classid, " oidcol \
	" AS objid, " super " AS super, " secret " AS secret, NULL::text AS tag FROM pg_catalog." from

/*
 * super: only a superuser can create it (CREATE ACCESS METHOD, EVENT
 * TRIGGER, FOREIGN DATA WRAPPER, an untrusted language, a cast without a
 * function). pg_user_mappings shows umoptions only to whom may see them, as
 * it does to pg_dump. tag: how pg_dump's archive names a user mapping (its
 * entries have no oid).
 */
static const char globals_sql[] =
	"SELECT kind, name, super, secret, tag FROM (SELECT o.kind, o.tag,"
	" pg_catalog.pg_describe_object(o.classid, o.objid, 0) AS name, o.super, o.secret"
	" FROM (" GLOBAL_ROW("access method", "pg_am", "oid", "true", "false", "pg_am")
	" UNION ALL" GLOBAL_ROW("cast", "pg_cast", "oid", "castmethod <> 'f'", "false", "pg_cast")
	" UNION ALL" GLOBAL_ROW("transform", "pg_transform", "oid", "false", "false",
							"pg_transform")
	" UNION ALL" GLOBAL_ROW("language", "pg_language", "oid", "NOT lanpltrusted", "false",
							"pg_language")
	" UNION ALL" GLOBAL_ROW("foreign-data wrapper", "pg_foreign_data_wrapper", "oid", "true",
							"false", "pg_foreign_data_wrapper")
	" UNION ALL" GLOBAL_ROW("server", "pg_foreign_server", "oid", "false", "false",
							"pg_foreign_server")
	" UNION ALL SELECT 'user mapping', 'pg_user_mapping'::pg_catalog.regclass, umid, false,"
	"  COALESCE('password' = ANY (SELECT split_part(x, '=', 1)"
	"   FROM pg_catalog.unnest(umoptions) x), false),"
	"  'USER MAPPING ' || usename || ' SERVER ' || srvname FROM pg_catalog.pg_user_mappings"
	" UNION ALL" GLOBAL_ROW("event trigger", "pg_event_trigger", "oid", "true", "false",
							"pg_event_trigger")
	" ) o WHERE o.objid >= 16384 AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
	"  WHERE d.classid = o.classid AND d.objid = o.objid AND d.deptype IN ('e', 'i'))"
	") g ORDER BY kind COLLATE \"C\", name COLLATE \"C\"";

bool
cat_load_globals(struct cat_load *ctx)
{
	PGresult *res = pg_query(ctx->conn, globals_sql, 0, NULL, ctx->err);
	struct catalog *cat = ctx->cat;
	int n;

	if (!res)
		return false;
	n = PQntuples(res);
	cat->globals = xcalloc((size_t) n + 1, sizeof(*cat->globals));
	for (int i = 0; i < n; i++) {
		struct cat_global *g = &cat->globals[cat->nglobals++];

		g->kind = cat_str(res, i, 0);
		g->name = cat_str(res, i, 1);
		g->superuser_only = cat_bool(res, i, 2);
		g->has_password = cat_bool(res, i, 3);
		g->dump_tag = cat_str(res, i, 4);
	}
	PQclear(res);
	return true;
}
