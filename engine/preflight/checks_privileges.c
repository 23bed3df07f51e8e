/*
 * Source privileges (DESIGN.md §4c): what the steps of THIS plan will ask the
 * source for, asked of the source itself with has_*_privilege and
 * pg_has_role, so that `plan` fails (exit 2) where `apply` would otherwise
 * fail half-way — fence_writes, above all, must not find out it cannot end
 * the writers' sessions after the database is already read-only. Each hint
 * is the SQL that fixes it for the role pgshift connects as, quoted as an
 * identifier. pg_has_role(..., 'USAGE') is how PostgreSQL itself decides
 * "has the privileges of the owner", and is true for a superuser.
 */
#include <stdlib.h>
#include <string.h>

#include "cdc/ddl_capture.h"
#include "pg/conn.h"
#include "preflight/preflight_int.h"
#include "util/xalloc.h"

/* Managed services grant the same things through their admin roles. */
#define PROVIDER_NOTE_OWNER \
	" (RDS/Aurora: run it as the owner or an rds_superuser member; Cloud SQL: a cloudsqlsuperuser" \
	" member; Azure: an azure_pg_admin member; Supabase: connect as postgres, which owns them)"

static bool
is_true(const PGresult *res, int row, int col)
{
	return strcmp(PQgetvalue(res, row, col), "t") == 0;
}

/* Appends one quoted name to a ", " list, once. */
static void
append_unique(struct buf *b, const char *quoted)
{
	size_t n = strlen(quoted);

	for (const char *p = b->data; p && (p = strstr(p, quoted)) != NULL; p += n) {
		bool starts = p == b->data || (p - b->data >= 2 && p[-2] == ',');

		if (starts && (p[n] == ',' || p[n] == '\0'))
			return;
	}
	if (b->len > 0)
		buf_puts(b, ", ");
	buf_puts(b, quoted);
}

/* An object the role cannot read, and whether it may use the object's schema. */
struct unreadable {
	const char *schema, *name;
	bool usage;
};

/*
 * The GRANT that lets role read the objects: each named when there are few,
 * whole schemas when a list would not fit on a line.
 */
static char *
grant_read_sql(PGconn *conn, const struct unreadable *objs, size_t n, bool tables,
			   const char *qrole)
{
	struct buf names, schemas, nousage, sql;

	buf_init(&names);
	buf_init(&schemas);
	buf_init(&nousage);
	buf_init(&sql);
	for (size_t i = 0; i < n; i++) {
		char *qs = pg_quote_ident(conn, objs[i].schema);
		char *qo = pg_quote_qualified(conn, objs[i].schema, objs[i].name);

		append_unique(&schemas, qs);
		if (!objs[i].usage)
			append_unique(&nousage, qs);
		append_unique(&names, qo);
		free(qs);
		free(qo);
	}
	if (nousage.len > 0)
		buf_printf(&sql, "GRANT USAGE ON SCHEMA %s TO %s; ", nousage.data, qrole);
	if (n <= 10)
		buf_printf(&sql, "GRANT SELECT ON %s %s TO %s", tables ? "TABLE" : "SEQUENCE",
				   names.data, qrole);
	else
		buf_printf(&sql, "GRANT SELECT ON ALL %s IN SCHEMA %s TO %s",
				   tables ? "TABLES" : "SEQUENCES", schemas.data, qrole);
	buf_free(&names);
	buf_free(&schemas);
	buf_free(&nousage);
	return buf_steal(&sql);
}

static void
report_unreadable(struct pf_ctx *c, const char *name, const struct unreadable *objs, size_t n,
				  bool tables, const char *qrole, size_t total)
{
	const char *what = tables ? "tables" : "sequences";
	struct buf obs;
	char *sql, *hint;

	buf_init(&obs);
	if (n == 0) {
		buf_printf(&obs, "%s can read all %zu %s", qrole, total, what);
		pf_add_owned(c, name, CHECK_PASS, buf_steal(&obs), NULL);
		return;
	}
	buf_printf(&obs, "%s cannot read %zu %s: ", qrole, n, what);
	for (size_t i = 0; i < n; i++) {
		char *item = xasprintf("%s.%s", objs[i].schema, objs[i].name);

		pf_list_append(&obs, i, n, item);
		free(item);
	}
	sql = grant_read_sql(c->src, objs, n, tables, qrole);
	hint = xasprintf("on the source, as their owner: %s" PROVIDER_NOTE_OWNER, sql);
	pf_add_owned(c, name, CHECK_FAIL, buf_steal(&obs), hint);
	free(hint);
	free(sql);
}

/*
 * Reports the rows of res (schema, name, schema usage) that keep accepts:
 * the strings stay in res, which the caller clears after.
 */
