/*
 * pgshift rollback PLAN: the cutover run backwards (rollback.h). Each phase
 * is safe to run again, so a rollback that failed or was killed is resumed
 * by running the command again: the fence is idempotent and recorded
 * before it is applied, the reverse stream continues from its spool and
 * applied LSN, sequences are set again, verify reads again. Only the last
 * phase, unfencing the source, lets the application write to it, and it
 * runs only once verify found no difference.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cdc/cdc_slot.h"
#include "cdc/pgoutput.h"
#include "events/events.h"
#include "hooks/hooks.h"
#include "lifecycle/reverse_stream.h"
#include "lifecycle/rollback.h"
#include "notify/notify.h"
#include "pg/catalog.h"
#include "pg/conn.h"
#include "plan/plan_reverse.h"
#include "run/run.h"
#include "run/stop.h"
#include "state/reverse_state.h"
#include "state/state.h"
#include "steps/fence.h"
#include "steps/steps.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/test_crash.h"
#include "verify/verify.h"

#define POLL_MS 50

struct rollback {
	const struct plan *plan;
	struct plan rev;            /* the reverse plan: target -> source (borrowed strings) */
	struct reverse_session s;
	struct state *forward;      /* the forward run's, locked: its fence of the source is undone too */
	struct reverse_stream rs;
	bool streaming;
	struct event_bus *bus;      /* owned */
	struct hooks_notifier notifier;
	PGconn *tgt;                /* owned; a writable session on the target */
	struct catalog cat;         /* the target's tables and sequences under the plan's filters */
	bool cat_loaded;
	/* its sessions' application_name, tagged with the forward run's id (run_app_name) */
	char app[RUN_APP_NAME_SIZE], verify_app[RUN_APP_NAME_SIZE], apply_app[RUN_APP_NAME_SIZE];
};

static const struct cutover_step *
cutover_step_of(const struct plan *plan, enum cutover_kind kind, bool last)
{
	const struct cutover_step *found = NULL;

	for (size_t i = 0; i < plan->cutover.nsteps; i++)
		if (plan->cutover.steps[i].kind == kind) {
			found = &plan->cutover.steps[i];
			if (!last)
				break;
		}
	return found;
}

static bool
emit(struct rollback *rb, const char *name, const struct pgs_error *failure, struct pgs_error *err)
{
	struct event ev = event_init(name, rb->plan->name, rb->s.run_id, name);

	if (failure)
		event_set_error(&ev, failure);
	return event_emit(rb->bus, &ev, err);
}

static bool
open_events(struct rollback *rb, struct pgs_error *err)
{
	struct notifier *nf;
	bool ok;

	rb->bus = event_bus_new();
	nf = notify_open(rb->plan, err);
	if (!nf && rb->plan->nnotify > 0)
		return false;
	rb->notifier = (struct hooks_notifier) {nf ? notify_post_text : NULL, nf};
	ok = hooks_attach_with(rb->bus, rb->plan, &rb->notifier, err);
	notify_add(rb->bus, nf);
	return ok;
}

/*
 * The gate: rollback.gate for the hooks that announce it, then on a
 * terminal the operator's yes; without one, --yes must have said it.
 */
static enum lifecycle_result
gate(struct rollback *rb, bool yes, struct pgs_error *err)
{
	char answer[16] = "";

	if (!emit(rb, "rollback.gate", NULL, err))
		return LIFECYCLE_FAILED;
	if (yes)
		return LIFECYCLE_OK;
	if (!isatty(STDIN_FILENO)) {
		pgs_fail(err, "pgshift rollback fences the target and moves the application back to the "
				 "source: without a terminal to ask, pass --yes");
		return LIFECYCLE_REFUSED;
	}
	fprintf(stderr, "pgshift will roll back plan \"%s\": fence the target database \"%s\" on %s:%s\n"
			"  and make the source database \"%s\" on %s:%s writable again.\nProceed? [y/N] ",
			rb->plan->name, PQdb(rb->tgt), PQhost(rb->tgt), PQport(rb->tgt), PQdb(rb->s.src),
			PQhost(rb->s.src), PQport(rb->s.src));
	if (fgets(answer, sizeof(answer), stdin) && (answer[0] == 'y' || answer[0] == 'Y'))
		return LIFECYCLE_OK;
	pgs_fail(err, "rollback of plan \"%s\" not confirmed: nothing was changed", rb->plan->name);
	return LIFECYCLE_REFUSED;
}

