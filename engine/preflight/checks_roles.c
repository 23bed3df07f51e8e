/*
 * Roles the restored schema names on the target (DESIGN.md §4c, README
 * "Owners, privileges and roles"). target_roles: the roles policies apply
 * to (CREATE POLICY in schema.post fails on a missing one, after the
 * target was written). owner_roles: the owners and grantees, through
 * schema.owners and schema.privileges; what a missing one does is
 * schema.roles' to say. owner_membership: a login that is not a superuser
 * can give an object only to a role it is a member of, and must keep the
 * owner's rights (INHERIT) to copy, index and replay into it.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "pg/roles_needed.h"
#include "preflight/preflight_int.h"
#include "util/xalloc.h"

static const char login_sql[] =
	"SELECT rolsuper OR rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = current_user";

static const char authid_sql[] =
	"SELECT pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT')";

static const char member_sql[] =
	"SELECT r.rolsuper, pg_catalog.pg_has_role(current_user, r.oid, 'USAGE')"
	" FROM pg_catalog.pg_roles r WHERE r.rolname = $1";

/* Lists the missing roles of rn that policies name (policies) or the others, and the CREATE ROLEs. */
static size_t
list_missing(struct pf_ctx *c, const struct roles_needed *rn, bool policies, struct buf *obs,
			 struct buf *create)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < rn->n; i++)
		n += !rn->roles[i].on_target && rn->roles[i].policy_only == policies;
	for (size_t i = 0; i < rn->n; i++) {
		const struct needed_role *r = &rn->roles[i];
		char *q, *item;

		if (r->on_target || r->policy_only != policies)
			continue;
		q = pg_quote_ident(c->dst, r->target);
		item = xasprintf("%s (named by %s)", q, r->named_by);
		pf_list_append(obs, k++, n, item);
		buf_printf(create, "CREATE ROLE %s NOLOGIN; ", q);
		free(item);
		free(q);
	}
	return n;
}

/* 1 when the target login may create roles, 0 when not, -1 when the query failed. */
static int
login_creates_roles(struct pf_ctx *c)
{
	PGresult *res = pf_query(c->dst, login_sql, 0, NULL);
	int yes = res && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0)[0] == 't' : -1;

	PQclear(res);
	return yes;
}

/* Under create_missing: PASS naming what apply creates, or FAIL when the login cannot. */
static void
report_created(struct pf_ctx *c, const char *name, size_t missing, struct buf *obs)
{
	int can = login_creates_roles(c);
	char *login = pf_quoted_role(c->dst);
	char *hint = xasprintf("ALTER ROLE %s CREATEROLE; (on the target, as a superuser or the "
						   "provider's admin role), or create the roles yourself", login);

	if (can < 0)
		pf_query_failed(c, name, c->dst, NULL);
	else if (can)
		pf_add_owned(c, name, CHECK_PASS,
					 xasprintf("%zu role(s) to create (schema.roles: create_missing, no password): %s",
							   missing, obs->data), NULL);
	else
		pf_add_owned(c, name, CHECK_FAIL,
					 xasprintf("schema.roles: create_missing, but the target login may not create "
							   "roles; missing: %s", obs->data), hint);
	free(hint);
	free(login);
}

static void
report_missing(struct pf_ctx *c, const struct roles_needed *rn, bool policies, const char *name)
{
	const struct plan *p = c->plan;
	struct buf obs, create;
	size_t missing;

	buf_init(&obs);
	buf_init(&create);
	buf_puts(&create, "on the target, as a role with CREATEROLE: ");
	missing = list_missing(c, rn, policies, &obs, &create);
	if (missing == 0)
		pf_add(c, name, CHECK_PASS, policies ? "the roles policies name exist on the target"
			   : "the owners and grantees the schema keeps exist on the target", NULL);
	else if (p->schema.roles == ROLES_CREATE_MISSING)
		report_created(c, name, missing, &obs);
	else if (p->schema.roles == ROLES_IGNORE && !policies)
		pf_add_owned(c, name, CHECK_WARN,
					 xasprintf("schema.roles: ignore: the objects of these roles will belong to the "
							   "target login and their grants are dropped: %s", obs.data),
					 "create the roles on the target, or map them with schema.owners.map, to keep "
					 "them");
	else {
		buf_puts(&create, policies ? "or set schema.roles: create_missing, or leave their tables "
				 "out with filters" : "or set schema.roles: create_missing (or ignore), or map them "
				 "with schema.owners.map");
		pf_add_owned(c, name, CHECK_FAIL, xasprintf("missing on the target: %s", obs.data),
					 create.data);
	}
	buf_free(&obs);
	buf_free(&create);
}

