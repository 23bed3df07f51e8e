/*
 * pgshift cleanup: see lifecycle.h. Order matters: the fence is undone
 * (and recorded) before the state that records it may be dropped, and
 * the source objects go before the state so a failure leaves the state
 * that says what is still to clean; triggers held for the replay get
 * their state back before the state that records it goes. Replica
 * identities are restored only on request (--restore-identity); otherwise
 * cleanup says which are left.
 */
#include <stdio.h>

#include "cdc/identity_restore.h"
#include "lifecycle/lifecycle.h"
#include "pg/conn.h"
#include "state/state.h"
#include "steps/cleanup.h"
#include "steps/fence.h"
#include "steps/steps.h"
#include "util/log.h"

static bool
do_unfence(struct state *st, PGconn *src, bool has_run, struct pgs_error *err)
{
	if (!unfence_source(src, err))
		return false;
	log_info("cleanup: the source database is writable again for new sessions "
			 "(default_transaction_read_only reset)");
	return !has_run || state_set_fenced(st, false, err);
}

/*
 * Whether the run recorded fence_writes without a later --unfence or
 * rollback, and the source database is read-only still.
 */
static bool
still_fenced(const struct plan *plan, PGconn *src)
{
	struct run_state rs;
	struct pgs_error ignored;
	bool exists = false, fenced, db = false;

	pgs_error_clear(&ignored);
	if (!state_read(plan, &rs, &exists, &ignored) || !exists)
		return false;
	fenced = rs.fenced;
	run_state_free(&rs);
	return fenced && database_fenced(src, &db, &ignored) && db;
}

/*
 * Without --unfence: a source left fenced is said, with what lifts it now.
 * A kept reverse stream means a cutover fenced it, state or not.
 */
static void
say_fenced(const struct plan *plan, PGconn *src, bool kept)
{
	struct pgs_error ignored;
	bool db = false;

	pgs_error_clear(&ignored);
	if (kept ? !database_fenced(src, &db, &ignored) || !db : !still_fenced(plan, src))
		return;
	if (kept)
		log_warning("cleanup: the source database stays fenced (read-only for new sessions) "
					"while the reverse stream is kept: \"pgshift rollback %s --yes\" moves the "
					"application back and unfences it; \"pgshift cleanup %s --force --unfence\" "
					"gives up the way back and unfences it now", plan->file, plan->file);
	else
		log_warning("cleanup: the source database is still fenced (read-only for new sessions); "
					"\"pgshift cleanup %s --unfence\" undoes it", plan->file);
}

/* Nothing is replayed once cleanup holds the lock: held triggers get their state back. */
static bool
restore_held(const struct plan *plan, struct pgs_error *err)
{
	struct pg_session s = {"target", "pgshift cleanup", false, false, false, false};
	PGconn *dst = pg_connect(plan->target_uri, &s, err);
	bool ok = dst && held_triggers_restore(dst, plan->name, "cleanup", err);

	PQfinish(dst);
	return ok;
}

static bool
cleanup_locked(const struct plan *plan, struct state *st, bool unfence, bool restore_identity,
			   bool kept, struct pgs_error *err)
{
	struct pg_session s = {"source", "pgshift cleanup", false, false, false, false};
	struct created_object *objs;
	size_t n;
	bool has_run, ok;
	PGconn *src;

	if (!state_list_objects(st, &has_run, &objs, &n, err))
		return false;
	created_objects_free(objs, n);
	src = pg_connect(plan->source_uri, &s, err);
	if (!src)
		return false;
	if (!unfence)
		say_fenced(plan, src, kept);
	ok = (!unfence || do_unfence(st, src, has_run, err)) && cleanup_cdc_objects(plan, src, err) &&
		(restore_identity ? identity_restore_all(st, src, err)
		 : identity_report_left(st, plan->file, err));
	PQfinish(src);
	if (!ok || (has_run && !restore_held(plan, err)))
		return false;
	if (plan->cleanup.keep_state) {
		log_info("cleanup: keeping the state in schema pgshift on the target (keep_state)");
		return true;
	}
	if (!state_drop(st, err))
		return false;
	log_info("cleanup: dropped the state of plan \"%s\" on the target", plan->name);
	return true;
}

enum lifecycle_result
cleanup_plan(const struct plan *plan, bool unfence, bool restore_identity, bool force,
			 struct pgs_error *err)
{
	bool locked = false, kept;
	enum lifecycle_result rc = cleanup_reverse(plan, force, unfence, &kept, err);
	struct state *st;
	bool ok;

	/* first: a reverse stream still kept refuses --unfence before anything changed */
	if (rc != LIFECYCLE_OK)
		return rc;
	st = state_open(plan, &locked, err);
	if (!st)
		return locked ? LIFECYCLE_LOCKED : LIFECYCLE_FAILED;
	ok = cleanup_locked(plan, st, unfence, restore_identity, kept, err);
	state_close(st);
	return ok ? LIFECYCLE_OK : LIFECYCLE_FAILED;
}
