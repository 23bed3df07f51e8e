/*
 * Reading owners and ACLs; see privs.h. A NULL ACL is read as the built-in
 * default it stands for (acldefault), so an object never granted anything
 * and one granted exactly its default compare equal; deflt '-' marks what
 * has no ACL or no default (columns, default privileges of a schema,
 * collations...), whose NULL means no grant. Objects of
 * extensions are left out: CREATE EXTENSION makes them, with its own grants.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/privs.h"
#include "pg/conn.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define NOT_EXTENSION(cls, oidcol) \
	" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '" cls \
	"'::pg_catalog.regclass AND d.objid = " oidcol " AND d.deptype = 'e')"

/* An object of a schema that has an owner and no ACL. */
#define SCHEMA_OBJECT(kind, name, owner, cat, nsp) \
	"  UNION ALL SELECT '" kind "', pg_catalog.quote_ident(s.nspname) || '.'" \
	" || pg_catalog.quote_ident(x." name "), NULL, x." owner ", NULL, '-', s.nspname, false, NULL" \
	" FROM pg_catalog." cat " x JOIN s ON s.oid = x." nsp " WHERE true" NOT_EXTENSION(cat, "x.oid")

/* An object outside any schema that pg_dump moves with the database (catalog_globals.c). */
#define GLOBAL_OBJECT(kind, name, owner, acl, deflt, cat) \
	"  UNION ALL SELECT '" kind "', pg_catalog.quote_ident(x." name "), NULL, x." owner ", x." acl \
	", '" deflt "', NULL, false, NULL FROM pg_catalog." cat " x WHERE x.oid >= 16384" \
	NOT_EXTENSION(cat, "x.oid")

/* An ACL's grants as "grantee\x1eprivilege" items, \x1f between them, in byte order. */
#define GRANTS(acl) \
	"(SELECT pg_catalog.string_agg(e, chr(31) ORDER BY e COLLATE \"C\") FROM (" \
	" SELECT COALESCE(g.rolname, 'PUBLIC') || chr(30) || x.privilege_type" \
	"  || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END AS e" \
	" FROM pg_catalog.aclexplode(" acl ") x" \
	" LEFT JOIN pg_catalog.pg_roles g ON g.oid = x.grantee) ge)"

/*
 * kind, ident, column, owner oid, acl, acldefault's letter. Relations are
 * TABLE (GRANT ... ON TABLE takes views, materialized views and foreign
 * tables) except sequences. Types are those one can ALTER or GRANT on:
 * not arrays, multiranges or a table's row type. rel: the relation's name
 * when the filters decide whether it moves (all but foreign tables, which
 * pg_dump always moves with their schema).
 */