/* The fence of the cutover, on the target: recorded first, so a crash leaves the way to undo it. */
static bool
fence_target(struct rollback *rb, struct pgs_error *err)
{
	const struct cutover_step *fw = cutover_step_of(rb->plan, CUTOVER_FENCE_WRITES, false);
	long ended = 0;

	if (!reverse_state_set_fenced(rb->s.src, rb->plan, true, err) ||
		!fence_source(rb->tgt, &fw->roles, rb->plan->rollback.slot, &ended, err)) {
		pgs_error_prefix(err, "rollback: could not fence the target");
		return false;
	}
	log_info("rollback: target database read-only for new sessions; ended %ld session(s) of the "
			 "fenced roles", ended);
	return true;
}

/* A SIGINT/SIGTERM (run/stop.h, flag mode) stops the rollback where it may resume. */
static bool
interrupted(const struct rollback *rb, const char *where, struct pgs_error *err)
{
	pgs_error_clear(err);
	pgs_fail(err, "rollback of plan \"%s\" interrupted by %s %s: the source stays fenced",
			 rb->plan->name, stop_signal() == SIGINT ? "SIGINT" : "SIGTERM", where);
	pgs_error_hint(err, "run `pgshift rollback %s --yes` again: it continues where it stopped",
				   rb->plan->file);
	return false;
}

/*
 * A phase whose statement the signal watcher cancelled (reverse_session_cancel)
 * failed because of the signal: said as the interruption it is.
 */
static bool
cancelled(const struct rollback *rb, bool ok, const char *phase, struct pgs_error *err)
{
	char where[64];

	if (ok || !stop_signal())
		return ok;
	snprintf(where, sizeof(where), "during its %s", phase);
	return interrupted(rb, where, err);
}

/* The lock session on the source was opened before the run id was known: tagged now. */
static bool
tag_source_session(struct rollback *rb, struct pgs_error *err)
{
	const char *params[1] = {rb->app};
	PGresult *res = pg_query(rb->s.src, "SELECT pg_catalog.set_config('application_name', $1, "
							 "false)", 1, params, err);

	PQclear(res);
	return res != NULL;
}

/*
 * With the target fenced, its WAL position is the stop position: every
 * transaction it committed before is applied into the source once the
 * applied LSN reaches it (a keepalive moves the applied LSN only with no
 * transaction open, so nothing ends the wait early). Within the last
 * wait_for_catchup's timeout.
 */
static bool
catch_up(struct rollback *rb, struct pgs_error *err)
{
	const struct cutover_step *wc = cutover_step_of(rb->plan, CUTOVER_WAIT_FOR_CATCHUP, true);
	struct timespec poll = {0, POLL_MS * 1000000L};
	uint64_t stop, durable, applied;
	char s[PGO_LSN_TEXT_SIZE], a[PGO_LSN_TEXT_SIZE];
	double deadline = clock_mono_s() + (double) wc->timeout_ms / 1000.0;

	if (!source_wal_lsn(rb->tgt, &stop, err))
		return false;
	pgo_lsn_text(stop, s);
	log_info("rollback: applying into the source every change the target committed before %s", s);
	for (;;) {
		/* first: the signal's cancel of the applier's statement also ends the stream */
		if (stop_signal())
			return interrupted(rb, "during its catch-up", err);
		if (!reverse_stream_ok(&rb->rs, err))
			return false;
		reverse_stream_positions(&rb->rs, &durable, &applied);
		if (applied >= stop)
			break;
		if (clock_mono_s() > deadline) {
			pgo_lsn_text(applied, a);
			pgs_fail(err, "rollback: the reverse stream applied up to %s, short of the target's "
					 "stop position %s, within %" PRId64 " ms", a, s, wc->timeout_ms);
			pgs_error_hint(err, "run pgshift rollback again: it continues from there (the "
						   "timeout is the last wait_for_catchup's)");
			return false;
		}
		nanosleep(&poll, NULL);
	}
	pgo_lsn_text(applied, a);
	log_info("rollback: caught up: applied %s, target stopped at %s", a, s);
	rb->streaming = false;
	/* nothing more is replayed into the source: its held triggers get their state back */
	return reverse_stream_stop(&rb->rs, err) &&
		held_triggers_restore(rb->s.src, rb->plan->rollback.slot, "rollback", err);
}

