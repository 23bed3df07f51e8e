/*
 * cdc.stream and cdc.catchup (DESIGN.md §3). cdc.stream starts the receiver
 * and returns: the receiver keeps streaming the slot into the spool for the
 * rest of the apply, the copy included, so the source releases WAL as it
 * goes. cdc.catchup starts the applier once every copy and schema.post are
 * done, and returns when the target has caught up; the applier keeps
 * replaying while the run waits at the cutover gate.
 *
 * "Caught up" (cdc.max_lag is a duration): catchup reads where the source's
 * WAL ends, W (source_wal_lsn), at time t, then watches the applied LSN; caught up
 * means the applier committed everything up to W (applied >= W) no later
 * than t + max_lag. Then every change the source had written max_lag ago is
 * on the target, whatever the write rate. A sample not applied within
 * max_lag is dropped and a new one read, so a busy source is measured
 * against recent positions, never against an old one that is easy to pass.
 * The applied LSN moves past transactions of tables not published, other
 * databases and idle WAL too (the receiver spools the walsender's
 * keepalives), so an idle source is caught up at once.
 *
 * Both read the source's WAL position on a session that may be lost while
 * CDC runs (a source restart, a network drop): it is opened again with the
 * same backoff as the CDC threads, for at most cdc.reconnect_for.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "cdc/cdc_slot.h"
#include "cdc/pgoutput.h"
#include "pg/conn.h"
#include "pg/retry.h"
#include "run/run_cdc.h"
#include "steps/steps.h"
#include "util/clock.h"
#include "util/log.h"

#define POLL_MS 50
#define REPORT_EVERY_S 10.0

bool
step_cdc_stream(struct run *run, size_t step, struct pgs_error *err)
{
	(void) step;
	return run_cdc_start_receiver(run, err);
}

/*
 * Where the source's WAL ends: the INSERT position, not pg_current_wal_lsn()
 * (the write position), which with synchronous_commit = off can lie before
 * commits the source has already acknowledged. The insert position is
 * given after a page header when the last record ended on a page boundary,
 * where no record can end: it is moved back over the header (24 bytes, 40
 * at a segment start), or a keepalive at the record's end would never
 * reach it on an idle source.
 */
bool
source_wal_lsn(PGconn *conn, uint64_t *lsn, struct pgs_error *err)
{
	static const char sql[] =
		"SELECT pg_catalog.pg_current_wal_insert_lsn()::text,"
		" current_setting('wal_block_size')::bigint,"
		" pg_catalog.pg_size_bytes(current_setting('wal_segment_size'))";
	PGresult *res = pg_query(conn, sql, 0, NULL, err);
	bool ok = res && PQntuples(res) == 1 && cdc_lsn_parse(PQgetvalue(res, 0, 0), lsn);
	long long block = ok ? strtoll(PQgetvalue(res, 0, 1), NULL, 10) : 0;
	long long segment = ok ? strtoll(PQgetvalue(res, 0, 2), NULL, 10) : 0;

	if (res && !ok)
		pgs_fail(err, "pg_current_wal_insert_lsn() on the source returned no LSN");
	else if (ok && segment > 0 && *lsn % (uint64_t) segment == 40)
		*lsn -= 40;
	else if (ok && block > 0 && *lsn % (uint64_t) block == 24)
		*lsn -= 24;
	PQclear(res);
	return ok;
}

/* The source session whose WAL position catchup reads, and its reconnects. */
struct source_link {
	struct run *run;
	const char *step_id;        /* borrowed: application_name of the session */
	PGconn *conn;               /* owned; NULL until connected, or after it was lost */
	struct pg_backoff backoff;
};

static void
link_init(struct source_link *l, struct run *run, const char *step_id)
{
	l->run = run;
	l->step_id = step_id;
	l->conn = NULL;
	pg_backoff_init(&l->backoff, step_id, run->plan->file, run->plan->cdc.reconnect_for_ms);
}

static bool
link_wal_lsn(struct source_link *l, uint64_t *lsn, struct pgs_error *err)
{
	for (;;) {
		pgs_error_clear(err);
		if (!l->conn)
			l->conn = run_connect_source(l->run, l->step_id, err);
		if (l->conn && source_wal_lsn(l->conn, lsn, err)) {
			pg_backoff_done(&l->backoff);
			return true;
		}
		PQfinish(l->conn);
		l->conn = NULL;
		if (!pg_error_is_connection(err) ||
			!pg_backoff_wait(&l->backoff, err, &l->run->cancel, err))
			return false;
	}
}

static void
link_close(struct source_link *l)
{
	PQfinish(l->conn);
	l->conn = NULL;
}

/*
 * The threads are healthy and the run goes on; else false with why. The
 * scheduler's tick does the rest (the lock, the received LSN) on its own
 * thread: calling it here too shared its sessions between two threads.
 */
static bool
still_going(struct run *run, struct pgs_error *err)
{
	if (!run_cdc_threads_ok(run, err))
		return false;
	if (atomic_load(&run->cancel))
		return pgs_fail(err, "cdc.catchup: the run was stopped while catching up");
	return true;
}

