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

static bool
drop_object(PGconn *dst, const struct created_object *o, struct pgs_error *err)
{
	const char *kw = drop_keyword(o->kind);
	char *name, *sql;
	bool ok;

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