static const char objects_sql[] =
	"WITH s AS (SELECT oid, nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY ($1::text[])),"
	" o AS ("
	"  SELECT 'SCHEMA' AS kind, pg_catalog.quote_ident(s.nspname) AS ident, NULL::text AS col,"
	"   n.nspowner AS owner, n.nspacl AS acl, 'n'::text AS deflt, s.nspname AS nsp,"
	"   false AS linked, NULL::text AS rel"
	"  FROM s JOIN pg_catalog.pg_namespace n ON n.oid = s.oid"
	"  UNION ALL SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,"
	"   pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(c.relname), NULL,"
	"   c.relowner, c.relacl, CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END, s.nspname,"
	"   EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_class'::pg_catalog.regclass"
	"    AND d.objid = c.oid AND d.refclassid = 'pg_class'::pg_catalog.regclass"
	"    AND d.deptype IN ('a', 'i') AND c.relkind = 'S'),"
	"   CASE WHEN c.relkind <> 'f' THEN c.relname END"
	"  FROM pg_catalog.pg_class c JOIN s ON s.oid = c.relnamespace"
	"  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')" NOT_EXTENSION("pg_class", "c.oid")
	"  UNION ALL SELECT 'COLUMN', pg_catalog.quote_ident(s.nspname) || '.'"
	"   || pg_catalog.quote_ident(c.relname), pg_catalog.quote_ident(a.attname), c.relowner,"
	"   a.attacl, '-', s.nspname, false, CASE WHEN c.relkind <> 'f' THEN c.relname END"
	"  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
	"  JOIN s ON s.oid = c.relnamespace"
	"  WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped"
	"  UNION ALL SELECT CASE p.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE'"
	"   ELSE 'FUNCTION' END, pg_catalog.quote_ident(s.nspname) || '.'"
	"   || pg_catalog.quote_ident(p.proname) || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid)"
	"   || ')', NULL, p.proowner, p.proacl, 'f', s.nspname, false, NULL"
	"  FROM pg_catalog.pg_proc p JOIN s ON s.oid = p.pronamespace"
	"  WHERE true" NOT_EXTENSION("pg_proc", "p.oid")
	"  UNION ALL SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,"
	"   pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(t.typname), NULL,"
	"   t.typowner, t.typacl, 'T', s.nspname, false, NULL"
	"  FROM pg_catalog.pg_type t JOIN s ON s.oid = t.typnamespace"
	"  LEFT JOIN pg_catalog.pg_class tc ON tc.oid = t.typrelid"
	"  WHERE NOT (t.typcategory = 'A' AND t.typelem <> 0) AND t.typtype <> 'm'"
	"   AND (t.typrelid = 0 OR tc.relkind = 'c')"
	NOT_EXTENSION("pg_type", "t.oid")
	SCHEMA_OBJECT("COLLATION", "collname", "collowner", "pg_collation", "collnamespace")
	SCHEMA_OBJECT("CONVERSION", "conname", "conowner", "pg_conversion", "connamespace")
	SCHEMA_OBJECT("TEXT SEARCH DICTIONARY", "dictname", "dictowner", "pg_ts_dict", "dictnamespace")
	SCHEMA_OBJECT("TEXT SEARCH CONFIGURATION", "cfgname", "cfgowner", "pg_ts_config",
				  "cfgnamespace")
	SCHEMA_OBJECT("STATISTICS", "stxname", "stxowner", "pg_statistic_ext", "stxnamespace")
	"  UNION ALL SELECT 'OPERATOR', pg_catalog.quote_ident(s.nspname) || '.' || o.oprname || '('"
	"   || COALESCE(pg_catalog.format_type(NULLIF(o.oprleft, 0), NULL), 'NONE') || ', '"
	"   || pg_catalog.format_type(o.oprright, NULL) || ')', NULL, o.oprowner, NULL, '-', s.nspname,"
	"   false, NULL"
	"  FROM pg_catalog.pg_operator o JOIN s ON s.oid = o.oprnamespace"
	"  WHERE true" NOT_EXTENSION("pg_operator", "o.oid")
	"  UNION ALL SELECT 'OPERATOR ' || o.kind, pg_catalog.quote_ident(s.nspname) || '.'"
	"   || pg_catalog.quote_ident(o.name) || ' USING ' || pg_catalog.quote_ident(am.amname), NULL,"
	"   o.owner, NULL, '-', s.nspname, false, NULL"
	"  FROM (SELECT 'CLASS' AS kind, oid, opcname AS name, opcowner AS owner, opcnamespace AS nsp,"
	"    opcmethod AS am, 'pg_opclass'::pg_catalog.regclass AS cls FROM pg_catalog.pg_opclass"
	"   UNION ALL SELECT 'FAMILY', oid, opfname, opfowner, opfnamespace, opfmethod,"
	"    'pg_opfamily'::pg_catalog.regclass FROM pg_catalog.pg_opfamily) o"
	"  JOIN s ON s.oid = o.nsp JOIN pg_catalog.pg_am am ON am.oid = o.am"
	"  WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = o.cls"
	"   AND d.objid = o.oid AND d.deptype IN ('e', 'i'))"
	GLOBAL_OBJECT("SERVER", "srvname", "srvowner", "srvacl", "S", "pg_foreign_server")
	GLOBAL_OBJECT("LANGUAGE", "lanname", "lanowner", "lanacl", "l", "pg_language")
	"  UNION ALL SELECT 'DEFAULT', COALESCE('IN SCHEMA ' || pg_catalog.quote_ident(s.nspname), ''),"
	"   CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES'"
	"    WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END,"
	"   d.defaclrole, d.defaclacl,"
	"   CASE WHEN d.defaclnamespace <> 0 THEN '-' WHEN d.defaclobjtype = 'S' THEN 's'"
	"    ELSE d.defaclobjtype::text END, s.nspname, false, NULL"
	"  FROM pg_catalog.pg_default_acl d LEFT JOIN s ON s.oid = d.defaclnamespace"
	"  WHERE d.defaclnamespace = 0 OR s.oid IS NOT NULL),"
	/*
	 * A NULL ACL's default is spelled out once per kind and owner, not once
	 * per object: at 100,000 tables, per object, it was half of this read.
	 */
	" dg AS (SELECT k.deflt, k.owner, " GRANTS("pg_catalog.acldefault(k.deflt::\"char\", k.owner)")
	"  AS grants FROM (SELECT DISTINCT deflt, owner FROM o WHERE acl IS NULL AND deflt <> '-') k)"
	" SELECT o.kind, o.ident, o.col, r.rolname, o.acl IS NOT NULL, o.nsp, o.linked, o.rel,"
	"  CASE WHEN o.acl IS NOT NULL THEN " GRANTS("o.acl") " ELSE dg.grants END"
	" FROM o JOIN pg_catalog.pg_roles r ON r.oid = o.owner"
	" LEFT JOIN dg ON dg.deflt = o.deflt AND dg.owner = o.owner"
	" ORDER BY 1, 2, 3, 4";