static void
report(struct run *run, size_t step, uint64_t target, uint64_t applied, uint64_t from)
{
	char a[PGO_LSN_TEXT_SIZE], w[PGO_LSN_TEXT_SIZE];
	struct step_progress *p = &run->progress[step];

	if (target > from)
		atomic_store(&p->total_bytes, (long long) (target - from));
	atomic_store(&p->bytes, (long long) (applied > from ? applied - from : 0));
	pgo_lsn_text(applied, a);
	pgo_lsn_text(target, w);
	log_with(LOG_INFO, &(struct log_fields) {-1, (int64_t) (target > applied ? target - applied : 0), a},
			 "cdc.catchup: applied %s, source at %s: %" PRIu64 " bytes behind", a, w,
			 target > applied ? target - applied : 0);
}

/*
 * One sample: true with *caught = whether the applied LSN reached the
 * source's current WAL position within max_lag of reading it.
 */
static bool
sample(struct run *run, struct source_link *src, uint64_t *target, bool *caught,
	   struct pgs_error *err)
{
	double max_lag = (double) run->plan->cdc.max_lag_ms / 1000.0, t0;
	struct run_cdc_view v;

	*caught = false;
	t0 = clock_mono_s();
	if (!link_wal_lsn(src, target, err))
		return false;
	for (;;) {
		run_cdc_view(run, &v);
		if (v.applied_lsn >= *target) {
			*caught = clock_mono_s() - t0 <= max_lag;
			return true;
		}
		if (clock_mono_s() - t0 > max_lag)
			return true;
		if (!still_going(run, err))
			return false;
		clock_sleep_ms(POLL_MS);
	}
}

static bool
wait_caught_up(struct run *run, size_t step, struct source_link *src, struct pgs_error *err)
{
	struct run_cdc_view v;
	uint64_t target = 0, from;
	double last_report = clock_mono_s();
	bool caught = false;

	run_cdc_view(run, &v);
	from = v.applied_lsn;
	while (!caught) {
		if (!still_going(run, err) || !sample(run, src, &target, &caught, err))
			return false;
		if (clock_mono_s() - last_report >= REPORT_EVERY_S) {
			run_cdc_view(run, &v);
			report(run, step, target, v.applied_lsn, from);
			last_report = clock_mono_s();
		}
	}
	run_cdc_view(run, &v);
	report(run, step, target, v.applied_lsn, from);
	log_info("cdc.catchup: caught up (lag below %" PRId64 " ms); the applier keeps replaying",
			 run->plan->cdc.max_lag_ms);
	return true;
}

bool
step_cdc_catchup(struct run *run, size_t step, struct pgs_error *err)
{
	struct source_link src;
	bool ok;

	if (!run_cdc_start_applier(run, err))
		return false;
	link_init(&src, run, run->dag->steps[step].id);
	ok = wait_caught_up(run, step, &src, err);
	link_close(&src);
	return ok;
}

/*
 * Once everything before the last stop position is applied, nothing more is
 * to be replayed: the applier stops, and the triggers and rules disabled for
 * the replay get their state back before the later steps switch traffic.
 * An earlier wait_for_catchup (say, before fence_writes) leaves both alone.
 */
static bool
restore_triggers(struct run *run, const struct cutover_step *cs, struct pgs_error *err)
{
	PGconn *tgt;
	bool ok;

	if (!run_is_last_catchup(run->plan, cs))
		return true;
	if (!run_cdc_stop_applier(run, err))
		return false;
	tgt = run_connect_target(run, "wait_for_catchup", err);
	ok = tgt && held_triggers_restore(tgt, run->plan->name, "wait_for_catchup", err);
	PQfinish(tgt);
	return ok;
}

/*
 * cutover wait_for_catchup: after writes stopped, the source's WAL position
 * is the stop position; every transaction that committed before it is
 * applied once the applied LSN reaches it. The applied LSN only passes a
 * point when every commit before that point is on the target (a keepalive
 * moves it only with no transaction open), so neither a keepalive nor an idle
 * stretch of WAL can end the replay early. Then, with writes stopped, the
 * source catalog is compared with the run's one last time (cdc.ddl), and
 * the large objects, which the slot never carries, are brought in line.
 */
bool
cutover_wait_for_catchup(struct run *run, const struct cutover_step *cs, struct pgs_error *err)
{
	struct source_link src;
	uint64_t stop = 0;
	struct run_cdc_view v;
	char s[PGO_LSN_TEXT_SIZE], a[PGO_LSN_TEXT_SIZE];
	double deadline = clock_mono_s() + (double) cs->timeout_ms / 1000.0;
	bool ok;

	link_init(&src, run, "wait_for_catchup");
	ok = link_wal_lsn(&src, &stop, err);
	link_close(&src);
	pgo_lsn_text(stop, s);
	if (ok)
		log_info("wait_for_catchup: applying every change committed before %s", s);
	while (ok) {
		run_cdc_view(run, &v);
		if (v.applied_lsn >= stop) {
			log_info("wait_for_catchup: caught up at %s", s);
			/* nothing is replayed after this: the schema must still match, then LOs and triggers */
			return run_ddl_check(run, "at the stop position", err) &&
				   cutover_sync_blobs(run, err) && restore_triggers(run, cs, err);
		}
		if (clock_mono_s() > deadline) {
			pgo_lsn_text(v.applied_lsn, a);
			pgs_fail(err, "wait_for_catchup: timed out: applied %s, stop position %s "
					 "(%" PRIu64 " bytes behind)", a, s, stop - v.applied_lsn);
			pgs_error_hint(err, "raise the step's timeout, or check that writes really "
						   "stopped (fence_writes) and that the applier is running");
			return false;
		}
		ok = still_going(run, err);
		clock_sleep_ms(POLL_MS);
	}
	return false;
}
