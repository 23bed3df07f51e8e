/*
 * The CDC threads of one apply (DESIGN.md §3 cdc.stream, cdc.catchup): the
 * receiver and the applier outlive the steps that start them, so the run
 * owns them. Steps start them; the scheduler looks at them every second
 * (run_cdc_tick: a dead receiver or applier fails the run, the received LSN
 * goes into the state for `pgshift status`); cleanup or the end of apply
 * stops them, applier first.
 */
#ifndef PGSHIFT_RUN_RUN_CDC_H
#define PGSHIFT_RUN_RUN_CDC_H

#include <stdbool.h>
#include <stdint.h>

#include "run/run.h"
#include "util/error.h"

/*
 * Starts the receiver: the slot's changes into plan->cdc.spool_dir, from
 * the spool's durable LSN, or run->cdc_start_lsn for an empty spool. A
 * receiver already running is left alone.
 */
bool run_cdc_start_receiver(struct run *run, struct pgs_error *err);

/*
 * Starts the applier on the spool, from the applied LSN the state holds
 * (run->cdc_start_lsn when it holds none). One already running is left alone.
 */
bool run_cdc_start_applier(struct run *run, struct pgs_error *err);

/*
 * The scheduler's once-a-second look: false with the thread's error when
 * the receiver or the applier has failed (they ride out lost connections
 * themselves, within cdc.reconnect_for), or when another apply took the
 * plan's lock while the target was unreachable; records the receiver's
 * durable LSN in the state when it moved.
 */
bool run_cdc_tick(struct run *run, struct pgs_error *err);

/*
 * false with the thread's error when the receiver or the applier has
 * failed. Unlike run_cdc_tick it touches no session of the run (the state's,
 * the lag's): those belong to the scheduler's thread, so a step's worker
 * thread looks at the CDC threads with this one only.
 */
bool run_cdc_threads_ok(struct run *run, struct pgs_error *err);

/*
 * What the progress view, the metrics and catchup show. applied_lsn is the
 * slot's consistent point before the applier starts (the copy holds every
 * change below it); source_lsn 0 until the first tick read it.
 */
struct run_cdc_view {
	bool receiving, applying;
	uint64_t source_lsn, durable_lsn, applied_lsn;
	int64_t applied_commit_time;        /* µs since 2000-01-01 UTC; 0 unknown */
	double source_lag_s;                /* run.source_lag_s */
};
void run_cdc_view(struct run *run, struct run_cdc_view *out);

/*
 * The one definition of lag (README "Lag"), shared by status, the cdc.lag
 * event, the live view and the metrics: lag = source - applied, split into
 * receive lag = source - durable (spooled and fsynced) and apply lag =
 * durable - applied. lag_seconds is the age of the last applied source
 * commit while lag_bytes > 0, else the lag measured the same way at the
 * moment the source position was read (source_lag_s: at most a tick old).
 * Bytes are -1 while the source position is unknown (apply lag needs only
 * the spool), seconds too.
 */
struct run_cdc_lag {
	int64_t lag_bytes, receive_lag_bytes, apply_lag_bytes;
	double lag_seconds;
};
void run_cdc_lag(const struct run_cdc_view *v, double now_unix, struct run_cdc_lag *out);

/*
 * Reads the source's pg_current_wal_lsn() into run->source_lsn over a
 * session of its own, opened on first use. A failure is said once as a
 * warning and the session opened again on the next call: a lag that cannot
 * be measured must not stop a migration.
 */
void run_cdc_read_source_lsn(struct run *run);
void run_cdc_close_source(struct run *run);

/*
 * Before the scheduler of a resumed apply (DESIGN.md §4 resume, with CDC).
 * recopy (copies were left and the slot's consistent point was never
 * recorded, so no copy finished): drops the slot, empties the spool and,
 * once schema.pre is done, empties every migrated table on the target in one
 * TRUNCATE, so the copies run again on the new slot's snapshot
 * (run->copy_pretruncated). Otherwise (a resync of some tables included:
 * run->resync_tables, step_snapshot_resync.c) restarts the
 * receiver and applier whose steps are recorded done: the receiver from
 * the spool's durable LSN, the applier from its applied LSN (not once the
 * last wait_for_catchup is done: it stopped the applier). done[] is the
 * scheduler's; nothing happens once cleanup is done.
 */
bool run_cdc_prepare_resume(struct run *run, const bool *done, bool recopy, struct pgs_error *err);

/* Is cs the plan's last wait_for_catchup step (where the applier stops)? */
bool run_is_last_catchup(const struct plan *plan, const struct cutover_step *cs);

/*
 * Stops the applier only (it commits the whole transactions it applied);
 * run_cdc_view shows the applied LSN it stopped at. Safe to call more than
 * once.
 */
bool run_cdc_stop_applier(struct run *run, struct pgs_error *err);

/*
 * Stops the applier (it commits the whole transactions it applied), then
 * the receiver (it flushes and confirms the spool). False with the first
 * error either thread ended with. Safe to call more than once.
 */
bool run_cdc_stop(struct run *run, struct pgs_error *err);

/*
 * cdc.ddl: stop (run_ddl.c). Reads the source catalog now and compares it
 * by name with run->cat; false naming every change and the source LSN it
 * was seen at ("when" says where: "while streaming", "at the stop
 * position"), or when the source could not be read.
 */
bool run_ddl_check(struct run *run, const char *when, struct pgs_error *err);

/*
 * At most every 10 s while the receiver runs: run_ddl_check. A source that
 * cannot be read is a warning (looked at again next time); a change fails.
 * The scheduler's thread only.
 */
bool run_ddl_tick(struct run *run, struct pgs_error *err);

#endif