static void
report_rows(struct pf_ctx *c, const char *name, const PGresult *res, bool tables,
			bool (*keep)(const struct catalog *, const char *, const char *), const char *qrole,
			size_t total)
{
	struct unreadable *objs = xcalloc((size_t) PQntuples(res) + 1, sizeof(*objs));
	size_t n = 0;

	for (int r = 0; r < PQntuples(res); r++) {
		if (keep && !keep(c->cat, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1)))
			continue;
		objs[n].schema = PQgetvalue(res, r, 0);
		objs[n].name = PQgetvalue(res, r, 1);
		objs[n].usage = is_true(res, r, 2);
		n++;
	}
	report_unreadable(c, name, objs, n, tables, qrole, total);
	free(objs);
}

/* pg_dump locks every table it dumps (ACCESS SHARE needs SELECT); copy and verify read them. */
static void
check_select_tables(struct pf_ctx *c, const char *qrole)
{
	static const char sql[] =
		"SELECT n.nspname, c.relname, has_schema_privilege(n.oid, 'USAGE')"
		" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		" WHERE c.oid = ANY ($1::pg_catalog.oid[])"
		" AND NOT (has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT'))"
		" ORDER BY 1, 2";
	char *oids = pf_table_oids(c->cat, NULL);
	const char *params[1] = {oids};
	PGresult *res = pf_query(c->src, sql, 1, params);

	free(oids);
	if (!res) {
		pf_query_failed(c, "source_select", c->src, NULL);
		return;
	}
	report_rows(c, "source_select", res, true, NULL, qrole, c->cat->ntables);
	PQclear(res);
}

static bool
catalog_has_sequence(const struct catalog *cat, const char *schema, const char *name)
{
	for (size_t i = 0; i < cat->nsequences; i++)
		if (strcmp(cat->sequences[i].schema, schema) == 0 &&
			strcmp(cat->sequences[i].name, name) == 0)
			return true;
	return false;
}

/* sync_sequences and verify read every sequence's last_value. */
static void
check_select_sequences(struct pf_ctx *c, const char *qrole)
{
	static const char sql[] =
		"SELECT n.nspname, c.relname, has_schema_privilege(n.oid, 'USAGE')"
		" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		" WHERE c.relkind = 'S'"
		" AND NOT (has_schema_privilege(n.oid, 'USAGE') AND has_sequence_privilege(c.oid, 'SELECT'))"
		" ORDER BY 1, 2";
	PGresult *res = pf_query(c->src, sql, 0, NULL);

	if (!res) {
		pf_query_failed(c, "source_sequences", c->src, NULL);
		return;
	}
	/* only the catalog's sequences: the filters decide which move */
	report_rows(c, "source_sequences", res, false, catalog_has_sequence, qrole,
				c->cat->nsequences);
	PQclear(res);
}

/* CREATE PUBLICATION needs CREATE on the database; none when it already exists. */
static void
check_publication_create(struct pf_ctx *c, const char *qrole)
{
	const char *params[1] = {c->plan->cdc.publication};
	PGresult *res = pf_query(c->src,
							 "SELECT has_database_privilege(current_database(), 'CREATE'),"
							 " EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1),"
							 " current_database()", 1, params);
	char *qdb, *hint;

	if (!res) {
		pf_query_failed(c, "publication_create", c->src, NULL);
		return;
	}
	qdb = pg_quote_ident(c->src, PQgetvalue(res, 0, 2));
	hint = xasprintf("on the source: GRANT CREATE ON DATABASE %s TO %s (as the database owner;"
					 " RDS/Aurora: rds_superuser, Cloud SQL: cloudsqlsuperuser, Azure: azure_pg_admin"
					 " members may run it)", qdb, qrole);
	if (is_true(res, 0, 1))
		pf_add_cdc(c, "publication_create", CHECK_PASS,
				   xasprintf("publication \"%s\" exists", c->plan->cdc.publication), NULL);
	else
		pf_add_cdc(c, "publication_create", is_true(res, 0, 0) ? CHECK_PASS : CHECK_FAIL,
				   xasprintf("%s %s CREATE on database %s", qrole,
							 is_true(res, 0, 0) ? "has" : "lacks", qdb), hint);
	free(hint);
	free(qdb);
	PQclear(res);
}

static bool
copies_data(const struct cat_table *t)
{
	return cat_table_copies_data(t);
}

static char *
owner_grants(PGconn *conn, const PGresult *res, const char *qrole)
{
	struct buf owners;
	char *sql;

	buf_init(&owners);
	for (int r = 0; r < PQntuples(res); r++) {
		char *qo = pg_quote_ident(conn, PQgetvalue(res, r, 2));

		append_unique(&owners, qo);
		free(qo);
	}
	sql = xasprintf("on the source: GRANT %s TO %s (membership gives the owner's rights to"
					" CREATE PUBLICATION ... FOR TABLE and ALTER TABLE ... REPLICA IDENTITY)"
					PROVIDER_NOTE_OWNER, owners.data, qrole);
	buf_free(&owners);
	return sql;
}

