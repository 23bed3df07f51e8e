/*
 * The state of the reverse stream (rollback.enabled, README "Rollback"),
 * kept on the SOURCE, the server it writes into: one row of the source's
 * pgshift.runs keyed by the reverse slot's name (plan->rollback.slot), so
 * the CDC applier commits its applied LSN there with the data, exactly as
 * the forward one does on the target, and the two never share a row. The
 * row's columns mean, for the reverse stream:
 *   run_id        the forward run's
 *   status        running (streaming or resumable), finished (rolled back)
 *   started_at    when the cutover created the reverse slot (keep_for counts from it)
 *   fenced        `pgshift rollback` fenced the TARGET, not yet undone
 *   source_lsn    the target's WAL position last read
 *   received_lsn  the reverse spool's durable LSN
 *   applied_lsn   committed on the source with the changes
 * A session-level advisory lock (hashtextextended('pgshift:' || slot, 0))
 * on the source keeps two reverse streams of one plan apart.
 */
#ifndef PGSHIFT_STATE_REVERSE_STATE_H
#define PGSHIFT_STATE_REVERSE_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "plan/plan.h"
#include "util/error.h"

struct reverse_state {
	char *run_id;               /* owned: the forward run's */
	char *status;               /* owned */
	double started_at;          /* unix seconds, from the source's clock */
	double now;                 /* the source's clock when read */
	bool fenced;
	char *source_lsn, *received_lsn, *applied_lsn;  /* owned; NULL when unknown */
	char *error;                /* owned; why the last rollback failed, NULL when it did not */
};

/*
 * Creates schema pgshift on the source when missing and (re)starts the
 * plan's reverse row: status running, applied at start_lsn (the reverse
 * slot's consistent point), nothing received, started now.
 */
bool reverse_state_begin(PGconn *src, const struct plan *plan, const char *run_id,
						 const char *start_lsn, struct pgs_error *err);

/* *found false (and *out untouched) when the source holds no reverse row for the plan. */
bool reverse_state_read(PGconn *src, const struct plan *plan, struct reverse_state *out,
						bool *found, struct pgs_error *err);
void reverse_state_free(struct reverse_state *rs);

/*
 * Whether a session holds the lock: a rollback or rollback --follow streams;
 * app (may be NULL) gets the holder's application_name ("" when unseen).
 */
bool reverse_state_lock_held(PGconn *src, const struct plan *plan, bool *held, char *app,
							 size_t n, struct pgs_error *err);

/* Takes the reverse stream's advisory lock on this session; *got false when another holds it. */
bool reverse_state_lock(PGconn *src, const struct plan *plan, bool *got, struct pgs_error *err);

bool reverse_state_set_status(PGconn *src, const struct plan *plan, const char *status,
							  const char *error, struct pgs_error *err);
bool reverse_state_set_fenced(PGconn *src, const struct plan *plan, bool fenced,
							  struct pgs_error *err);
/* For status: the target's WAL position and the spool's durable LSN (either may be NULL). */
bool reverse_state_set_positions(PGconn *src, const struct plan *plan, const char *target_lsn,
								 const char *received_lsn, struct pgs_error *err);

/* Whether the source has schema pgshift's tables (a plan whose cutover never ran has none). */
bool reverse_state_schema_exists(PGconn *src, bool *exists, struct pgs_error *err);

/* Deletes the reverse row (cleanup); idempotent, and a source without schema pgshift is fine. */
bool reverse_state_drop(PGconn *src, const struct plan *plan, struct pgs_error *err);

/*
 * Drops the source's schema pgshift when nothing uses it any more: only
 * tables, all empty (no other plan's reverse row, held trigger or DDL
 * capture), and nothing outside depending on them.
 */
bool reverse_state_drop_schema_if_unused(PGconn *src, bool *dropped, struct pgs_error *err);

#endif
