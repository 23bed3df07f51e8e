/*
 * Riding out lost connections (DESIGN.md §4a): which failures mean the
 * connection was lost rather than that a statement was refused, and the
 * pause between reconnect attempts (exponential from 0.5 s up to 30 s,
 * full jitter from the per-thread generator of util/rng.h, so the
 * receiver, the applier and the state session never retry in step), all of
 * it bounded by cdc.reconnect_for. Only a lost connection is retried: a
 * permission denied or a constraint violation still fails at once.
 */
#ifndef PGSHIFT_PG_RETRY_H
#define PGSHIFT_PG_RETRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "util/error.h"

/* SQLSTATE pgshift gives a failure whose connection is gone (libpq gives none). */
#define PG_SQLSTATE_CONNECTION_LOST "08006"

/*
 * True for SQLSTATE class 08 (connection exception), 57P01
 * admin_shutdown (a terminated backend or walsender, a fast shutdown),
 * 57P02 crash_shutdown and 57P03 cannot_connect_now (starting up).
 */
bool pg_error_is_connection(const struct pgs_error *err);

/* Gives err PG_SQLSTATE_CONNECTION_LOST when conn is gone and err has no SQLSTATE of its own. */
void pg_error_mark_lost(struct pgs_error *err, const PGconn *conn);

struct pg_backoff {
	const char *who;            /* borrowed: "the CDC receiver", for log lines */
	const char *plan_file;      /* borrowed, may be NULL: named in the resume hint */
	const char *resume;         /* borrowed, may be NULL: the resume hint's command
								 * (NULL: "pgshift apply PLAN_FILE") */
	int64_t bound_ms;           /* cdc.reconnect_for */
	int64_t since_us;           /* monotonic: when the connection was lost; 0: it is not */
	int attempt;                /* reconnect attempts since then (or since a flapping start) */
	int64_t back_us;            /* monotonic: when the connection last came back */
	char lost[512];             /* what was lost, for the final message */
};

void pg_backoff_init(struct pg_backoff *b, const char *who, const char *plan_file,
					 int64_t bound_ms);
/* The command that resumes, when it is not apply (the reverse stream's); borrowed. */
void pg_backoff_resume(struct pg_backoff *b, const char *resume);

/*
 * After a failure lost (pg_error_is_connection said yes): logs what was
 * lost and when the next attempt is, sleeps until then (waking every 100 ms
 * to look at *stop, which may be NULL) and returns true: reconnect now.
 * Returns false with err filled once cdc.reconnect_for has passed since
 * the connection was lost (err says what was lost, for how long, and how
 * to resume; its SQLSTATE stays lost's), or when *stop became true.
 */
bool pg_backoff_wait(struct pg_backoff *b, const struct pgs_error *lost, const atomic_bool *stop,
					 struct pgs_error *err);

/*
 * The connection is back: logs after how long and how many attempts. A
 * connection lost again within 30 s of coming back goes on with the longer
 * pauses instead of starting over at 0.5 s, so a session that is ended again
 * and again (a flapping server, someone dropping the slot) is not hammered.
 */
void pg_backoff_done(struct pg_backoff *b);

/* The pause before attempt n (1-based), in ms: uniform in [0, min(30 s, 0.5 s * 2^(n-1))]. */
long pg_backoff_delay_ms(int attempt);

#endif
