/*
 * schema.roles: create_missing (README "Owners, privileges and roles"):
 * before schema.pre restores anything, the roles the schema names and the
 * target lacks are created with the attributes a role with CREATEROLE may
 * give (LOGIN, INHERIT, CONNECTION LIMIT, VALID UNTIL, as on the source),
 * never SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS, and a
 * password only under schema.copy_passwords (schema_passwords.c). Their memberships among the roles the schema names follow, and
 * the target login becomes a member of each, as it must be to give it
 * objects. Each is recorded in the state before it is created, so reset
 * knows it as pgshift's even after a crash between the two.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "pg/roles_needed.h"
#include "steps/steps_int.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Built by the source with format(), so names and the timestamp are quoted by PostgreSQL. */
static const char create_sql[] =
	"SELECT pg_catalog.format('CREATE ROLE %I WITH %s %s CONNECTION LIMIT %s', $2::text,"
	"  CASE WHEN rolcanlogin THEN 'LOGIN' ELSE 'NOLOGIN' END,"
	"  CASE WHEN rolinherit THEN 'INHERIT' ELSE 'NOINHERIT' END, rolconnlimit)"
	" || CASE WHEN rolvaliduntil IS NULL THEN ''"
	"  ELSE pg_catalog.format(' VALID UNTIL %L', rolvaliduntil) END"
	" FROM pg_catalog.pg_roles WHERE rolname = $1";

static const char memberships_sql[] =
	"SELECT r.rolname, m.rolname FROM pg_catalog.pg_auth_members a"
	" JOIN pg_catalog.pg_roles r ON r.oid = a.roleid JOIN pg_catalog.pg_roles m ON m.oid = a.member"
	" WHERE r.rolname = ANY ($1::text[]) AND m.rolname = ANY ($1::text[])";

static bool
create_role(struct run *run, PGconn *src, PGconn *tgt, const struct needed_role *nr,
			bool copy_password, struct pgs_error *err)
{
	const char *params[2] = {nr->source, nr->target};
	PGresult *res = pg_query(src, create_sql, 2, params, err);
	char *q = pg_quote_ident(tgt, nr->target);
	char *member = xasprintf("GRANT %s TO CURRENT_USER", q);
	bool ok = res && PQntuples(res) == 1, password = false;

	if (res && !ok)
		pgs_fail(err, "role \"%s\" is not on the source any more", nr->source);
	ok = ok && steps_record(run, "role", NULL, nr->target, err) &&
		pg_exec(tgt, PQgetvalue(res, 0, 0), 0, NULL, err) && pg_exec(tgt, member, 0, NULL, err);
	if (ok && copy_password)
		ok = schema_role_password(src, tgt, nr->source, nr->target, &password, err);
	if (ok)
		log_info("schema.pre: created role %s (for %s), %s", q, nr->named_by,
				 password ? "with the source's password" : "without a password");
	else
		pgs_error_prefix(err, "could not create role %s on the target", q);
	PQclear(res);
	free(member);
	free(q);
	return ok;
}

/* Whether the source login may read pg_authid; preflight has warned when it may not. */
static bool
schema_passwords_readable(PGconn *src, bool *readable, struct pgs_error *err)
{
	PGresult *res = pg_query(src, "SELECT pg_catalog.has_table_privilege('pg_catalog.pg_authid',"
							 " 'SELECT')", 0, NULL, err);

	*readable = res && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	if (res && !*readable)
		log_warning("schema.copy_passwords: the source login may not read pg_authid; the roles "
				 "pgshift creates get no password");
	PQclear(res);
	return res != NULL;
}

static const struct needed_role *
by_source(const struct roles_needed *rn, const char *source)
{
	for (size_t i = 0; i < rn->n; i++)
		if (strcmp(rn->roles[i].source, source) == 0)
			return &rn->roles[i];
	return NULL;
}

/* The source's memberships among the named roles, where pgshift created one side. */
static bool
grant_memberships(PGconn *src, PGconn *tgt, const struct roles_needed *rn, struct pgs_error *err)
{
	char **names = xcalloc(rn->n + 1, sizeof(char *));
	char *arr;
	const char *params[1];
	PGresult *res;
	bool ok = true;

	for (size_t i = 0; i < rn->n; i++)
		names[i] = rn->roles[i].source;
	arr = privs_text_array(names, rn->n);
	params[0] = arr;
	res = pg_query(src, memberships_sql, 1, params, err);
	for (int r = 0; res && ok && r < PQntuples(res); r++) {
		const struct needed_role *role = by_source(rn, PQgetvalue(res, r, 0));
		const struct needed_role *member = by_source(rn, PQgetvalue(res, r, 1));
		char *qr, *qm, *sql;

		if (!role || !member || (role->on_target && member->on_target))
			continue;
		qr = pg_quote_ident(tgt, role->target);
		qm = pg_quote_ident(tgt, member->target);
		sql = xasprintf("GRANT %s TO %s", qr, qm);
		ok = pg_exec(tgt, sql, 0, NULL, err);
		free(sql);
		free(qm);
		free(qr);
	}
	ok = ok && res != NULL;
	PQclear(res);
	free(arr);
	free(names);
	return ok;
}

bool
schema_roles_create(struct run *run, PGconn *src, PGconn *tgt, struct pgs_error *err)
{
	struct privs pv = {0};
	struct roles_needed rn = {0};
	bool ok, copy_password = false;

	if (run->plan->schema.roles != ROLES_CREATE_MISSING)
		return true;
	ok = (!run->plan->schema.copy_passwords || schema_passwords_readable(src, &copy_password, err)) &&
		privs_load(src, run->cat, &pv, err) &&
		roles_needed_load(src, tgt, run->plan, run->cat, &pv, &rn, err);
	for (size_t i = 0; ok && i < rn.n; i++)
		if (!rn.roles[i].on_target)
			ok = create_role(run, src, tgt, &rn.roles[i], copy_password, err);
	ok = ok && grant_memberships(src, tgt, &rn, err);
	roles_needed_free(&rn);
	privs_free(&pv);
	return ok;
}
