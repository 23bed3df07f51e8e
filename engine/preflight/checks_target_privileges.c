/*
 * Target privileges (DESIGN.md §4c): what schema restore, copy, CDC replay
 * and the state need of the target role — usually the database owner on a
 * managed service, not a superuser — and the roles the restored objects
 * name. Asked of the target itself, so `plan` exits 2 before anything is
 * written. session_replication_role is the one a database owner lacks:
 * pgshift does not fall back to creating triggers and foreign keys after
 * catch-up, because that would move work into the cutover window and change
 * what the target holds while replaying (README "Least privilege").
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "preflight/preflight_int.h"
#include "util/xalloc.h"

static bool
is_true(const PGresult *res, int row, int col)
{
	return strcmp(PQgetvalue(res, row, col), "t") == 0;
}

/* CREATE SCHEMA (pg_restore's schemas, pgshift's state) needs CREATE on the database. */
static void
check_create_database(struct pf_ctx *c, const char *qrole)
{
	PGresult *res = pf_query(c->dst, "SELECT has_database_privilege(current_database(), 'CREATE'),"
							 " current_database()", 0, NULL);
	char *qdb, *hint;
	bool ok;

	if (!res) {
		pf_query_failed(c, "target_create", c->dst, NULL);
		return;
	}
	ok = is_true(res, 0, 0);
	qdb = pg_quote_ident(c->dst, PQgetvalue(res, 0, 1));
	hint = xasprintf("on the target: ALTER DATABASE %s OWNER TO %s, or GRANT CREATE ON DATABASE %s"
					 " TO %s", qdb, qrole, qdb, qrole);
	pf_add_owned(c, "target_create", ok ? CHECK_PASS : CHECK_FAIL,
				 xasprintf("%s %s CREATE on database %s", qrole, ok ? "has" : "lacks", qdb), hint);
	free(hint);
	free(qdb);
	PQclear(res);
}

/* Names (malloc'd, quoted) the caller collected, as one observed list and one SQL list. */
struct names {
	char **items;
	size_t n;
};

static void
names_add(struct names *ns, char *quoted)
{
	ns->items = xrealloc(ns->items, (ns->n + 1) * sizeof(char *));
	ns->items[ns->n++] = quoted;
}

/* Fills obs (capped at ten names) and sql (all of them), and frees the names. */
static void
names_render(struct names *ns, struct buf *obs, struct buf *sql)
{
	for (size_t i = 0; i < ns->n; i++) {
		pf_list_append(obs, i, ns->n, ns->items[i]);
		buf_printf(sql, "%s%s", i ? ", " : "", ns->items[i]);
		free(ns->items[i]);
	}
	free(ns->items);
}

static bool
catalog_has_schema(const struct catalog *cat, const char *schema)
{
	for (size_t i = 0; i < cat->nschemas; i++)
		if (strcmp(cat->schemas[i], schema) == 0)
			return true;
	return false;
}

/* Schemas that already exist on the target (public, above all) must take new objects. */
static void
check_schemas(struct pf_ctx *c, const char *qrole)
{
	PGresult *res = pf_query(c->dst, "SELECT nspname FROM pg_catalog.pg_namespace"
							 " WHERE NOT has_schema_privilege(oid, 'CREATE') ORDER BY 1", 0, NULL);
	struct names ns = {NULL, 0};
	struct buf obs, names;
	size_t n;
	char *hint;

	if (!res) {
		pf_query_failed(c, "target_schemas", c->dst, NULL);
		return;
	}
	for (int r = 0; r < PQntuples(res); r++)
		if (catalog_has_schema(c->cat, PQgetvalue(res, r, 0)))
			names_add(&ns, pg_quote_ident(c->dst, PQgetvalue(res, r, 0)));
	PQclear(res);
	n = ns.n;
	buf_init(&obs);
	buf_init(&names);
	if (n > 0)
		buf_printf(&obs, "%s may not create objects in ", qrole);
	names_render(&ns, &obs, &names);
	if (n == 0)
		buf_printf(&obs, "%s may create objects in every existing schema the plan fills", qrole);
	hint = xasprintf("on the target, as the schemas' owner: GRANT CREATE ON SCHEMA %s TO %s",
					 names.data ? names.data : "", qrole);
	pf_add_owned(c, "target_schemas", n ? CHECK_FAIL : CHECK_PASS, buf_steal(&obs), hint);
	free(hint);
	buf_free(&names);
}

