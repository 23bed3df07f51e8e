/*
 * What `pgshift cleanup` and `pgshift reset` do with the reverse stream of rollback.enabled
 * (README "Rollback"). It is kept while a rollback may still be needed:
 * until rollback.keep_for has passed since the cutover created it, unless
 * the rollback is done or --force says so. Kept, it is left whole, and
 * --unfence of the source is refused: the application writing into the
 * source would collide with the changes the stream replays there. Ended,
 * it goes in the order that leaves a record of what is left: the source's
 * sequences set from the target's when no rollback finished (rows it
 * replayed hold the target's keys), the target's
 * slot (ending a dead follower's walsender) and publication, the spool, the
 * rollback's fence of the target (with --unfence), last the row on the
 * source, and then the source's schema pgshift if nothing else uses it. reset refuses a kept stream instead (unless --force) and undoes
 * the rollback's fence of the target with it. Idempotent; a plan whose cutover never created the stream only
 * gets the (absent) slot and publication looked for.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cdc/cdc_slot.h"
#include "cdc/spool_owner.h"
#include "lifecycle/lifecycle.h"
#include "lifecycle/rollback.h"
#include "pg/catalog.h"
#include "pg/conn.h"
#include "state/reverse_state.h"
#include "steps/fence.h"
#include "steps/steps.h"
#include "util/fs.h"
#include "util/log.h"

/* What the reverse row says: whether the stream is still kept (until when), the target fenced. */
struct reverse_kept {
	bool kept;
	bool fenced;                /* the rollback fenced the target */
	bool replayed;              /* a stream no rollback finished: it may have replayed into the source */
	char until[32];
	char applied[32];           /* how far it replayed */
};

static bool
still_kept(const struct plan *plan, PGconn *src, bool force, struct reverse_kept *k,
		   struct pgs_error *err)
{
	struct reverse_state rs = {0};
	bool found;
	double until;
	time_t t;

