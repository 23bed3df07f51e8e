/*
 * One function per step kind (DESIGN.md §3), each in its own file under
 * engine/steps/. step_execute (steps.c) dispatches on the step's kind.
 * Every function opens the connections it needs (run_connect_*), reports
 * progress in run->progress[step index], and returns false with err filled
 * and naming the table or object when it fails. A step must be safe to run
 * again after a crash: the scheduler re-runs any step not recorded done.
 */
#ifndef PGSHIFT_STEPS_STEPS_H
#define PGSHIFT_STEPS_STEPS_H

#include <stdbool.h>

#include "run/run.h"

bool step_snapshot(struct run *run, size_t step, struct pgs_error *err);
/* With cdc.enabled: publication, replica identity, slot + its exported snapshot. */
bool step_snapshot_cdc(struct run *run, size_t step, struct pgs_error *err);
/*
 * Gives every copied table that lacks one a usable replica identity (as the
 * plan's cdc.replica_identity says), each change recorded first; a table
 * that has one is left alone.
 */
bool snapshot_prepare_identities(struct run *run, PGconn *conn, struct pgs_error *err);
/* A CDC resume with copies left: a temporary slot's snapshot for the tables copied again. */
bool step_snapshot_resync(struct run *run, size_t step, struct pgs_error *err);
bool step_cdc_stream(struct run *run, size_t step, struct pgs_error *err);
bool step_cdc_catchup(struct run *run, size_t step, struct pgs_error *err);
bool step_schema_pre(struct run *run, size_t step, struct pgs_error *err);
bool step_copy(struct run *run, size_t step, struct pgs_error *err);
bool step_index(struct run *run, size_t step, struct pgs_error *err);
bool step_constraint(struct run *run, size_t step, struct pgs_error *err);
bool step_schema_post(struct run *run, size_t step, struct pgs_error *err);
bool step_blobs(struct run *run, size_t step, struct pgs_error *err);
bool step_vacuum(struct run *run, size_t step, struct pgs_error *err);
bool step_cutover_gate(struct run *run, size_t step, struct pgs_error *err);
bool step_cutover(struct run *run, size_t step, struct pgs_error *err);
bool step_cleanup(struct run *run, size_t step, struct pgs_error *err);
/* rollback.slot (step_rollback_slot.c): the reverse stream's publication, slot and state. */
bool step_rollback_slot(struct run *run, size_t step, struct pgs_error *err);

/*
 * cutover sync_sequences: every catalog sequence set on the target from the
 * source's last_value / is_called; with a margin, last_value moved by margin
 * in the sequence's direction (within its bounds) and is_called set.
 */
/*
 * Every sequence of cat gets src's position (+ margin) on tgt; a position
 * the margin would push past the sequence's bound is copied without it,
 * with a warning. sync_sequences, and `pgshift rollback` the other way.
 */
bool sequences_copy(PGconn *src, PGconn *tgt, const struct catalog *cat, int64_t margin,
					struct pgs_error *err);
/*
 * Where conn's server's WAL ends (step_cdc.c): the insert position, moved
 * back over a page header, which a keepalive can reach on an idle server.
 */
bool source_wal_lsn(PGconn *conn, uint64_t *lsn, struct pgs_error *err);
bool cutover_sync_sequences(struct run *run, const struct cutover_step *cs,
							struct pgs_error *err);

/*
 * cutover fence_writes: source database read-only for new sessions, the
 * listed roles' sessions ended, fenced recorded in the state (fence.h).
 */
bool cutover_fence_writes(struct run *run, const struct cutover_step *cs, struct pgs_error *err);

/*
 * cutover wait_for_catchup: reads the source's WAL position (after writes
 * stopped) and waits, up to the step's timeout, until every transaction that
 * committed before it is applied on the target.
 */
bool cutover_wait_for_catchup(struct run *run, const struct cutover_step *cs,
							  struct pgs_error *err);

/*
 * Large objects created, changed or unlinked on the source since the copy
 * made the same on the target (cutover_blobs.c); wait_for_catchup runs it
 * inside the write fence, after the stop position is applied.
 */
bool cutover_sync_blobs(struct run *run, struct pgs_error *err);

/*
 * Makes id the run's snapshot and conn (which keeps it importable) the run's
 * to close. step_snapshot calls it; with CDC step_snapshot_cdc calls it with
 * the id of CREATE_REPLICATION_SLOT ... (SNAPSHOT 'export') and the
 * replication connection that holds it.
 */
bool run_hold_snapshot(struct run *run, PGconn *conn, const char *id, struct pgs_error *err);

/*
 * Releases the exported snapshot once no step needs it any more: ends the
 * holding transaction and closes its session. Safe to call more than once.
 */
void run_release_snapshot(struct run *run);

/*
 * A split table (copy steps "copy:S.T#K/N") is copied by N parts in N target
 * transactions that run in parallel, so no part can empty the table in its
 * own transaction. The scheduler calls this once per split table, before any
 * of its parts starts, whenever any part is not recorded done: it truncates
 * the target table (TRUNCATE ONLY, triggers off). After it returns EVERY part
 * of the table must run again, including parts recorded done by an earlier
 * attempt: their rows are gone, and they were read under another snapshot,
 * which must never be mixed with this one. An unsplit copy step empties its
 * table itself, in the same transaction as its COPY.
 */
bool copy_prepare_split_table(struct run *run, long table, struct pgs_error *err);

/*
 * Triggers and rules set ENABLE ALWAYS / ENABLE REPLICA (held_triggers.c):
 * disable records their state in pgshift.held_triggers and disables them
 * (schema.post, with CDC); restore puts the recorded state back and forgets
 * it (who names the caller in the log). Both run in one transaction of
 * conn and do nothing when there is nothing to do.
 */
bool held_triggers_disable(PGconn *conn, const char *plan, struct pgs_error *err);
bool held_triggers_restore(PGconn *conn, const char *plan, const char *who,
						   struct pgs_error *err);

#endif