/*
 * verify --level checksum with the directions swapped: the target's rows
 * and tables are the reference; a table or column the source has beyond
 * them fails too.
 */
static bool
verify(struct rollback *rb, struct pgs_error *err)
{
	struct verify_report r;
	struct buf out;
	bool ok;

	verify_report_init(&r, &rb->cat, VERIFY_CHECKSUM);
	r.src_side = "target";
	r.dst_side = "source";
	r.extra_fails = true;
	r.app_name = rb->verify_app;
	buf_init(&out);
	log_info("rollback: verify (checksum) of %zu table(s): the source's rows against the "
			 "target's", rb->cat.ntables);
	ok = verify_plan(&rb->rev, &rb->cat, VERIFY_CHECKSUM, &r, err);
	if (ok && verify_count_status(&r, VS_FAIL) > 0) {
		verify_failures(&r, &out);
		ok = pgs_fail(err, "rollback: the source differs from the target: %s", out.data);
		pgs_error_hint(err, "the source stays fenced; make it match the target (a schema change "
					   "made on the target after the cutover is not carried back), then run "
					   "pgshift rollback again");
	} else if (ok) {
		log_info("rollback: verify (checksum): the source is identical to the target (%zu tables)",
				 rb->cat.ntables);
	}
	buf_free(&out);
	verify_report_free(&r);
	return ok;
}

static bool
unfence(struct rollback *rb, struct pgs_error *err)
{
	if (!unfence_source(rb->s.src, err) || !state_set_fenced(rb->forward, false, err))
		return false;
	log_info("rollback: the source database is writable again for new sessions; the target stays "
			 "fenced (`pgshift cleanup %s --unfence` makes the target writable again)",
			 rb->plan->file);
	return reverse_state_set_status(rb->s.src, rb->plan, "finished", NULL, err);
}

/*
 * Nothing can follow the target any more: its slot would only keep WAL
 * until a cleanup. A failure here leaves the rollback done, said.
 */
static void
drop_reverse_slot(struct rollback *rb)
{
	struct pgs_error err;

	pgs_error_clear(&err);
	if (cdc_drop_slot(rb->tgt, rb->plan->rollback.slot, NULL, &err) &&
		cdc_drop_publication(rb->tgt, rb->plan->rollback.publication, NULL, &err)) {
		log_info("rollback: dropped the reverse replication slot and publication \"%s\" on the "
				 "target (its WAL is released)", rb->plan->rollback.slot);
		return;
	}
	pgs_error_hint(&err, "`pgshift cleanup %s` drops them", rb->plan->file);
	log_report(LOG_WARNING, &err);
}

/*
 * A phase is over: rollback.t kills the process here (util/test_crash.h) to
 * prove a rerun resumes, and a signal received meanwhile stops it here.
 */
static bool
done(const struct rollback *rb, const char *phase, struct pgs_error *err)
{
	char where[64];

	test_crash_point("after", phase);
	if (!stop_signal())
		return true;
	snprintf(where, sizeof(where), "after %s", phase);
	return interrupted(rb, where, err);
}

static bool
phases(struct rollback *rb, struct pgs_error *err)
{
	if (!emit(rb, "rollback.started", NULL, err) ||
		!reverse_state_set_status(rb->s.src, rb->plan, "running", NULL, err))
		return false;
	if (!catalog_load(rb->tgt, rb->plan, &rb->cat, err))
		return false;
	rb->cat_loaded = true;
	if (!reverse_stream_start(&rb->rs, rb->plan, rb->s.applied, rb->apply_app, err))
		return false;
	rb->streaming = true;
	return cancelled(rb, fence_target(rb, err), "fence", err) && done(rb, "rollback.fence", err) &&
		cancelled(rb, catch_up(rb, err), "catch-up", err) && done(rb, "rollback.catchup", err) &&
		cancelled(rb, reverse_sequences_sync(rb->plan, rb->tgt, rb->s.src, &rb->cat, "rollback",
											 err), "sequence sync", err) &&
		done(rb, "rollback.sequences", err) && cancelled(rb, verify(rb, err), "verify", err) &&
		done(rb, "rollback.verify", err) && unfence(rb, err);
}