/*
 * Copy and CDC replay run with session_replication_role = replica so that
 * triggers and FK actions do not fire twice. PostgreSQL 15 lets a superuser
 * grant SET on it; before 15 only a superuser may set it.
 */
static void
check_replication_role(struct pf_ctx *c, const char *qrole)
{
	bool pg15 = PQserverVersion(c->dst) >= 150000;
	PGresult *res = pf_query(c->dst, pg15
							 ? "SELECT has_parameter_privilege('session_replication_role', 'SET')"
							 : "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user",
							 0, NULL);
	char *hint;
	bool ok;

	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		pf_query_failed(c, "session_replication_role", c->dst, NULL);
		return;
	}
	ok = is_true(res, 0, 0);
	PQclear(res);
	if (pg15)
		hint = xasprintf("copy and CDC replay set session_replication_role = replica so triggers and"
						 " FK actions do not fire twice; on the target, as a superuser: GRANT SET ON"
						 " PARAMETER session_replication_role TO %s (RDS/Aurora: rds_superuser members"
						 " may set it; Cloud SQL: cloudsqlsuperuser; Azure: azure_pg_admin;"
						 " Supabase: the postgres role)", qrole);
	else
		hint = xasprintf("copy and CDC replay set session_replication_role = replica, which before"
						 " PostgreSQL 15 only a superuser may set: connect to the target as a"
						 " superuser (or the provider's admin role), or use a PostgreSQL 15+ target"
						 " and GRANT SET ON PARAMETER session_replication_role TO %s", qrole);
	pf_add_owned(c, "session_replication_role", ok ? CHECK_PASS : CHECK_FAIL,
				 xasprintf("%s %s set session_replication_role", qrole, ok ? "may" : "may not"),
				 hint);
	free(hint);
}

static const struct cat_table *
copied_table(const struct catalog *cat, const char *schema, const char *name)
{
	for (size_t i = 0; i < cat->ntables; i++) {
		const struct cat_table *t = &cat->tables[i];

		if (cat_table_copies_data(t) && strcmp(t->schema, schema) == 0 &&
			strcmp(t->name, name) == 0)
			return t;
	}
	return NULL;
}

/*
 * Tables that already exist on the target (a resume, or a schema made by
 * hand) are truncated and filled by copy, and changed by CDC replay.
 */
