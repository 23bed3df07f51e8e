/*
 * Owners and privileges of the restored schema (README "Owners, privileges
 * and roles"). pg_restore runs with --no-owner --no-privileges, so every
 * object first belongs to the target login, which can then restore the
 * data and build indexes whatever the owners are. At the end of schema.post
 * this pass reads the source's owners and ACLs (privs.h), maps their roles
 * through the plan, and sets them with ALTER ... OWNER TO, REVOKE/GRANT and
 * ALTER DEFAULT PRIVILEGES: statements from the catalog, identifiers quoted,
 * never a rewrite of pg_dump's text.
 *
 * A non-superuser may give an object to a role only when that role could
 * create it (CREATE on its schema; on the database for a schema). Where the
 * new owner lacks it, the pass grants it for the ALTER and revokes it again
 * in the same transaction, so the target's ACLs end as the source's.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "pg/privs.h"
#include "steps/steps_int.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

struct privs_pass {
	PGconn *tgt;
	struct role_map map;
	struct strlist roles;       /* target role names, sorted */
	char *login;
	struct buf undo;            /* REVOKEs of the temporary CREATE grants */
	size_t statements;
};

static bool
run_sql(struct privs_pass *p, const char *sql, struct pgs_error *err)
{
	p->statements++;
	if (pg_exec(p->tgt, sql, 0, NULL, err))
		return true;
	pgs_error_prefix(err, "could not run \"%s\" on the target", sql);
	return false;
}

/* Lets role own an object of schema (or a schema, when schema is NULL) for this pass. */
static bool
allow_create(struct privs_pass *p, const char *role, const char *schema, struct pgs_error *err)
{
	const char *params[2] = {role, schema};
	PGresult *res = pg_query(p->tgt, schema
							 ? "SELECT pg_catalog.has_schema_privilege($1, $2, 'CREATE')"
							 : "SELECT pg_catalog.has_database_privilege($1,"
							 " pg_catalog.current_database(), 'CREATE')", schema ? 2 : 1, params, err);
	char *qr, *qs, *on;
	bool has, ok;

	if (!res)
		return false;
	has = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (has)
		return true;
	qr = pg_quote_ident(p->tgt, role);
	qs = pg_quote_ident(p->tgt, schema ? schema : PQdb(p->tgt));
	on = xasprintf("%s %s", schema ? "SCHEMA" : "DATABASE", qs);
	{
		char *sql = xasprintf("GRANT CREATE ON %s TO %s", on, qr);

		ok = run_sql(p, sql, err);
		free(sql);
	}
	buf_printf(&p->undo, "REVOKE CREATE ON %s FROM %s;", on, qr);
	free(on);
	free(qs);
	free(qr);
	return ok;
}

static const char *
alter_keyword(const char *kind)
{
	return strcmp(kind, "COLUMN") == 0 || strcmp(kind, "DEFAULT") == 0 ? NULL : kind;
}

static bool
set_owner(struct privs_pass *p, const struct priv_object *o, const char *owner,
		  struct pgs_error *err)
{
	const char *kw = alter_keyword(o->kind);
	bool is_schema = strcmp(o->kind, "SCHEMA") == 0;
	char *q, *sql;
	bool ok;

	if (!kw)
		return true;
	/* a server or a language is no schema's: nothing to allow */
	if ((is_schema || o->schema) && !allow_create(p, owner, is_schema ? NULL : o->schema, err))
		return false;
	q = pg_quote_ident(p->tgt, owner);
	sql = xasprintf("ALTER %s %s OWNER TO %s", kw, o->ident, q);
	ok = run_sql(p, sql, err);
	free(sql);
	free(q);
	return ok;
}

/* "GRANTEE\x1ePRIV[ WITH GRANT OPTION]" as "PRIV ... TO GRANTEE ...", around the ON clause. */
static char *
grant_sql(struct privs_pass *p, const char *prefix, const char *grant, const char *on)
{
	size_t len = strcspn(grant, "\x1e");
	char *grantee = xstrndup(grant, len);
	const char *priv = grant[len] ? grant + len + 1 : "";
	const char *opt = strstr(priv, " WITH GRANT OPTION");
	char *q = strcmp(grantee, "PUBLIC") == 0 ? xstrdup("PUBLIC") : pg_quote_ident(p->tgt, grantee);
	char *sql = xasprintf("%sGRANT %.*s %s TO %s%s", prefix,
						  (int) (opt ? (size_t) (opt - priv) : strlen(priv)), priv, on, q,
						  opt ? " WITH GRANT OPTION" : "");

	free(q);
	free(grantee);
	return sql;
}

