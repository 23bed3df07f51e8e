/*
 * pgshift reset: see lifecycle.h. It drops exactly what pgshift.manifest
 * lists (every object that appeared on the target since the run's first
 * schema.pre, state_manifest.c) and the roles of pgshift.created_objects,
 * dependents first, never with CASCADE unless asked: an object someone
 * else made that depends on one of them (a view on a migrated table, a
 * table in a schema apply created) makes reset refuse, naming it, before
 * anything is dropped. Each DROP runs on its own (IF EXISTS, so a reset
 * interrupted half way can be run again) rather than in one transaction
 * whose lock count would grow with the number of tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle/lifecycle.h"
#include "lifecycle/reset_int.h"
#include "pg/conn.h"
#include "state/state.h"
#include "steps/steps.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/redact.h"

struct reset {
	const struct plan *plan;
	struct manifest m;
	struct drop_group *groups;          /* owned; in drop order */
	size_t ngroups;
	struct created_object *created;     /* owned: roles (and an older pgshift's objects) */
	size_t ncreated;
	bool has_run;
};

static void
print_plan(const struct reset *r)
{
	char *target = redact_conninfo(r->plan->target_uri);

	printf("pgshift reset of plan %s drops on the target (%s):\n", r->plan->name, target);
	for (size_t g = 0; g < r->ngroups; g++)
		for (size_t i = 0; i < r->groups[g].n; i++) {
			const struct manifest_object *o = &r->m.objects[r->groups[g].members[i]];

			printf("  %s %s\n", o->kind, o->identity);
		}
	for (size_t i = 0; i < r->ncreated; i++)
		printf("  %s %s%s%s\n", r->created[i].kind, r->created[i].schema ? r->created[i].schema : "",
			   r->created[i].schema ? "." : "", r->created[i].name);
	if (r->has_run)
		printf("  state of plan %s in schema pgshift (runs, steps, manifest)\n", r->plan->name);
	for (size_t i = 0; i < r->m.nforeign; i++)
		printf("  not created by apply: %s (depends on %s)\n", r->m.foreign[i].dependent,
			   r->m.foreign[i].on);
	fflush(stdout);
	free(target);
}

/* Objects apply did not create that depend on what it did: refused, each named. */
static void
refuse_foreign(const struct reset *r, struct pgs_error *err)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < r->m.nforeign; i++)
		buf_printf(&b, "%s%s depends on %s", i ? "; " : "", r->m.foreign[i].dependent,
				   r->m.foreign[i].on);
	pgs_fail(err, "%zu object(s) that apply did not create depend on what it created; nothing "
			 "was dropped: %s", r->m.nforeign, b.data);
	pgs_error_hint(err, "drop or move them first, or run \"pgshift reset %s --yes --cascade\" to "
				   "drop them too", r->plan->file);
	buf_free(&b);
}

/* Checked before anything is dropped, so reset never stops half way over a kind. */
static bool
all_droppable(const struct reset *r, struct pgs_error *err)
{
	for (size_t i = 0; i < r->m.nobjects; i++)
		if (!reset_can_drop(r->m.objects[i].kind)) {
			pgs_fail(err, "reset has no DROP for %s %s, which apply created; nothing was dropped",
					 r->m.objects[i].kind, r->m.objects[i].identity);
			pgs_error_hint(err, "drop it by hand, then run reset again");
			return false;
		}
	return true;
}

static bool
drop_all(const struct reset *r, bool cascade, struct pgs_error *err)
{
	struct pg_session s = {"target", "pgshift reset", false, false, false, false};
	PGconn *dst = pg_connect(r->plan->target_uri, &s, err);
	/* first: a table reset does not drop keeps its triggers' and rules' real state */
	bool ok = dst && held_triggers_restore(dst, r->plan->name, "reset", err);

	for (size_t i = 0; cascade && i < r->m.nforeign; i++)
		log_warning("reset --cascade: drops %s, not created by apply (depends on %s)",
					r->m.foreign[i].dependent, r->m.foreign[i].on);
	for (size_t g = 0; ok && g < r->ngroups; g++)
		ok = reset_drop_group(dst, &r->m, &r->groups[g], cascade, err);
	/* roles last, once nothing of the plan's is theirs any more */
	for (size_t i = 0; ok && i < r->ncreated; i++)
		ok = reset_drop_created(dst, &r->created[i], err);
	PQfinish(dst);
	return ok;
}

static enum lifecycle_result
reset_locked(struct reset *r, struct state *st, const struct reset_opts *o, struct pgs_error *err)
{
	enum lifecycle_result rc;
	size_t n;

	if (!state_list_objects(st, &r->has_run, &r->created, &r->ncreated, err) ||
		!state_manifest_read(st, &r->m, err))
		return LIFECYCLE_FAILED;
	if (r->m.nobjects == 0 && r->ncreated == 0 && !r->has_run) {
		printf("pgshift reset of plan %s: nothing to drop on the target\n", r->plan->name);
		return reset_reverse(r->plan, o->force, err);
	}
	r->ngroups = reset_order(&r->m, &r->groups);
	print_plan(r);
	if (!o->yes) {
		pgs_fail(err, "reset drops data; nothing was dropped");
		pgs_error_hint(err, "run \"pgshift reset %s --yes\" to drop what is listed above",
					   r->plan->file);
		return LIFECYCLE_REFUSED;
	}
	if (r->m.nforeign > 0 && !o->cascade) {
		refuse_foreign(r, err);
		return LIFECYCLE_FAILED;
	}
	if (!all_droppable(r, err))
		return LIFECYCLE_FAILED;
	/* first: a kept reverse stream refuses before anything is dropped */
	rc = reset_reverse(r->plan, o->force, err);
	if (rc != LIFECYCLE_OK)
		return rc;
	if (!drop_all(r, o->cascade, err) || !state_drop_all(st, err))
		return LIFECYCLE_FAILED;
	n = r->m.nobjects + r->ncreated;
	printf("dropped %zu object(s) and the state of plan %s\n", n, r->plan->name);
	if (r->plan->cdc.enabled)
		log_info("reset leaves the source alone; \"pgshift cleanup %s\" drops the slot "
				 "and the publication", r->plan->file);
	return LIFECYCLE_OK;
}

enum lifecycle_result
reset_plan(const struct plan *plan, const struct reset_opts *o, struct pgs_error *err)
{
	struct reset r = {.plan = plan};
	bool locked = false;
	struct state *st = state_open(plan, &locked, err);
	enum lifecycle_result rc;

	if (!st)
		return locked ? LIFECYCLE_LOCKED : LIFECYCLE_FAILED;
	rc = reset_locked(&r, st, o, err);
	state_close(st);
	manifest_free(&r.m);
	drop_groups_free(r.groups, r.ngroups);
	created_objects_free(r.created, r.ncreated);
	return rc;
}
