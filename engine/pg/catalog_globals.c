/*
 * The source's objects outside any schema that pg_dump moves with a
 * database: access methods, casts, transforms, procedural languages,
 * foreign-data wrappers, servers, user mappings, event triggers and
 * publications, the user's own (not built in, not an extension's, not made
 * with another object such as a range type's multirange casts; not
 * pgshift's own publications, which live on the source for CDC). They are
 * read whatever the schema filters say, because pg_dump moves them whatever
 * the schemas; a publication's members only where pg_dump keeps them, for
 * the migrated tables and schemas. verify checks each is on the target,
 * preflight names the ones the target role cannot create, the classes the
 * plan leaves out (excluded) and the user mappings whose password pgshift
 * leaves behind. An object is known by pg_describe_object's text ("cast
 * from integer to zoo.pair"), the same on both servers.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/catalog_int.h"
#include "plan/object_class.h"
#include "plan/plan.h"
#include "util/xalloc.h"

#define NO_MEMBER " NULL::text AS def, NULL::name AS mschema, NULL::name AS mtable"
#define GLOBAL_ROW(kind, cat, oidcol, super, secret, from) \
	" SELECT '" kind "' AS kind, '" cat "'::pg_catalog.regclass AS classid, " oidcol \
	" AS objid, " super " AS super, " secret " AS secret, NULL::text AS tag," NO_MEMBER \
	" FROM pg_catalog." from

/* pgshift's publications: the plan's ($1) and every other plan's */
#define NOT_PGSHIFTS(p) " NOT (" p ".pubname LIKE 'pgshift\\_%' OR " p ".pubname = $1)"

/*
 * super: only a superuser can create it (CREATE ACCESS METHOD, EVENT
 * TRIGGER, FOREIGN DATA WRAPPER, an untrusted language, a cast without a
 * function, a publication FOR ALL TABLES or FOR TABLES IN SCHEMA).
 * pg_user_mappings shows umoptions only to whom may see them, as it does to
 * pg_dump. tag: how pg_dump's archive names a user mapping (its entries
 * have no oid). mschema, mtable: the table or schema a publication member
 * adds.
 */
const char cat_globals_sql[] =
	"SELECT kind, name, super, secret, tag, def, mschema, mtable FROM (SELECT o.kind, o.tag,"
	" pg_catalog.pg_describe_object(o.classid, o.objid, 0) AS name, o.super, o.secret,"
	" o.def, o.mschema, o.mtable"
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
	"  'USER MAPPING ' || usename || ' SERVER ' || srvname," NO_MEMBER
	"  FROM pg_catalog.pg_user_mappings"
	" UNION ALL" GLOBAL_ROW("event trigger", "pg_event_trigger", "oid", "true", "false",
							"pg_event_trigger WHERE evtname NOT LIKE 'pgshift\\_ddl\\_capture\\_%'")
	" UNION ALL SELECT 'publication', 'pg_publication'::pg_catalog.regclass, p.oid,"
	"  p.puballtables OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace pn"
	"   WHERE pn.pnpubid = p.oid), false, NULL,"
	"  pg_catalog.format('publish = %L, publish_via_partition_root = %s%s',"
	"   pg_catalog.concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END,"
	"    CASE WHEN p.pubupdate THEN 'update' END, CASE WHEN p.pubdelete THEN 'delete' END,"
	"    CASE WHEN p.pubtruncate THEN 'truncate' END),"
	"   CASE WHEN p.pubviaroot THEN 'true' ELSE 'false' END,"
	"   CASE WHEN p.puballtables THEN ', FOR ALL TABLES' ELSE '' END), NULL, NULL"
	"  FROM pg_catalog.pg_publication p WHERE" NOT_PGSHIFTS("p")
	" UNION ALL SELECT 'publication member', 'pg_publication_rel'::pg_catalog.regclass, r.oid,"
	"  false, false, NULL, NULLIF(pg_catalog.concat_ws(' ', '(' || (SELECT"
	"   pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)"
	"   FROM pg_catalog.pg_attribute a WHERE a.attrelid = r.prrelid"
	"   AND a.attnum = ANY (r.prattrs::pg_catalog.int2[])) || ')',"
	"   'WHERE ' || pg_catalog.pg_get_expr(r.prqual, r.prrelid)), ''), n.nspname, c.relname"
	"  FROM pg_catalog.pg_publication_rel r"
	"  JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid"
	"  JOIN pg_catalog.pg_class c ON c.oid = r.prrelid"
	"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE" NOT_PGSHIFTS("p")
	" UNION ALL SELECT 'publication member', 'pg_publication_namespace'::pg_catalog.regclass,"
	"  pn.oid, false, false, NULL, NULL, n.nspname, NULL"
	"  FROM pg_catalog.pg_publication_namespace pn"
	"  JOIN pg_catalog.pg_publication p ON p.oid = pn.pnpubid"
	"  JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid WHERE" NOT_PGSHIFTS("p")
	" ) o WHERE o.objid >= 16384 AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
	"  WHERE d.classid = o.classid AND d.objid = o.objid AND d.deptype IN ('e', 'i'))"
	") g ORDER BY kind COLLATE \"C\", name COLLATE \"C\"";

static bool
has_schema(const struct catalog *cat, const char *schema)
{
	for (size_t i = 0; i < cat->ntables; i++)
		if (strcmp(cat->tables[i].schema, schema) == 0)
			return true;
	for (size_t i = 0; i < cat->nviews; i++)
		if (strcmp(cat->views[i].schema, schema) == 0)
			return true;
	for (size_t i = 0; i < cat->nsequences; i++)
		if (strcmp(cat->sequences[i].schema, schema) == 0)
			return true;
	return false;
}

/* A publication member moves with its table or schema, as pg_dump's filters keep it. */
static bool
member_migrated(const struct catalog *cat, const PGresult *res, int row)
{
	const char *schema = PQgetvalue(res, row, 6);

	if (PQgetisnull(res, row, 6))
		return true;
	if (PQgetisnull(res, row, 7))
		return has_schema(cat, schema);
	return catalog_find_table(cat, schema, PQgetvalue(res, row, 7)) != NULL;
}

void
cat_read_globals(struct cat_load *ctx, const PGresult *res)
{
	struct catalog *cat = ctx->cat;
	int n = PQntuples(res);

	cat->globals = xcalloc((size_t) n + 1, sizeof(*cat->globals));
	for (int i = 0; i < n; i++) {
		struct cat_global *g;

		if (!member_migrated(cat, res, i))
			continue;
		g = &cat->globals[cat->nglobals++];
		g->kind = cat_str(ctx, res, i, 0);
		g->name = cat_str(ctx, res, i, 1);
		g->superuser_only = cat_bool(res, i, 2);
		g->has_password = cat_bool(res, i, 3);
		g->dump_tag = cat_str(ctx, res, i, 4);
		g->def = cat_str(ctx, res, i, 5);
		g->excluded = plan_excludes_class(ctx->plan, object_class_of_kind(g->kind));
	}
}
