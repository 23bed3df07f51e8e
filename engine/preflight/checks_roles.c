/*
 * Roles the restored schema names (DESIGN.md §4c): a policy TO a role that
 * does not exist on the target fails CREATE POLICY in schema.post, after
 * the target has been written, so preflight looks for them first. Owners
 * and GRANTs are named too, but only for the operator's information: the
 * schema is restored with --no-owner --no-privileges, so every object
 * belongs to the target role and no GRANT needs its grantee.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "preflight/preflight_int.h"
#include "util/xalloc.h"

/* Runs sql with the catalog's table oids as $1 (an oid[]). */
static PGresult *
query_tables(struct pf_ctx *c, const char *sql)
{
	char *oids = pf_table_oids(c->cat, NULL);
	const char *params[1] = {oids};
	PGresult *res = pf_query(c->src, sql, 1, params);

	free(oids);
	return res;
}

/* The roles (other than PUBLIC) that policies on the catalog's tables apply to. */
static const char policy_roles_sql[] =
	"SELECT r.rolname, min(n.nspname || '.' || c.relname || ' policy ' || p.polname)"
	" FROM pg_catalog.pg_policy p"
	" JOIN pg_catalog.pg_class c ON c.oid = p.polrelid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" CROSS JOIN LATERAL unnest(p.polroles) AS pr(roleid)"
	" JOIN pg_catalog.pg_roles r ON r.oid = pr.roleid"
	" WHERE p.polrelid = ANY ($1::pg_catalog.oid[])"
	" GROUP BY r.rolname ORDER BY r.rolname";

/* The owners of the catalog's tables and the roles their GRANTs name. */
static const char acl_roles_sql[] =
	"SELECT r.rolname, (array_agg(x.what ORDER BY x.ord, x.what))[1] FROM ("
	"  SELECT c.relowner AS roleid, 0 AS ord, 'owner of ' || n.nspname || '.' || c.relname AS what"
	"  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	"  WHERE c.oid = ANY ($1::pg_catalog.oid[])"
	"  UNION ALL"
	"  SELECT a.grantee, 1, 'a GRANT on ' || n.nspname || '.' || c.relname"
	"  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	"  CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) AS a"
	"  WHERE c.oid = ANY ($1::pg_catalog.oid[])) x"
	" JOIN pg_catalog.pg_roles r ON r.oid = x.roleid"
	" GROUP BY r.rolname ORDER BY r.rolname";

/* 1 when the role exists on the target, 0 when not, -1 when the query failed. */
static int
target_has_role(PGconn *dst, const char *role)
{
	const char *params[1] = {role};
	PGresult *res = pf_query(dst, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles"
							 " WHERE rolname = $1)", 1, params);
	int found;

	if (!res)
		return -1;
	found = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return found;
}

/* Fills obs and create from the rows of res whose role the target lacks; -1 on a failed query. */
static long
list_missing(struct pf_ctx *c, const PGresult *res, struct buf *obs, struct buf *create)
{
	int n = PQntuples(res);
	bool *lacks = xcalloc((size_t) n + 1, sizeof(bool));
	size_t missing = 0, k = 0;

	for (int r = 0; r < n; r++) {
		int has = target_has_role(c->dst, PQgetvalue(res, r, 0));

		if (has < 0) {
			free(lacks);
			return -1;
		}
		lacks[r] = !has;
		missing += lacks[r];
	}
	for (int r = 0; r < n; r++) {
		char *q, *item;

		if (!lacks[r])
			continue;
		q = pg_quote_ident(c->dst, PQgetvalue(res, r, 0));
		item = xasprintf("%s (named by %s)", q, PQgetvalue(res, r, 1));
		pf_list_append(obs, k++, missing, item);
		buf_printf(create, "CREATE ROLE %s NOLOGIN; ", q);
		free(item);
		free(q);
	}
	free(lacks);
	return (long) missing;
}

void
pf_check_target_roles(struct pf_ctx *c)
{
	PGresult *res = query_tables(c, policy_roles_sql);
	struct buf obs, create;
	long missing;

	if (!res) {
		pf_query_failed(c, "target_roles", c->src, NULL);
		return;
	}
	buf_init(&obs);
	buf_init(&create);
	buf_puts(&obs, "missing on the target: ");
	buf_puts(&create, "on the target, as a role with CREATEROLE: ");
	missing = list_missing(c, res, &obs, &create);
	if (missing < 0) {
		pf_query_failed(c, "target_roles", c->dst, NULL);
	} else if (missing == 0) {
		pf_add_owned(c, "target_roles", CHECK_PASS,
					 xasprintf("the %d role(s) policies name exist on the target", PQntuples(res)),
					 NULL);
	} else {
		buf_puts(&create, "or leave their tables out with filters");
		pf_add_owned(c, "target_roles", CHECK_FAIL, buf_steal(&obs), create.data);
	}
	PQclear(res);
	buf_free(&obs);
	buf_free(&create);
}

/*
 * Owners and GRANTs are not restored, so the roles they name are not needed:
 * the check names those missing on the target so the operator knows what
 * the target will not have, and never fails.
 */
void
pf_check_acl_roles(struct pf_ctx *c)
{
	PGresult *res = query_tables(c, acl_roles_sql);
	struct buf obs, create;
	long missing;

	if (!res) {
		pf_query_failed(c, "owner_roles", c->src, NULL);
		return;
	}
	buf_init(&obs);
	buf_init(&create);
	buf_puts(&obs, "not needed (restored with --no-owner --no-privileges: every object belongs to"
			 " the target role, without the source's GRANTs); missing on the target: ");
	missing = list_missing(c, res, &obs, &create);
	if (missing < 0)
		pf_query_failed(c, "owner_roles", c->dst, NULL);
	else if (missing == 0)
		pf_add_owned(c, "owner_roles", CHECK_PASS,
					 xasprintf("not needed (restored with --no-owner --no-privileges); the %d role(s)"
							   " owners and GRANTs name exist on the target", PQntuples(res)), NULL);
	else
		pf_add_owned(c, "owner_roles", CHECK_PASS, buf_steal(&obs), NULL);
	PQclear(res);
	buf_free(&obs);
	buf_free(&create);
}