static bool
grant_all(struct privs_pass *p, const struct priv_object *o, const char *prefix, const char *on,
		  struct pgs_error *err)
{
	bool ok = true;

	for (size_t g = 0; ok && g < o->ngrants; g++) {
		char *mapped = role_map_grant(&p->map, o->grants[g], o->owner);
		char *sql = mapped ? grant_sql(p, prefix, mapped, on) : NULL;

		if (sql)
			ok = run_sql(p, sql, err);
		else
			log_warning("schema.post: a grant on %s %s to a role the target lacks is dropped "
					 "(schema.roles: ignore)", o->kind, o->ident);
		free(sql);
		free(mapped);
	}
	return ok;
}

/*
 * After --no-privileges the object has its built-in default ACL: REVOKE ALL
 * from PUBLIC and the owner empties it, then the source's entries go back.
 */
/* GRANT has no ON AGGREGATE (ON ROUTINE takes every kind of pg_proc) and says FOREIGN SERVER. */
static const char *
grant_keyword(const char *kind)
{
	if (strcmp(kind, "AGGREGATE") == 0)
		return "ROUTINE";
	return strcmp(kind, "SERVER") == 0 ? "FOREIGN SERVER" : kind;
}

static bool
set_acl(struct privs_pass *p, const struct priv_object *o, const char *owner,
		struct pgs_error *err)
{
	char *qo = pg_quote_ident(p->tgt, owner);
	char *as_owner = xasprintf("SET LOCAL ROLE %s", qo);
	bool column = strcmp(o->kind, "COLUMN") == 0;
	char *on = column ? xasprintf("(%s) ON TABLE %s", o->column, o->ident)
		: xasprintf("ON %s %s", grant_keyword(o->kind), o->ident);
	char *revoke = xasprintf("REVOKE ALL %s FROM PUBLIC, %s", on, qo);
	/*
	 * As the owner: the login, a member of several roles holding grant
	 * options, would be recorded with any of them as the grantor.
	 */
	bool ok = run_sql(p, as_owner, err) && (column || run_sql(p, revoke, err)) &&
		grant_all(p, o, "", on, err) && run_sql(p, "RESET ROLE", err);

	free(revoke);
	free(on);
	free(as_owner);
	free(qo);
	return ok;
}

/* ALTER DEFAULT PRIVILEGES: a global entry replaces the built-in default, a schema's adds to it. */
static bool
set_defaults(struct privs_pass *p, const struct priv_object *o, struct pgs_error *err)
{
	const char *role = role_map_owner(&p->map, o->owner);
	char *qr = pg_quote_ident(p->tgt, role);
	char *prefix = xasprintf("ALTER DEFAULT PRIVILEGES FOR ROLE %s %s%s", qr, o->ident,
							 *o->ident ? " " : "");
	char *on = xasprintf("ON %s", o->column);
	char *sql = xasprintf("%sREVOKE ALL ON %s FROM PUBLIC, %s", prefix, o->column, qr);
	bool ok = (*o->ident || run_sql(p, sql, err)) && grant_all(p, o, prefix, on, err);

	free(sql);
	free(on);
	free(prefix);
	free(qr);
	return ok;
}

/* Whether the target's object t already has what the source's o says, mapped. */
static bool
same_grants(struct privs_pass *p, const struct priv_object *o, const struct priv_object *t)
{
	char *want, *have;
	bool same;

	if (!t)
		return false;
	want = privs_expected_grants(&p->map, o);
	have = privs_grants_text(t);
	same = strcmp(want, have) == 0;
	free(want);
	free(have);
	return same;
}

/*
 * Whether the restore made o (its table, for a column's grants; its schema,
 * for default privileges of one): a foreign table's column or an object
 * only the source has is left alone rather than failing the step.
 */
static bool
on_target(const struct privs *tv, const struct priv_object *o, const struct priv_object *t)
{
	bool column = strcmp(o->kind, "COLUMN") == 0, deflt = strcmp(o->kind, "DEFAULT") == 0;

	if (t || (deflt && !o->schema))
		return true;
	for (size_t i = 0; (column || deflt) && i < tv->n; i++) {
		const struct priv_object *p = &tv->objs[i];

		if (column && strcmp(p->kind, "TABLE") == 0 && strcmp(p->ident, o->ident) == 0)
			return true;
		if (deflt && strcmp(p->kind, "SCHEMA") == 0 && strcmp(p->schema, o->schema) == 0)
			return true;
	}
	return false;
}