static void
check_existing_tables(struct pf_ctx *c, const char *qrole)
{
	static const char sql[] =
		"SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
		" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		" WHERE c.relkind IN ('r', 'p') AND NOT pg_has_role(c.relowner, 'USAGE')"
		" AND NOT (has_table_privilege(c.oid, 'INSERT') AND has_table_privilege(c.oid, 'TRUNCATE')"
		"          AND ($1 = 'f' OR (has_table_privilege(c.oid, 'UPDATE')"
		"                            AND has_table_privilege(c.oid, 'DELETE'))))"
		" ORDER BY 1, 2";
	const char *params[1] = {c->plan->cdc.enabled ? "t" : "f"};
	PGresult *res = pf_query(c->dst, sql, 1, params);
	struct names ns = {NULL, 0};
	struct buf obs, names;
	size_t n;
	char *hint;

	if (!res) {
		pf_query_failed(c, "target_tables_writable", c->dst, NULL);
		return;
	}
	for (int r = 0; r < PQntuples(res); r++)
		if (copied_table(c->cat, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1)))
			names_add(&ns, pg_quote_qualified(c->dst, PQgetvalue(res, r, 0),
											  PQgetvalue(res, r, 1)));
	PQclear(res);
	n = ns.n;
	buf_init(&obs);
	buf_init(&names);
	if (n > 0)
		buf_printf(&obs, "%s may not truncate and write ", qrole);
	names_render(&ns, &obs, &names);
	if (n == 0)
		buf_printf(&obs, "%s may truncate and write every existing target table the plan copies",
				   qrole);
	hint = xasprintf("on the target, as their owner: GRANT INSERT, UPDATE, DELETE, TRUNCATE ON TABLE"
					 " %s TO %s (or ALTER TABLE ... OWNER TO %s)", names.data ? names.data : "",
					 qrole, qrole);
	pf_add_owned(c, "target_tables_writable", n ? CHECK_FAIL : CHECK_PASS, buf_steal(&obs), hint);
	free(hint);
	buf_free(&names);
}

/*
 * CREATE EXTENSION (schema.pre) by a non-superuser works only for trusted
 * extensions. Managed services let their admin role create the extensions
 * they support through their own mechanism, which the trusted flag does not
 * show: for a member of such a role the check can only warn.
 */
static const char ext_sql[] =
	"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = $1),"
	" coalesce((SELECT bool_or(trusted) FROM pg_catalog.pg_available_extension_versions"
	"           WHERE name = $1), true),"
	" (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user),"
	" EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname IN ('rds_superuser',"
	"         'cloudsqlsuperuser', 'alloydbsuperuser', 'azure_pg_admin')"
	"         AND pg_has_role(g.oid, 'USAGE'))";

static void
check_extensions_create(struct pf_ctx *c, const char *qrole)
{
	struct names ns = {NULL, 0};
	struct buf obs, names;
	bool provider = false;
	char *hint;
	size_t n;

	for (size_t i = 0; i < c->cat->nextensions; i++) {
		const char *params[1] = {c->cat->extensions[i].name};
		PGresult *res = pf_query(c->dst, ext_sql, 1, params);

		if (!res) {
			for (size_t k = 0; k < ns.n; k++)
				free(ns.items[k]);
			free(ns.items);
			pf_query_failed(c, "target_extensions_create", c->dst, NULL);
			return;
		}
		provider = is_true(res, 0, 3);
		if (!is_true(res, 0, 0) && !is_true(res, 0, 1) && !is_true(res, 0, 2))
			names_add(&ns, pg_quote_ident(c->dst, c->cat->extensions[i].name));
		PQclear(res);
	}
	n = ns.n;
	buf_init(&obs);
	buf_init(&names);
	if (n > 0)
		buf_printf(&obs, "%s may not create the untrusted extension(s) ", qrole);
	names_render(&ns, &obs, &names);
	if (n == 0)
		buf_printf(&obs, "%s may create every extension the plan needs", qrole);
	hint = xasprintf("on the target, as a superuser (or the provider's admin role), before apply:"
					 " CREATE EXTENSION %s for each, or list them in filters.exclude_extensions",
					 names.data ? names.data : "");
	pf_add_owned(c, "target_extensions_create", n == 0 ? CHECK_PASS : provider ? CHECK_WARN : CHECK_FAIL,
				 buf_steal(&obs), hint);
	free(hint);
	buf_free(&names);
}

void
pf_checks_target_privileges(struct pf_ctx *c)
{
	char *qrole;

	if (!c->dst) {
		pf_no_target(c, "target_create");
		return;
	}
	qrole = pf_quoted_role(c->dst);
	check_create_database(c, qrole);
	check_schemas(c, qrole);
	check_replication_role(c, qrole);
	check_existing_tables(c, qrole);
	check_extensions_create(c, qrole);
	free(qrole);
	pf_checks_roles(c);
}