/* Grants repeat from object to object ("app\x1eSELECT"): interned, each costs its bytes once. */
static void
split_grants(struct privs *pv, struct priv_object *o, const char *list)
{
	size_t n = 1;
	char *item = NULL;
	size_t cap = 0;

	if (!*list)
		return;
	for (const char *p = list; *p; p++)
		n += *p == '\x1f';
	o->grants = xcalloc(n, sizeof(char *));
	while (*list) {
		size_t len = strcspn(list, "\x1f");

		if (len + 1 > cap) {
			cap = len + 1;
			item = xrealloc(item, cap);
		}
		memcpy(item, list, len);
		item[len] = '\0';
		o->grants[o->ngrants++] = strpool_intern(&pv->strings, item);
		list += len + (list[len] == '\x1f');
	}
	free(item);
}

char *
privs_text_array(char *const *items, size_t n)
{
	struct buf b;

	buf_init(&b);
	buf_putc(&b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(&b, ',');
		buf_putc(&b, '"');
		for (const char *p = items[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(&b, '\\');
			buf_putc(&b, *p);
		}
		buf_putc(&b, '"');
	}
	buf_putc(&b, '}');
	return buf_steal(&b);
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* "schema\x1fname" of every relation the catalog moves, sorted, for migrated(). */
static char **
catalog_keys(const struct catalog *cat, size_t *n)
{
	char **keys = xcalloc(cat->ntables + cat->nviews + cat->nsequences + 1, sizeof(char *));

	*n = 0;
	for (size_t i = 0; i < cat->ntables; i++)
		keys[(*n)++] = xasprintf("%s\x1f%s", cat->tables[i].schema, cat->tables[i].name);
	for (size_t i = 0; i < cat->nviews; i++)
		keys[(*n)++] = xasprintf("%s\x1f%s", cat->views[i].schema, cat->views[i].name);
	for (size_t i = 0; i < cat->nsequences; i++)
		keys[(*n)++] = xasprintf("%s\x1f%s", cat->sequences[i].schema, cat->sequences[i].name);
	qsort(keys, *n, sizeof(char *), cmp_name);
	return keys;
}

/* A relation the filters left out is not on the target: nothing to set there. */
static bool
migrated(char **keys, size_t n, const PGresult *res, int r)
{
	char *key;
	bool found;

	if (PQgetisnull(res, r, 7))
		return true;
	key = xasprintf("%s\x1f%s", PQgetvalue(res, r, 5), PQgetvalue(res, r, 7));
	found = bsearch(&key, keys, n, sizeof(char *), cmp_name) != NULL;
	free(key);
	return found;
}

struct privs_reader {
	struct privs *out;
	char **keys;
	size_t nkeys, cap;
};

static char *
intern_or_null(struct privs *pv, const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : strpool_intern(&pv->strings, PQgetvalue(res, 0, col));
}

static void
read_object(const PGresult *res, void *arg)
{
	struct privs_reader *rd = arg;
	struct privs *pv = rd->out;
	struct priv_object *o;

	if (!migrated(rd->keys, rd->nkeys, res, 0))
		return;
	if (pv->n == rd->cap) {
		rd->cap = rd->cap ? rd->cap * 2 : 64;
		pv->objs = xrealloc(pv->objs, rd->cap * sizeof(*pv->objs));
	}
	o = &pv->objs[pv->n++];
	memset(o, 0, sizeof(*o));
	o->kind = strpool_intern(&pv->strings, PQgetvalue(res, 0, 0));
	o->ident = strpool_copy(&pv->strings, PQgetvalue(res, 0, 1));
	o->column = intern_or_null(pv, res, 2);
	o->owner = strpool_intern(&pv->strings, PQgetvalue(res, 0, 3));
	o->explicit_acl = PQgetvalue(res, 0, 4)[0] == 't';
	o->schema = intern_or_null(pv, res, 5);
	o->follows_table = PQgetvalue(res, 0, 6)[0] == 't';
	split_grants(pv, o, PQgetvalue(res, 0, 8));
}

/*
 * Row by row, into one string pool: at 100,000 tables the whole result
 * (30 MB) and a malloc per string (as much again) were plan's largest peak.
 */
bool
privs_load(PGconn *conn, const struct catalog *cat, struct privs *out, struct pgs_error *err)
{
	char *schemas = privs_text_array(cat->schemas, cat->nschemas);
	const char *params[1] = {schemas};
	struct privs_reader rd = {.out = out};
	bool ok;

	memset(out, 0, sizeof(*out));
	strpool_init(&out->strings);
	rd.keys = catalog_keys(cat, &rd.nkeys);
	ok = pg_query_rows(conn, objects_sql, 1, params, read_object, &rd, err);
	free(schemas);
	for (size_t i = 0; i < rd.nkeys; i++)
		free(rd.keys[i]);
	free(rd.keys);
	if (!ok) {
		privs_free(out);
		pgs_error_prefix(err, "could not read owners and privileges");
	}
	return ok;
}

void
privs_free(struct privs *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->objs[i].grants);
	free(p->objs);
	strpool_free(&p->strings);
	memset(p, 0, sizeof(*p));
}

bool
privs_role_names(PGconn *conn, struct strlist *out, struct pgs_error *err)
{
	PGresult *res = pg_query(conn, "SELECT rolname FROM pg_catalog.pg_roles"
							 " ORDER BY rolname COLLATE \"C\"", 0, NULL, err);
	int n;

	memset(out, 0, sizeof(*out));
	if (!res)
		return false;
	n = PQntuples(res);
	out->items = xcalloc((size_t) n + 1, sizeof(char *));
	for (int r = 0; r < n; r++)
		out->items[out->n++] = xstrdup(PQgetvalue(res, r, 0));
	PQclear(res);
	return true;
}

bool
privs_has_name(const struct strlist *sorted, const char *name)
{
	return bsearch(&name, sorted->items, sorted->n, sizeof(char *), cmp_name) != NULL;
}

static const char *
kept_or_login(const struct role_map *m, const char *role)
{
	if (m->plan->schema.roles == ROLES_IGNORE && m->target_roles &&
		!privs_has_name(m->target_roles, role))
		return m->login;
	return role;
}

const char *
role_map_owner(const struct role_map *m, const char *src_owner)
{
	if (m->plan->schema.owners == OWNERS_TARGET_ROLE)
		return m->login;
	return kept_or_login(m, plan_map_role(m->plan, src_owner));
}

bool
role_map_fell_back(const struct role_map *m, const char *src_owner)
{
	return m->plan->schema.owners != OWNERS_TARGET_ROLE &&
		strcmp(role_map_owner(m, src_owner), plan_map_role(m->plan, src_owner)) != 0;
}

char *
role_map_grant(const struct role_map *m, const char *grant, const char *src_owner)
{
	size_t len = strcspn(grant, "\x1e");
	char *grantee = xstrndup(grant, len);
	const char *to = grantee;
	char *out = NULL;

	if (strcmp(grantee, src_owner) == 0)
		to = role_map_owner(m, src_owner);
	else if (strcmp(grantee, "PUBLIC") != 0)
		to = plan_map_role(m->plan, grantee);
	if (strcmp(grantee, src_owner) == 0 || strcmp(grantee, "PUBLIC") == 0 ||
		m->plan->schema.roles != ROLES_IGNORE || !m->target_roles ||
		privs_has_name(m->target_roles, to))
		out = xasprintf("%s%s", to, grant + len);
	free(grantee);
	return out;
}

static bool
same_or_null(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

const struct priv_object *
privs_find(const struct privs *pv, const struct priv_object *o, const char *owner)
{
	bool deflt = strcmp(o->kind, "DEFAULT") == 0;

	for (size_t i = 0; i < pv->n; i++) {
		const struct priv_object *t = &pv->objs[i];

		if (strcmp(t->kind, o->kind) == 0 && strcmp(t->ident, o->ident) == 0 &&
			same_or_null(t->column, o->column) && (!deflt || strcmp(t->owner, owner) == 0))
			return t;
	}
	return NULL;
}

static char *
join_grants(char **grants, size_t n)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_puts(&b, ", ");
		for (const char *p = grants[i]; *p; p++)
			buf_putc(&b, *p == '\x1e' ? ' ' : *p);
	}
	return buf_steal(&b);
}

char *
privs_expected_grants(const struct role_map *m, const struct priv_object *o)
{
	char **mapped = xcalloc(o->ngrants + 1, sizeof(char *));
	size_t n = 0;
	char *text;

	for (size_t g = 0; g < o->ngrants; g++) {
		char *one = role_map_grant(m, o->grants[g], o->owner);

		if (one)
			mapped[n++] = one;
	}
	if (n > 1)
		qsort(mapped, n, sizeof(char *), cmp_name);
	text = join_grants(mapped, n);
	for (size_t i = 0; i < n; i++)
		free(mapped[i]);
	free(mapped);
	return text;
}

char *
privs_grants_text(const struct priv_object *o)
{
	return join_grants(o->grants, o->ngrants);
}
