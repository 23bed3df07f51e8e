/*
 * pgshift reset: see lifecycle.h. It drops only what pgshift.created_objects
 * lists (apply recorded each object it created, never one that existed
 * before), so CASCADE there removes nothing the operator made outside the
 * migration's own objects. Each DROP runs on its own (IF EXISTS, so a reset
 * interrupted half way can be run again) rather than in one transaction
 * whose lock count would grow with the number of tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle/lifecycle.h"
#include "pg/conn.h"
#include "state/state.h"
#include "steps/steps.h"
#include "util/log.h"
#include "util/redact.h"
#include "util/xalloc.h"

static const struct {
	const char *kind, *sql;
} drop_kinds[] = {
	{"materialized view", "MATERIALIZED VIEW"},
	{"view", "VIEW"},
	{"table", "TABLE"},
	{"sequence", "SEQUENCE"},
	{"extension", "EXTENSION"},
	{"schema", "SCHEMA"},
};

static const char *
drop_keyword(const char *kind)
{
	for (size_t i = 0; i < sizeof(drop_kinds) / sizeof(drop_kinds[0]); i++)
		if (strcmp(drop_kinds[i].kind, kind) == 0)
			return drop_kinds[i].sql;
	return NULL;
}

static void
print_plan(const struct plan *plan, const struct created_object *objs, size_t n, bool has_run)
{
	char *target = redact_conninfo(plan->target_uri);

	printf("pgshift reset of plan %s drops on the target (%s):\n", plan->name, target);
	for (size_t i = 0; i < n; i++)
		printf("  %s %s%s%s\n", objs[i].kind, objs[i].schema ? objs[i].schema : "",
			   objs[i].schema ? "." : "", objs[i].name);
	if (has_run)
		printf("  state of plan %s in schema pgshift (runs, steps, created_objects)\n",
			   plan->name);
	fflush(stdout);
	free(target);
}

/*
 * Roles are the cluster's, not the database's: one apply created is dropped
 * unless something still uses it (an object in another database, a grant,
 * a membership), which DROP ROLE refuses with 2BP01; it is then kept, named.
 */
/*
 * The role's own default privileges (FOR ROLE r, in no schema) were set by
 * apply, the role being apply's: put back to the built-in ones, which
 * removes them, so they do not keep the role alive. Those of a schema went
 * with it.
 */
static const char role_defaults_sql[] =
	"SELECT pg_catalog.format('ALTER DEFAULT PRIVILEGES FOR ROLE %1$I REVOKE ALL ON %2$s FROM PUBLIC%3$s;"
	" ALTER DEFAULT PRIVILEGES FOR ROLE %1$I GRANT ALL ON %2$s TO %1$I%4$s', r.rolname, c.class,"
	"  (SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format(', %I', g.rolname), '')"
	"    FROM pg_catalog.aclexplode(d.defaclacl) e JOIN pg_catalog.pg_roles g ON g.oid = e.grantee"
	"    WHERE g.rolname <> r.rolname),"
	"  CASE WHEN d.defaclobjtype IN ('f', 'T') THEN ', PUBLIC' ELSE '' END)"
	" FROM pg_catalog.pg_default_acl d JOIN pg_catalog.pg_roles r ON r.oid = d.defaclrole"
	" CROSS JOIN LATERAL (SELECT CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES'"
	"  WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END AS class) c"
	" WHERE r.rolname = $1 AND d.defaclnamespace = 0";

static bool
reset_role_defaults(PGconn *dst, const char *role, struct pgs_error *err)
{
	const char *params[1] = {role};
	PGresult *res = pg_query(dst, role_defaults_sql, 1, params, err);
	bool ok = res != NULL;

	for (int r = 0; ok && r < PQntuples(res); r++)
		ok = pg_exec(dst, PQgetvalue(res, r, 0), 0, NULL, err);
	PQclear(res);
	return ok;
}