/*
 * CREATE PUBLICATION ... FOR TABLE, and REPLICA IDENTITY FULL with
 * cdc.replica_identity: full, need the rights of each published table's owner.
 */
static void
check_publication_owner(struct pf_ctx *c, const char *qrole)
{
	static const char sql[] =
		"SELECT n.nspname, c.relname, pg_catalog.pg_get_userbyid(c.relowner)"
		" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		" WHERE c.oid = ANY ($1::pg_catalog.oid[]) AND NOT pg_has_role(c.relowner, 'USAGE')"
		" ORDER BY 3, 1, 2";
	char *oids = pf_table_oids(c->cat, copies_data);
	const char *params[1] = {oids};
	PGresult *res = pf_query(c->src, sql, 1, params);
	struct buf obs;
	char *hint;
	int n;

	free(oids);
	if (!res) {
		pf_query_failed(c, "publication_owner", c->src, NULL);
		return;
	}
	n = PQntuples(res);
	buf_init(&obs);
	if (n == 0)
		buf_printf(&obs, "%s has the owner's rights on every published table", qrole);
	else
		buf_printf(&obs, "%s does not own %d published table(s): ", qrole, n);
	for (int r = 0; r < n; r++) {
		char *item = xasprintf("%s.%s (owner %s)", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
							   PQgetvalue(res, r, 2));

		pf_list_append(&obs, (size_t) r, (size_t) n, item);
		free(item);
	}
	hint = owner_grants(c->src, res, qrole);
	pf_add_cdc(c, "publication_owner", n ? CHECK_FAIL : CHECK_PASS, buf_steal(&obs), hint);
	free(hint);
	PQclear(res);
}

static const struct cutover_step *
fence_step(const struct plan *plan)
{
	for (size_t i = 0; i < plan->cutover.nsteps; i++)
		if (plan->cutover.steps[i].kind == CUTOVER_FENCE_WRITES)
			return &plan->cutover.steps[i];
	return NULL;
}

/* ALTER DATABASE ... SET default_transaction_read_only needs the database owner's rights. */
static void
check_fence_owner(struct pf_ctx *c, const char *qrole)
{
	PGresult *res = pf_query(c->src,
							 "SELECT pg_has_role(d.datdba, 'USAGE'), pg_catalog.pg_get_userbyid(d.datdba),"
							 " d.datname FROM pg_catalog.pg_database d"
							 " WHERE d.datname = current_database()", 0, NULL);
	char *qdb, *qowner, *hint;
	bool ok;

	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		pf_query_failed(c, "fence_database_owner", c->src, NULL);
		return;
	}
	ok = is_true(res, 0, 0);
	qowner = pg_quote_ident(c->src, PQgetvalue(res, 0, 1));
	qdb = pg_quote_ident(c->src, PQgetvalue(res, 0, 2));
	hint = xasprintf("on the source: GRANT %s TO %s, or ALTER DATABASE %s OWNER TO %s"
					 " (fence_writes runs ALTER DATABASE %s SET default_transaction_read_only = on)",
					 qowner, qrole, qdb, qrole, qdb);
	pf_add_owned(c, "fence_database_owner", ok ? CHECK_PASS : CHECK_FAIL,
				 xasprintf("database %s is owned by %s; %s %s its rights", qdb, qowner, qrole,
						   ok ? "has" : "lacks"), hint);
	free(hint);
	free(qdb);
	free(qowner);
	PQclear(res);
}

/* True when the role may end every fenced role's sessions (pg_terminate_backend's rule). */
static bool
may_signal(PGconn *conn, const struct strlist *roles, bool *ok)
{
	PGresult *res = pf_query(conn, "SELECT pg_has_role('pg_signal_backend', 'USAGE')", 0, NULL);

	if (!res)
		return false;
	*ok = is_true(res, 0, 0);
	PQclear(res);
	for (size_t i = 0; !*ok && i < roles->n; i++) {
		const char *params[1] = {roles->items[i]};

		res = pf_query(conn, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r"
					   " WHERE r.rolname = $1 AND pg_has_role(r.oid, 'USAGE'))", 1, params);
		if (!res)
			return false;
		*ok = is_true(res, 0, 0);
		PQclear(res);
		if (!*ok)
			break;
	}
	return true;
}

