/*
 * Collecting the roles the restored schema names; see roles_needed.h. A role
 * is listed once, under its target name, with the first object naming it.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "pg/roles_needed.h"
#include "util/xalloc.h"

static const char policy_roles_sql[] =
	"SELECT r.rolname, min('policy ' || p.polname || ' on ' || pg_catalog.quote_ident(n.nspname)"
	"  || '.' || pg_catalog.quote_ident(c.relname))"
	" FROM pg_catalog.pg_policy p"
	" JOIN pg_catalog.pg_class c ON c.oid = p.polrelid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" CROSS JOIN LATERAL pg_catalog.unnest(p.polroles) AS pr(roleid)"
	" JOIN pg_catalog.pg_roles r ON r.oid = pr.roleid"
	" WHERE n.nspname = ANY ($1::text[])"
	" GROUP BY r.rolname";

static void
add_role(struct roles_needed *r, size_t *cap, const char *src, const char *tgt, char *named_by,
		 bool owns)
{
	bool policy = strncmp(named_by, "policy ", 7) == 0;

	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->roles[i].target, tgt) == 0) {
			r->roles[i].owns |= owns;
			r->roles[i].policy_only &= policy;
			free(named_by);
			return;
		}
	if (r->n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		r->roles = xrealloc(r->roles, *cap * sizeof(*r->roles));
	}
	r->roles[r->n++] = (struct needed_role) {xstrdup(src), xstrdup(tgt), named_by, owns, policy,
											 false};
}

static void
add_grantees(struct roles_needed *r, size_t *cap, const struct role_map *m,
			 const struct priv_object *o)
{
	for (size_t g = 0; g < o->ngrants; g++) {
		size_t len = strcspn(o->grants[g], "\x1e");
		char *src = xstrndup(o->grants[g], len);

		if (strcmp(src, "PUBLIC") != 0 && strcmp(src, o->owner) != 0)
			add_role(r, cap, src, plan_map_role(m->plan, src),
					 xasprintf("a GRANT on %s %s", o->kind, o->ident), false);
		free(src);
	}
}

static void
add_privs_roles(struct roles_needed *r, size_t *cap, const struct role_map *m,
				const struct privs *pv)
{
	bool grants = m->plan->schema.privileges == PRIVILEGES_KEEP;

	for (size_t i = 0; i < pv->n; i++) {
		const struct priv_object *o = &pv->objs[i];
		bool deflt = strcmp(o->kind, "DEFAULT") == 0;

		if (deflt && !grants)
			continue;
		if (deflt || (m->plan->schema.owners != OWNERS_TARGET_ROLE && strcmp(o->kind, "COLUMN") != 0))
			add_role(r, cap, o->owner, role_map_owner(m, o->owner),
					 deflt ? xasprintf("default privileges %s%sON %s", o->ident,
									   *o->ident ? " " : "", o->column)
					 : xasprintf("owner of %s %s", o->kind, o->ident), true);
		if (grants)
			add_grantees(r, cap, m, o);
	}
}

static bool
add_policy_roles(PGconn *src, const struct catalog *cat, struct roles_needed *r, size_t *cap,
				 struct pgs_error *err)
{
	char *schemas = privs_text_array(cat->schemas, cat->nschemas);
	const char *params[1] = {schemas};
	PGresult *res = pg_query(src, policy_roles_sql, 1, params, err);

	free(schemas);
	for (int i = 0; res && i < PQntuples(res); i++)
		add_role(r, cap, PQgetvalue(res, i, 0), PQgetvalue(res, i, 0),
				 xstrdup(PQgetvalue(res, i, 1)), false);
	PQclear(res);
	return res != NULL;
}

static int
cmp_target(const void *a, const void *b)
{
	return strcmp(((const struct needed_role *) a)->target, ((const struct needed_role *) b)->target);
}

bool
roles_needed_load(PGconn *src, PGconn *dst, const struct plan *plan, const struct catalog *cat,
				  const struct privs *pv, struct roles_needed *out, struct pgs_error *err)
{
	/* no target_roles: the names as mapped, whether the target has them or not */
	struct role_map m = {plan, "", NULL};
	struct strlist have;
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	add_privs_roles(out, &cap, &m, pv);
	if (!add_policy_roles(src, cat, out, &cap, err) || !privs_role_names(dst, &have, err)) {
		roles_needed_free(out);
		return false;
	}
	for (size_t i = 0; i < out->n; i++)
		out->roles[i].on_target = privs_has_name(&have, out->roles[i].target);
	if (out->n > 1)
		qsort(out->roles, out->n, sizeof(*out->roles), cmp_target);
	strlist_free(&have);
	return true;
}

size_t
roles_needed_missing(const struct roles_needed *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += !r->roles[i].on_target;
	return n;
}

void
roles_needed_free(struct roles_needed *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->roles[i].source);
		free(r->roles[i].target);
		free(r->roles[i].named_by);
	}
	free(r->roles);
	memset(r, 0, sizeof(*r));
}