static bool
apply_owners(struct privs_pass *p, const struct run *run, const struct privs *pv,
			 struct pgs_error *err)
{
	struct privs tv;
	bool ok = privs_load(p->tgt, run->cat, &tv, err);

	for (size_t i = 0; ok && i < pv->n; i++) {
		const struct priv_object *o = &pv->objs[i];
		const char *owner = role_map_owner(&p->map, o->owner);
		const struct priv_object *t = privs_find(&tv, o, owner);

		if (strcmp(o->kind, "DEFAULT") != 0 && !o->follows_table && t &&
			strcmp(t->owner, owner) != 0)
			ok = set_owner(p, o, owner, err);
	}
	privs_free(&tv);
	if (ok && p->undo.len > 0)
		ok = run_sql(p, p->undo.data, err);
	return ok;
}

/*
 * Under owners: target_role, an object the target already had and that
 * another role owns (schema public, owned by pg_database_owner) keeps its
 * owner's ACL: its grants are not the login's to rewrite.
 */
static bool
not_ours(const struct privs_pass *p, const struct plan *plan, const struct priv_object *t)
{
	return plan->schema.owners == OWNERS_TARGET_ROLE && t && strcmp(t->owner, p->login) != 0;
}

static bool
apply_acls(struct privs_pass *p, const struct run *run, const struct privs *pv,
		   struct pgs_error *err)
{
	struct privs tv;
	bool ok = privs_load(p->tgt, run->cat, &tv, err);

	for (size_t i = 0; ok && i < pv->n; i++) {
		const struct priv_object *o = &pv->objs[i];
		const char *owner = role_map_owner(&p->map, o->owner);
		const struct priv_object *t = privs_find(&tv, o, owner);

		if (!on_target(&tv, o, t) || same_grants(p, o, t) || not_ours(p, run->plan, t))
			continue;
		if (strcmp(o->kind, "DEFAULT") == 0 && role_map_fell_back(&p->map, o->owner))
			log_warning("schema.post: the default privileges of role \"%s\" are dropped: the "
						"target lacks the role (schema.roles: ignore)", o->owner);
		else if (strcmp(o->kind, "DEFAULT") == 0)
			ok = set_defaults(p, o, err);
		else
			ok = set_acl(p, o, owner, err);
	}
	privs_free(&tv);
	return ok;
}

static bool
apply_objects(struct privs_pass *p, const struct run *run, const struct privs *pv,
			  struct pgs_error *err)
{
	if (run->plan->schema.owners != OWNERS_TARGET_ROLE && !apply_owners(p, run, pv, err))
		return false;
	return run->plan->schema.privileges != PRIVILEGES_KEEP || apply_acls(p, run, pv, err);
}

static bool
pass_open(struct privs_pass *p, const struct plan *plan, PGconn *tgt, struct pgs_error *err)
{
	PGresult *res = pg_query(tgt, "SELECT current_user", 0, NULL, err);

	memset(p, 0, sizeof(*p));
	buf_init(&p->undo);
	if (!res)
		return false;
	p->tgt = tgt;
	p->login = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	p->map = (struct role_map) {plan, p->login, &p->roles};
	return privs_role_names(tgt, &p->roles, err);
}

bool
schema_privs_apply(struct run *run, PGconn *src, PGconn *tgt, struct pgs_error *err)
{
	const struct plan *plan = run->plan;
	struct privs pv = {0};
	struct privs_pass p;
	bool ok;

	if (plan->schema.owners == OWNERS_TARGET_ROLE && plan->schema.privileges == PRIVILEGES_DROP)
		return true;
	ok = pass_open(&p, plan, tgt, err) && privs_load(src, run->cat, &pv, err) &&
		pg_exec(tgt, "BEGIN", 0, NULL, err);
	if (ok) {
		ok = apply_objects(&p, run, &pv, err) && pg_exec(tgt, "COMMIT", 0, NULL, err);
		if (!ok)
			PQclear(PQexec(tgt, "ROLLBACK"));
	}
	if (ok)
		log_info("schema.post: owners and privileges of %zu object(s) set as on the source "
				 "(%zu statement(s))", pv.n, p.statements);
	privs_free(&pv);
	strlist_free(&p.roles);
	free(p.login);
	buf_free(&p.undo);
	return ok;
}