/* schema.copy_passwords: PASS, or WARN naming the roles that will get no password. */
static void
check_passwords(struct pf_ctx *c, const struct roles_needed *rn)
{
	PGresult *res;
	struct buf names;
	size_t n = 0, k = 0;

	if (c->plan->schema.roles != ROLES_CREATE_MISSING || !c->plan->schema.copy_passwords)
		return;
	res = pf_query(c->src, authid_sql, 0, NULL);
	if (!res || PQntuples(res) != 1) {
		pf_query_failed(c, "role_passwords", c->src, NULL);
		PQclear(res);
		return;
	}
	buf_init(&names);
	for (size_t i = 0; i < rn->n; i++)
		n += !rn->roles[i].on_target;
	for (size_t i = 0; i < rn->n; i++)
		if (!rn->roles[i].on_target)
			pf_list_append(&names, k++, n, rn->roles[i].target);
	if (PQgetvalue(res, 0, 0)[0] == 't')
		pf_add_owned(c, "role_passwords", CHECK_PASS,
					 xasprintf("the %zu role(s) apply creates get the source's password verifier", n),
					 NULL);
	else
		pf_add_owned(c, "role_passwords", CHECK_WARN,
					 xasprintf("schema.copy_passwords: the source login may not read pg_authid, so "
							   "these roles will be created without a password: %s",
							   n ? names.data : "(none)"),
					 "connect to the source as a superuser to copy passwords, or set them on the "
					 "target yourself (ALTER ROLE ... PASSWORD)");
	buf_free(&names);
	PQclear(res);
}

/* Appends role to fail (and its GRANT to fix) when the login lacks its rights; false on a failed query. */
static bool
check_member(struct pf_ctx *c, const struct needed_role *r, struct buf *fail, struct buf *fix,
			 struct buf *super, size_t *nfail)
{
	const char *params[1] = {r->target};
	PGresult *res = pf_query(c->dst, member_sql, 1, params);
	char *q;

	if (!res)
		return false;
	if (PQntuples(res) == 1 && PQgetvalue(res, 0, 1)[0] != 't') {
		q = pg_quote_ident(c->dst, r->target);
		buf_printf(fail, "%s%s (%s)", (*nfail)++ ? ", " : "", q, r->named_by);
		if (PQgetvalue(res, 0, 0)[0] == 't')
			buf_printf(super, "%s%s", super->len ? ", " : "", q);
		else
			buf_printf(fix, "%s%s", fix->len ? ", " : "", q);
		free(q);
	}
	PQclear(res);
	return true;
}

static void
check_membership(struct pf_ctx *c, const struct roles_needed *rn)
{
	struct buf fail, fix, super, hint;
	size_t nfail = 0;
	bool ok = true;
	char *login;

	buf_init(&fail);
	buf_init(&fix);
	buf_init(&super);
	for (size_t i = 0; ok && i < rn->n; i++)
		if (rn->roles[i].owns && rn->roles[i].on_target)
			ok = check_member(c, &rn->roles[i], &fail, &fix, &super, &nfail);
	login = pf_quoted_role(c->dst);
	buf_init(&hint);
	if (fix.len)
		buf_printf(&hint, "GRANT %s TO %s; (on the target, as a role with CREATEROLE) ", fix.data,
				   login);
	if (super.len)
		buf_printf(&hint, "%s is a superuser: only a superuser can give it objects; use "
				   "schema.owners.map or target_role", super.data);
	if (!ok)
		pf_query_failed(c, "owner_membership", c->dst, NULL);
	else if (nfail)
		pf_add_owned(c, "owner_membership", CHECK_FAIL,
					 xasprintf("%s may not give objects to (or use the rights of) %s", login,
							   fail.data), hint.data);
	else
		pf_add(c, "owner_membership", CHECK_PASS, c->plan->schema.owners == OWNERS_TARGET_ROLE
			   ? "every object will belong to the target login (schema.owners: target_role)"
			   : "the target login is a member of every owner role the target has", NULL);
	free(login);
	buf_free(&fail);
	buf_free(&fix);
	buf_free(&super);
	buf_free(&hint);
}

void
pf_checks_roles(struct pf_ctx *c)
{
	struct privs pv = {0};
	struct roles_needed rn = {0};
	struct pgs_error err;

	if (!c->dst) {
		pf_no_target(c, "target_roles");
		return;
	}
	pgs_error_clear(&err);
	if (!privs_load(c->src, c->cat, &pv, &err) ||
		!roles_needed_load(c->src, c->dst, c->plan, c->cat, &pv, &rn, &err)) {
		pf_add(c, "target_roles", CHECK_WARN, err.message, NULL);
		privs_free(&pv);
		return;
	}
	report_missing(c, &rn, true, "target_roles");
	report_missing(c, &rn, false, "owner_roles");
	check_passwords(c, &rn);
	check_membership(c, &rn);
	roles_needed_free(&rn);
	privs_free(&pv);
}
