/*
 * What the files of engine/state/ share: the struct behind the opaque
 * struct state, and small query helpers. Not for use outside engine/state/.
 */
#ifndef PGSHIFT_STATE_STATE_INT_H
#define PGSHIFT_STATE_STATE_INT_H

#include <pthread.h>
#include <stdbool.h>

#include <libpq-fe.h>

#include "pg/retry.h"
#include "state/state.h"
#include "util/error.h"

/* A step's transitions not yet written (state_steps.c), merged into one row. */
struct step_record {
	char *step_id;                  /* owned */
	char status;                    /* 'r' running, 'd' done, 'f' failed */
	bool started;                   /* started since the last write: attempts + 1 */
	int64_t rows, bytes, total_bytes;
	double started_at, finished_at; /* epoch seconds, 0 when not known */
	char *error;                    /* owned, failed only */
};

struct state {
	PGconn *conn;                   /* owned; its session holds the plan's advisory lock */
	pthread_mutex_t write_lock;     /* one writer of the queue at a time; before the others */
	pthread_mutex_t queue_lock;     /* guards queue, held only to change or take it */
	struct step_record *queue;      /* owned */
	size_t nqueue, capqueue;
	pthread_mutex_t conn_lock;      /* serialises every use of conn and the fields below */
	char *plan;                     /* owned copy of the plan name: the key of every row */
	char *plan_file;                /* owned: named in hints */
	char *target_uri;               /* owned: to reconnect */
	struct pg_backoff backoff;      /* reconnects within cdc.reconnect_for */
	bool lock_lost;                 /* another apply took the lock while the target was away */
	struct pgs_error lost;          /* why, when lock_lost */
};

/*
 * One statement on the locked state connection, under conn_lock. When the
 * connection was lost (a target restart: the session's advisory lock is
 * gone with it) it reconnects with backoff, takes the plan's lock again and
 * runs the statement again; when another apply took the lock meanwhile,
 * this and every later call fails saying so. Every statement sent this way
 * must be safe to run twice. state_query returns a PGRES_TUPLES_OK result.
 */
bool state_exec(struct state *st, const char *sql, int n, const char *const *params,
				struct pgs_error *err);
PGresult *state_query(struct state *st, const char *sql, int n, const char *const *params,
					  struct pgs_error *err);

/* Drops the step transitions not written (state_close). */
void state_queue_free(struct state *st);

/* Takes the plan's advisory lock on conn; *locked when another session holds it. */
bool state_take_lock(PGconn *conn, const char *plan, const char *plan_file, bool *locked,
					 struct pgs_error *err);
/* Turns idle_session_timeout off for the state session. */
bool state_keep_alive(PGconn *conn, struct pgs_error *err);

/*
 * Key of the transaction advisory lock that serialises DDL on schema pgshift
 * and the check-then-drop of state_drop. It uses the two-int4 key space,
 * which never meets the bigint keys of the per-plan locks.
 */
#define STATE_DDL_LOCK_SQL "SELECT pg_advisory_xact_lock(1885827944, 1)"

/*
 * Whether a live session holds the plan's advisory lock ($1 is the plan
 * name), optionally narrowed by `extra` (" AND l.pid = gate_pid"). pg_locks
 * splits a bigint key in classid (high) and objid (low), and any role may
 * read it, so status and cutover can tell a live apply from a dead one.
 */
#define STATE_LOCK_HELD_SQL(extra) \
	"EXISTS (SELECT 1 FROM pg_catalog.pg_locks l WHERE l.locktype = 'advisory' AND l.granted" \
	" AND l.objsubid = 1" \
	" AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())" \
	" AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended('pgshift:' || $1, 0)" \
	extra ")"

/* Runs the DDL in the caller's open transaction (creates only what is missing). */
bool state_ddl_in_tx(PGconn *conn, struct pgs_error *err);

/* ROLLBACK after a failure, keeping err (the first failure is the one to report). */
void state_rollback(PGconn *conn);

/* NULL for SQL NULL, else a copy of the value. */
char *state_getstr(const PGresult *res, int row, int col);
/* 0 for SQL NULL (timestamps as epoch seconds, counts). */
double state_getdbl(const PGresult *res, int row, int col);
long long state_getll(const PGresult *res, int row, int col, long long null_value);

/* A connection without the lock, for status, cutover: NULL with err on failure. */
PGconn *state_connect_unlocked(const struct plan *plan, const char *app, bool read_only,
							   struct pgs_error *err);
/*
 * Whether the state table (qualified: "pgshift.manifest") exists
 * (to_regclass), so readers never fail on a fresh target or on a state
 * schema older than the table.
 */
bool state_table_exists(PGconn *conn, const char *table, bool *exists, struct pgs_error *err);
/* state_table_exists of pgshift.runs */
bool state_runs_table_exists(PGconn *conn, bool *exists, struct pgs_error *err);

#endif
