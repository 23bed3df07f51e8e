/*
 * pgshift rollback PLAN --follow: the reverse stream until the process is
 * stopped. The receiver confirms to the target only what the spool has
 * fsynced and the applier commits its applied LSN with the changes, so a
 * process ended anywhere (kill -9, a crash) is resumed exactly by the next
 * --follow or rollback; SIGINT/SIGTERM (run/stop.h, flag mode) stop both
 * threads within a second (the applier's statement cancelled, should it
 * wait for a lock in the source), record the positions and say how to
 * continue.
 * Every 10 s it records the target's WAL position and the spool's durable
 * LSN in the reverse row, for `status`; a failure to do so is a warning.
 */
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "cdc/pgoutput.h"
#include "lifecycle/reverse_stream.h"
#include "lifecycle/rollback.h"
#include "pg/conn.h"
#include "run/run.h"
#include "run/stop.h"
#include "state/reverse_state.h"
#include "steps/steps.h"
#include "util/log.h"

#define RECORD_EVERY_S 10

/* Reads the target's WAL position over *tgt (opened on demand, dropped on failure). */
static bool
target_position(const struct plan *plan, PGconn **tgt, uint64_t *lsn)
{
	struct pg_session s = {"target", "pgshift rollback --follow", true, false, false};
	struct pgs_error err;

	pgs_error_clear(&err);
	if (!*tgt)
		*tgt = pg_connect(plan->target_uri, &s, &err);
	if (*tgt && source_wal_lsn(*tgt, lsn, &err))
		return true;
	log_report(LOG_WARNING, &err);
	PQfinish(*tgt);
	*tgt = NULL;
	return false;
}

static void
record(const struct plan *plan, struct reverse_session *s, struct reverse_stream *rs, PGconn **tgt)
{
	uint64_t durable, applied, wal = 0;
	char d[PGO_LSN_TEXT_SIZE], w[PGO_LSN_TEXT_SIZE], a[PGO_LSN_TEXT_SIZE];
	bool have_wal = target_position(plan, tgt, &wal);
	struct pgs_error err;

	reverse_stream_positions(rs, &durable, &applied);
	pgo_lsn_text(durable, d);
	pgo_lsn_text(wal, w);
	pgo_lsn_text(applied, a);
	pgs_error_clear(&err);
	if (!reverse_state_set_positions(s->src, plan, have_wal ? w : NULL, durable ? d : NULL, &err))
		log_report(LOG_WARNING, &err);
	if (have_wal)
		log_info("rollback --follow: target at %s, applied into the source %s: %" PRIu64
				 " bytes behind", w, a, wal > applied ? wal - applied : 0);
}

enum lifecycle_result
rollback_follow(const struct plan *plan, struct pgs_error *err)
{
	struct reverse_session s;
	struct reverse_stream rs;
	enum lifecycle_result rc = reverse_session_open(plan, "pgshift rollback --follow", &s, err);
	PGconn *tgt = NULL;
	struct timespec second = {1, 0};
	static char again[512];         /* the signal watcher's, for the life of the process */
	char app[RUN_APP_NAME_SIZE];
	bool stopped;

	if (rc != LIFECYCLE_OK)
		goto out;
	if (strcmp(s.status, "finished") == 0) {
		pgs_fail(err, "plan \"%s\" was rolled back already: there is nothing to follow", plan->name);
		rc = LIFECYCLE_FAILED;
		goto out;
	}
	snprintf(again, sizeof(again), "`pgshift rollback %s --follow` resumes the stream",
			 plan->file);
	run_app_name(s.run_id, "rollback.follow", app, sizeof(app));
	stop_watch_flag(again, reverse_session_cancel, &s);
	if (!reverse_stream_start(&rs, plan, s.applied, app, err)) {
		stop_watch_flag(again, NULL, NULL);     /* s is closed below */
		rc = LIFECYCLE_FAILED;
		goto out;
	}
	for (long tick = 0; !stop_signal() && reverse_stream_ok(&rs, err); tick++) {
		if (tick % RECORD_EVERY_S == 0)
			record(plan, &s, &rs, &tgt);
		nanosleep(&second, NULL);
	}
	rc = LIFECYCLE_FAILED;
	/* a transaction the cancel cut short is applied again by the next follower: not a failure */
	stopped = stop_signal() && (reverse_stream_stop(&rs, err) || strcmp(err->sqlstate, "57014") == 0);
	stop_watch_flag(again, NULL, NULL);
	if (stopped) {
		pgs_error_clear(err);
		record(plan, &s, &rs, &tgt);
		log_info("rollback --follow: stopped by %s; `pgshift rollback %s --follow` (or the "
				 "rollback itself) continues from there", stop_signal() == SIGINT ? "SIGINT" :
				 "SIGTERM", plan->file);
		rc = LIFECYCLE_OK;
	}
	reverse_stream_stop(&rs, &(struct pgs_error) {0});
out:
	PQfinish(tgt);
	reverse_session_close(&s);
	return rc;
}
