/*
 * `pgshift rollback PLAN [--follow] [--yes]` (rollback.enabled, README
 * "Rollback"): after a cutover, the way back to the source without losing a
 * write made on the target.
 *
 *   --follow  runs the reverse stream (target -> source) until stopped (a
 *             signal ends it; a restart resumes exactly), keeping the lag
 *             small and recording the positions `status` shows.
 *   (none)    the rollback itself, a mirror of the cutover: events
 *             rollback.gate, then rollback.started; fences the target;
 *             applies every change the target committed before its WAL
 *             position read after the fence; syncs sequences target ->
 *             source; verifies (checksum); unfences the source; then
 *             rollback.finished (rollback.failed on any failure, which
 *             stops there: the source stays fenced).
 *
 * Both take the reverse stream's lock on the source (reverse_state.h): a
 * running --follow makes the rollback exit LIFECYCLE_LOCKED; the rollback
 * also holds the plan's own lock on the target, so an apply still in its
 * cutover is not rolled back under its feet.
 */
#ifndef PGSHIFT_LIFECYCLE_ROLLBACK_H
#define PGSHIFT_LIFECYCLE_ROLLBACK_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "lifecycle/lifecycle.h"
#include "pg/catalog.h"
#include "plan/plan.h"
#include "util/error.h"

enum lifecycle_result rollback_follow(const struct plan *plan, struct pgs_error *err);

/* yes: do not ask on a terminal; without a terminal, yes is required (LIFECYCLE_REFUSED). */
enum lifecycle_result rollback_plan(const struct plan *plan, bool yes, struct pgs_error *err);

/* The reverse stream and the session that holds its lock on the source (rollback_open.c). */
struct reverse_session {
	const struct plan *plan;    /* borrowed */
	PGconn *src;                /* owned; holds the lock, writes the reverse row */
	char *run_id;               /* owned: the forward run's */
	uint64_t applied;           /* the applied LSN the row holds */
	char *status;               /* owned */
};

/* Connects, takes the lock, reads the row; a missing row fails saying how to get one. */
enum lifecycle_result reverse_session_open(const struct plan *plan, const char *app,
										   struct reverse_session *s, struct pgs_error *err);
void reverse_session_close(struct reverse_session *s);

/* Fills err for a reverse stream another process holds, naming which (src: any session). */
void reverse_in_use(const struct plan *plan, PGconn *src, struct pgs_error *err);

/*
 * The source's sequences (cat: the target's, under the plan's filters) set
 * from the target's, ahead by the cutover's sync_sequences margin
 * (rollback_sequences.c): what the rollback does before it unfences the
 * source, and what ending a reverse stream that replayed rows into the
 * source does, so that no later unfence lets the application draw a key
 * the replayed rows hold. who prefixes the log line and the error.
 */
bool reverse_sequences_sync(const struct plan *plan, PGconn *tgt, PGconn *src,
							const struct catalog *cat, const char *who, struct pgs_error *err);

/*
 * A cancel callback for stop_watch_flag (run/stop.h), arg the session: what
 * the sessions tagged with the forward run's id (run_app_name) execute on
 * either server is cancelled, so a statement waiting for a lock does not
 * hold the command long after a signal told it to stop.
 */
void reverse_session_cancel(void *session);

#endif