	memset(k, 0, sizeof(*k));
	if (!reverse_state_read(src, plan, &rs, &found, err))
		return false;
	if (!found)
		return true;
	until = rs.started_at + (double) plan->rollback.keep_for_ms / 1000.0;
	t = (time_t) until;
	strftime(k->until, sizeof(k->until), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
	k->kept = strcmp(rs.status, "finished") != 0 && rs.now < until && !force;
	k->fenced = rs.fenced;
	k->replayed = strcmp(rs.status, "finished") != 0;
	snprintf(k->applied, sizeof(k->applied), "%s", rs.applied_lsn ? rs.applied_lsn : "?");
	reverse_state_free(&rs);
	return true;
}

/*
 * The stream ends without a rollback: whatever it replayed into the source
 * holds keys of the target's sequences, so the source's are set from them
 * now, before any unfence (this one or a later one) lets the application
 * draw from them.
 */
static bool
sync_replayed(const struct plan *plan, PGconn *tgt, PGconn *src, const struct reverse_kept *k,
			  const char *who, struct pgs_error *err)
{
	struct catalog cat;
	bool ok;

	if (!k->replayed)
		return true;
	if (!catalog_load(tgt, plan, &cat, err))
		return false;
	ok = reverse_sequences_sync(plan, tgt, src, &cat, who, err);
	catalog_free(&cat);
	if (ok)
		log_info("%s: the source holds the target's changes replayed up to %s, not those the "
				 "target committed after; its sequences are ahead of the target's keys", who,
				 k->applied);
	return ok;
}

/* cleanup without --unfence: the rollback's fence of the target stays, said. */
static bool
say_target_fenced(PGconn *tgt, const struct plan *plan, struct pgs_error *err)
{
	bool fenced;

	if (!database_fenced(tgt, &fenced, err))
		return false;
	if (fenced)
		log_warning("cleanup: the TARGET database is still fenced (read-only for new sessions, as "
					"`pgshift rollback` left it); \"pgshift cleanup %s --unfence\" makes it "
					"writable again", plan->file);
	return true;
}

static bool
drop_target_objects(const struct plan *plan, PGconn *src, const struct reverse_kept *k,
					bool unfence, bool reset, struct pgs_error *err)
{
	struct pg_session s = {"target", reset ? "pgshift reset" : "pgshift cleanup", false, false,
		false, false};
	PGconn *tgt = pg_connect(plan->target_uri, &s, err);
	bool slot = false, pub = false, ok;

	ok = tgt && sync_replayed(plan, tgt, src, k, reset ? "reset" : "cleanup", err) &&
		cdc_drop_slot(tgt, plan->rollback.slot, &slot, err) &&
		cdc_drop_publication(tgt, plan->rollback.publication, &pub, err) &&
		(unfence ? unfence_source(tgt, err) : reset || say_target_fenced(tgt, plan, err));
	PQfinish(tgt);
	if (!ok) {
		pgs_error_prefix(err, "cleanup: the reverse stream on the target");
		return false;
	}
	log_info("cleanup: reverse stream: %s replication slot \"%s\", %s publication \"%s\" on the "
			 "target%s", slot ? "dropped" : "no", plan->rollback.slot, pub ? "dropped" : "no",
			 plan->rollback.publication,
			 unfence ? "; the target database is writable again for new sessions" : "");
	return true;
}

/* The source's triggers the reverse stream held (a rollback restored them already). */
static bool
restore_triggers(PGconn *src, const struct plan *plan, struct pgs_error *err)
{
	bool exists;

	return reverse_state_schema_exists(src, &exists, err) &&
		(!exists || held_triggers_restore(src, plan->rollback.slot, "cleanup", err));
}

/* The reverse stream made schema pgshift on the source; it goes with the last use of it. */
static bool
drop_source_schema(PGconn *src, struct pgs_error *err)
{
	bool dropped;

	if (!reverse_state_drop_schema_if_unused(src, &dropped, err)) {
		/* the reverse stream is gone all the same: a schema kept is not a failure */
		pgs_error_prefix(err, "cleanup: kept schema pgshift on the source");
		log_report(LOG_WARNING, err);
		pgs_error_clear(err);
		return true;
	}
	if (dropped)
		log_info("cleanup: dropped schema pgshift on the source (nothing uses it any more)");
	return true;
}

/* Why a kept stream stops this command; false when it does not. */
static bool
refused_kept(const struct plan *plan, const struct reverse_kept *k, bool unfence, bool reset,
			 struct pgs_error *err)
{
	if (!k->kept)
		return false;
	if (reset) {
		pgs_fail(err, "reset: the reverse stream of plan \"%s\" is kept until %s "
				 "(rollback.keep_for): the application may be writing to the target's tables "
				 "since the cutover; nothing was dropped", plan->name, k->until);
		pgs_error_hint(err, "roll back first with `pgshift rollback %s`, or drop them anyway "
					   "with `pgshift reset %s --yes --force`", plan->file, plan->file);
		return true;
	}
	if (!unfence) {
		log_info("cleanup: keeping the reverse stream (replication slot \"%s\" on the target) "
				 "until %s (rollback.keep_for); --force ends it now", plan->rollback.slot, k->until);
		return false;
	}
	pgs_fail(err, "cleanup --unfence: the source stays fenced while the reverse stream "
			 "of plan \"%s\" is kept: it replays the target's writes into the source", plan->name);
	pgs_error_hint(err, "roll back with `pgshift rollback %s --yes` (every write of the target "
				   "reaches the source, then its sequences are set and it is unfenced), or give "
				   "up the way back with `pgshift cleanup %s --force --unfence` (the source keeps "
				   "only what was replayed so far; its sequences are set from the target's "
				   "first)", plan->file, plan->file);
	return true;
}

/*
 * reset: a kept stream refuses (the target's tables may be production now),
 * and the rollback's fence of the target goes with the stream, as the
 * target is started over.
 */
static enum lifecycle_result
end_reverse(const struct plan *plan, bool force, bool unfence, bool reset, bool *kept,
			struct pgs_error *err)
{
	struct pg_session ps = {"source", reset ? "pgshift reset" : "pgshift cleanup", false, false,
		false, false};
	struct reverse_kept k;
	PGconn *src;
	bool got;
	enum lifecycle_result rc = LIFECYCLE_FAILED;

	if (!plan->rollback.enabled)
		return LIFECYCLE_OK;
	src = pg_connect(plan->source_uri, &ps, err);
	if (!src || !reverse_state_lock(src, plan, &got, err))
		goto out;
	if (!got) {
		reverse_in_use(plan, src, err);
		rc = LIFECYCLE_LOCKED;
		goto out;
	}
	if (!still_kept(plan, src, force, &k, err) || refused_kept(plan, &k, unfence, reset, err))
		goto out;
	if (reset)
		unfence = k.fenced;
	if (kept)
		*kept = k.kept;
	if (k.kept ||
		(drop_target_objects(plan, src, &k, unfence, reset, err) &&
		 spool_remove_own(plan->rollback.spool_dir, plan->name, err) &&
		 restore_triggers(src, plan, err) && reverse_state_drop(src, plan, err) &&
		 drop_source_schema(src, err)))
		rc = LIFECYCLE_OK;
	else if (!err->message[0])
		pgs_fail(err, "could not remove the reverse spool directory \"%s\": %m",
				 plan->rollback.spool_dir);
out:
	PQfinish(src);
	return rc;
}

enum lifecycle_result
cleanup_reverse(const struct plan *plan, bool force, bool unfence, bool *kept,
				struct pgs_error *err)
{
	*kept = false;
	return end_reverse(plan, force, unfence, false, kept, err);
}

enum lifecycle_result
reset_reverse(const struct plan *plan, bool force, struct pgs_error *err)
{
	return end_reverse(plan, force, false, true, NULL, err);
}