static void
check_fence_signal(struct pf_ctx *c, const struct cutover_step *fs, const char *qrole)
{
	char *hint;
	bool ok = false;

	if (!may_signal(c->src, &fs->roles, &ok)) {
		pf_query_failed(c, "fence_signal_backend", c->src, NULL);
		return;
	}
	hint = xasprintf("on the source: GRANT pg_signal_backend TO %s (fence_writes ends the fenced"
					 " roles' sessions; RDS/Aurora, Cloud SQL, Azure: the admin role may grant it)",
					 qrole);
	pf_add_owned(c, "fence_signal_backend", ok ? CHECK_PASS : CHECK_FAIL,
				 xasprintf("%s %s end the sessions of the fenced roles", qrole,
						   ok ? "may" : "may not"), hint);
	free(hint);
}

/*
 * The blobs step's pg_dump reads every large object: it needs the owner's
 * rights or a SELECT grant on each, unless lo_compat_privileges is on.
 */
static void
check_large_objects(struct pf_ctx *c, const char *qrole)
{
	static const char sql[] =
		"SELECT count(*) FROM pg_catalog.pg_largeobject_metadata m"
		" WHERE NOT current_setting('lo_compat_privileges')::bool"
		" AND NOT pg_has_role(m.lomowner, 'USAGE')"
		" AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(m.lomacl) a"
		"                 WHERE a.privilege_type = 'SELECT'"
		"                 AND (a.grantee = 0 OR pg_has_role(a.grantee, 'USAGE')))";
	PGresult *res = pf_query(c->src, sql, 0, NULL);
	char *hint;
	long n;

	if (!res) {
		pf_query_failed(c, "source_large_objects", c->src, NULL);
		return;
	}
	n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	hint = xasprintf("on the source, as their owners: GRANT SELECT ON LARGE OBJECT <oid> TO %s for"
					 " each, or GRANT <owner> TO %s", qrole, qrole);
	pf_add_owned(c, "source_large_objects", n ? CHECK_FAIL : CHECK_PASS,
				 n ? xasprintf("%s cannot read %ld large object(s)", qrole, n)
				 : xasprintf("%s can read every large object", qrole), hint);
	free(hint);
}

/*
 * cdc.ddl: replicate creates event triggers on the source (ddl_capture.c):
 * PostgreSQL lets only a superuser do that; managed services give it to
 * their admin role (RDS/Aurora rds_superuser, Cloud SQL cloudsqlsuperuser,
 * Azure azure_pg_admin).
 */
static void
check_event_triggers(struct pf_ctx *c, const char *qrole)
{
	PGresult *res = pf_query(c->src,
							 "SELECT r.rolsuper, (SELECT pg_catalog.string_agg(a.rolname, ', ')"
							 " FROM pg_catalog.pg_roles a WHERE a.rolname IN ('rds_superuser',"
							 " 'cloudsqlsuperuser', 'azure_pg_admin')"
							 " AND pg_catalog.pg_has_role(current_user, a.oid, 'MEMBER'))"
							 " FROM pg_catalog.pg_roles r WHERE r.rolname = current_user", 0, NULL);
	char *hint;
	bool super, admin;

	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		pf_query_failed(c, "ddl_event_triggers", c->src, NULL);
		return;
	}
	super = is_true(res, 0, 0);
	admin = !PQgetisnull(res, 0, 1);
	hint = xasprintf("on the source: ALTER ROLE %s SUPERUSER (on RDS/Aurora: GRANT rds_superuser "
					 "TO %s), or set cdc.ddl: stop; cdc.ddl: replicate creates the event "
					 "triggers " DDL_CAPTURE_END_TRIGGER " and " DDL_CAPTURE_DROP_TRIGGER,
					 qrole, qrole);
	pf_add_owned(c, "ddl_event_triggers", super || admin ? CHECK_PASS : CHECK_FAIL,
				 super ? xasprintf("%s is a superuser: it can create event triggers", qrole)
				 : admin ? xasprintf("%s is a member of %s: it can create event triggers", qrole,
									 PQgetvalue(res, 0, 1))
				 : xasprintf("%s is not a superuser and no provider admin role: it cannot "
							 "create event triggers (cdc.ddl: replicate)", qrole), hint);
	free(hint);
	PQclear(res);
}

void
pf_checks_privileges(struct pf_ctx *c)
{
	char *qrole = pf_quoted_role(c->src);
	const struct cutover_step *fs = fence_step(c->plan);

	check_select_tables(c, qrole);
	check_select_sequences(c, qrole);
	check_publication_create(c, qrole);
	check_publication_owner(c, qrole);
	if (c->cat->has_large_objects)
		check_large_objects(c, qrole);
	if (c->plan->cdc.enabled && c->plan->cdc.ddl == DDL_REPLICATE)
		check_event_triggers(c, qrole);
	if (fs) {
		check_fence_owner(c, qrole);
		check_fence_signal(c, fs, qrole);
	}
	free(qrole);
}