static bool
drop_role(PGconn *dst, const struct created_object *o, struct pgs_error *err)
{
	char *q = pg_quote_ident(dst, o->name);
	char *sql = xasprintf("DROP ROLE IF EXISTS %s", q);
	struct pgs_error used;
	bool ok;

	if (!reset_role_defaults(dst, o->name, err)) {
		pgs_error_prefix(err, "could not reset the default privileges of role %s", q);
		free(sql);
		free(q);
		return false;
	}
	pgs_error_clear(&used);
	ok = pg_exec(dst, sql, 0, NULL, &used);
	if (ok)
		log_info("reset: dropped role %s (created by apply)", q);
	else if (strcmp(used.sqlstate, "2BP01") == 0)
		log_warning("reset: kept role %s, created by apply: it is still used (%s)", q,
					used.detail[0] ? used.detail : used.message);
	else
		*err = used;
	free(sql);
	free(q);
	return ok || strcmp(used.sqlstate, "2BP01") == 0;
}

static bool
drop_object(PGconn *dst, const struct created_object *o, struct pgs_error *err)
{
	const char *kw = drop_keyword(o->kind);
	char *name, *sql;
	bool ok;

	if (strcmp(o->kind, "role") == 0)
		return drop_role(dst, o, err);
	if (!kw)
		return pgs_fail(err, "pgshift.created_objects lists %s \"%s\" of unknown kind \"%s\"; "
						"it was left alone", o->kind, o->name, o->kind);
	name = o->schema ? pg_quote_qualified(dst, o->schema, o->name) : pg_quote_ident(dst, o->name);
	sql = xasprintf("DROP %s IF EXISTS %s CASCADE", kw, name);
	ok = pg_exec(dst, sql, 0, NULL, err);
	if (ok)
		log_info("reset: dropped %s %s", o->kind, name);
	else
		pgs_error_prefix(err, "could not drop %s %s on the target", o->kind, name);
	free(sql);
	free(name);
	return ok;
}

static bool
drop_all(const struct plan *plan, const struct created_object *objs, size_t n,
		 struct pgs_error *err)
{
	struct pg_session s = {"target", "pgshift reset", false, false, false};
	PGconn *dst = pg_connect(plan->target_uri, &s, err);
	/* first: a table reset does not drop keeps its triggers' and rules' real state */
	bool ok = dst && held_triggers_restore(dst, plan->name, "reset", err);

	for (size_t i = 0; ok && i < n; i++)
		ok = drop_object(dst, &objs[i], err);
	PQfinish(dst);
	return ok;
}

static enum lifecycle_result
reset_locked(const struct plan *plan, struct state *st, bool yes, struct pgs_error *err)
{
	struct created_object *objs;
	size_t n;
	bool has_run;
	enum lifecycle_result rc = LIFECYCLE_FAILED;

	if (!state_list_objects(st, &has_run, &objs, &n, err))
		return LIFECYCLE_FAILED;
	if (n == 0 && !has_run) {
		printf("pgshift reset of plan %s: nothing to drop on the target\n", plan->name);
		rc = LIFECYCLE_OK;
		goto out;
	}
	print_plan(plan, objs, n, has_run);
	if (!yes) {
		pgs_fail(err, "reset drops data; nothing was dropped");
		pgs_error_hint(err, "run \"pgshift reset %s --yes\" to drop what is listed above",
					   plan->file);
		rc = LIFECYCLE_REFUSED;
		goto out;
	}
	if (drop_all(plan, objs, n, err) && state_drop(st, err)) {
		printf("dropped %zu object(s) and the state of plan %s\n", n, plan->name);
		if (plan->cdc.enabled)
			log_info("reset leaves the source alone; \"pgshift cleanup %s\" drops the slot "
					 "and the publication", plan->file);
		rc = LIFECYCLE_OK;
	}
out:
	created_objects_free(objs, n);
	return rc;
}

enum lifecycle_result
reset_plan(const struct plan *plan, bool yes, struct pgs_error *err)
{
	bool locked = false;
	struct state *st = state_open(plan, &locked, err);
	enum lifecycle_result rc;

	if (!st)
		return locked ? LIFECYCLE_LOCKED : LIFECYCLE_FAILED;
	rc = reset_locked(plan, st, yes, err);
	state_close(st);
	return rc;
}