static enum lifecycle_result
run(struct rollback *rb, bool yes, struct pgs_error *err)
{
	struct pg_session ts = {"target", rb->app, false, false, false, false};
	static char again[512];         /* the signal watcher's, for the life of the process */
	enum lifecycle_result rc;
	struct pgs_error failure;
	bool ok;

	if (strcmp(rb->s.status, "finished") == 0) {
		log_info("rollback: plan \"%s\" was rolled back already (the source is writable); "
				 "`pgshift cleanup %s` removes the reverse spool and record", rb->plan->name,
				 rb->plan->file);
		return LIFECYCLE_OK;
	}
	run_app_name(rb->s.run_id, "rollback", rb->app, sizeof(rb->app));
	run_app_name(rb->s.run_id, "rollback.verify", rb->verify_app, sizeof(rb->verify_app));
	run_app_name(rb->s.run_id, "rollback.apply", rb->apply_app, sizeof(rb->apply_app));
	rb->tgt = pg_connect(rb->plan->target_uri, &ts, err);
	if (!rb->tgt || !tag_source_session(rb, err) || !open_events(rb, err))
		return LIFECYCLE_FAILED;
	rc = gate(rb, yes, err);
	if (rc != LIFECYCLE_OK)
		return rc;
	/* confirmed: from here a signal stops the rollback, its server work cancelled, said */
	snprintf(again, sizeof(again), "`pgshift rollback %s --yes` continues the rollback",
			 rb->plan->file);
	stop_watch_flag(again, reverse_session_cancel, &rb->s);
	ok = phases(rb, err);
	/* a failure stopped it with the stream running: an applier waiting for a lock is cancelled */
	if (rb->streaming)
		reverse_stream_stop(&rb->rs, &(struct pgs_error) {0});
	rb->streaming = false;
	/* nothing more to cancel: the record of how it ended must not be */
	stop_watch_flag(again, NULL, NULL);
	if (ok) {
		drop_reverse_slot(rb);
		return emit(rb, "rollback.finished", NULL, err) ? LIFECYCLE_OK : LIFECYCLE_FAILED;
	}
	failure = *err;
	pgs_error_clear(err);
	if (!emit(rb, "rollback.failed", &failure, err))
		log_report(LOG_WARNING, err);
	pgs_error_clear(err);
	/* for status: why the source is still fenced */
	if (!reverse_state_set_status(rb->s.src, rb->plan, stop_signal() ? "interrupted" : "failed",
								  failure.message, err))
		log_report(LOG_WARNING, err);
	*err = failure;
	return LIFECYCLE_FAILED;
}

/*
 * The forward plan's lock on the target, held for the whole rollback: an
 * apply still running (its cutover past rollback.slot, not yet over) is
 * not rolled back under its feet, nor can one start meanwhile.
 */
static enum lifecycle_result
lock_forward(const struct plan *plan, struct state **st, struct pgs_error *err)
{
	struct pg_session s = {"source", "pgshift rollback", true, false, false, false};
	bool locked = false, held = false;
	struct pgs_error ignored;
	PGconn *src;

	*st = state_open(plan, &locked, err);
	if (*st)
		return LIFECYCLE_OK;
	if (!locked)
		return LIFECYCLE_FAILED;
	pgs_error_hint(err, "let the apply of plan \"%s\" finish its cutover first", plan->name);
	/* a rollback holds the plan's lock too: then it, not an apply, is named */
	pgs_error_clear(&ignored);
	src = pg_connect(plan->source_uri, &s, &ignored);
	if (src && reverse_state_lock_held(src, plan, &held, NULL, 0, &ignored) && held)
		reverse_in_use(plan, src, err);
	PQfinish(src);
	return LIFECYCLE_LOCKED;
}

enum lifecycle_result
rollback_plan(const struct plan *plan, bool yes, struct pgs_error *err)
{
	struct rollback rb = {.plan = plan};
	enum lifecycle_result rc;

	plan_reverse(plan, &rb.rev);
	rc = lock_forward(plan, &rb.forward, err);
	if (rc == LIFECYCLE_OK)
		rc = reverse_session_open(plan, "pgshift rollback", &rb.s, err);
	if (rc == LIFECYCLE_OK)
		rc = run(&rb, yes, err);
	if (rb.cat_loaded)
		catalog_free(&rb.cat);
	event_bus_free(rb.bus);
	PQfinish(rb.tgt);
	reverse_session_close(&rb.s);
	state_close(rb.forward);
	return rc;
}
