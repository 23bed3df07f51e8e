/*
 * verify level schema, owners and privileges (README "Owners, privileges
 * and roles"): when the plan keeps them (schema.owners keep or map,
 * schema.privileges keep), every object privs.h reads must have on the
 * target the source's owner and ACL, role names mapped as the schema steps
 * mapped them. Roles are compared by name, never by oid: the two servers'
 * oids have nothing in common. The grantor of a grant is not compared: on
 * the target it is the owner, whoever granted it on the source.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "pg/privs.h"
#include "util/xalloc.h"
#include "verify/verify.h"

struct privs_cmp {
	const struct plan *plan;
	struct role_map map;
	struct verify_report *r;
};

static size_t
entry_of(struct privs_cmp *c, const struct priv_object *o)
{
	char *name = o->column && strcmp(o->kind, "DEFAULT") != 0
		? xasprintf("%s %s (%s)", o->kind, o->ident, o->column)
		: strcmp(o->kind, "DEFAULT") == 0
		? xasprintf("DEFAULT PRIVILEGES FOR ROLE %s %s%sON %s", role_map_owner(&c->map, o->owner),
					o->ident, *o->ident ? " " : "", o->column)
		: xasprintf("%s %s", o->kind, o->ident);
	size_t e = verify_report_add(c->r, "privileges", NULL, name);

	free(name);
	return e;
}

static void
compare_one(struct privs_cmp *c, const struct priv_object *o, const struct privs *tv)
{
	const char *owner = role_map_owner(&c->map, o->owner);
	const struct priv_object *t = privs_find(tv, o, owner);
	bool deflt = strcmp(o->kind, "DEFAULT") == 0, acl = c->plan->schema.privileges == PRIVILEGES_KEEP;
	char *want, *have;

	if (deflt && role_map_fell_back(&c->map, o->owner))
		return;
	if (!t) {
		want = acl && (deflt || strcmp(o->kind, "COLUMN") == 0) ? privs_expected_grants(&c->map, o)
			: NULL;
		/* grants that were all dropped leave nothing on the target */
		if (want && *want)
			verify_note(c->r, entry_of(c, o), VS_FAIL, "missing on the %s", c->r->dst_side);
		free(want);
		return;
	}
	if (!deflt && c->plan->schema.owners != OWNERS_TARGET_ROLE && strcmp(t->owner, owner) != 0 &&
		strcmp(o->kind, "COLUMN") != 0)
		verify_note(c->r, entry_of(c, o), VS_FAIL, "owner is %s on the %s, %s on the %s%s%s",
					t->owner, c->r->dst_side, o->owner, c->r->src_side,
					strcmp(owner, o->owner) ? " (mapped to " : "",
					strcmp(owner, o->owner) ? owner : "");
	/* as the schema steps: under target_role, what another role owns on the target is its own */
	if (!acl || (c->plan->schema.owners == OWNERS_TARGET_ROLE && strcmp(t->owner, c->map.login) != 0))
		return;
	want = privs_expected_grants(&c->map, o);
	have = privs_grants_text(t);
	if (strcmp(want, have) != 0)
		verify_note(c->r, entry_of(c, o), VS_FAIL,
					"privileges differ: expected {%s}, the %s has {%s}", want, c->r->dst_side,
					have);
	free(want);
	free(have);
}

bool
verify_privs(const struct plan *plan, const struct catalog *cat, PGconn *src, PGconn *dst,
			 struct verify_report *r, struct pgs_error *err)
{
	struct privs sv = {0}, tv = {0};
	struct strlist roles = {0};
	PGresult *res;
	struct privs_cmp c = {plan, {plan, NULL, &roles}, r};
	bool ok;

	if (plan->schema.owners == OWNERS_TARGET_ROLE && plan->schema.privileges == PRIVILEGES_DROP)
		return true;
	res = pg_query(dst, "SELECT current_user", 0, NULL, err);
	if (!res)
		return false;
	c.map.login = PQgetvalue(res, 0, 0);
	ok = privs_role_names(dst, &roles, err) && privs_load(src, cat, &sv, err) &&
		privs_load(dst, cat, &tv, err);
	for (size_t i = 0; ok && i < sv.n; i++)
		compare_one(&c, &sv.objs[i], &tv);
	privs_free(&sv);
	privs_free(&tv);
	strlist_free(&roles);
	PQclear(res);
	return ok;
}
