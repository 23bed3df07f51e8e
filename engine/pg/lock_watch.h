/*
 * A watchdog over one session's statements. pgshift's sessions run with
 * lock_timeout = 0 (pg/conn.c: nothing may kill a long DDL), so a DDL
 * queued behind a lock another session holds waits silently and forever.
 * A thread with a session of its own looks at the watched session every
 * 200 ms; while it waits for a lock, the thread logs every 5 s who holds
 * it (pg_blocking_pids: pid, application, state, how long open) and after
 * timeout_ms of waiting cancels the statement, so that it fails and
 * lock_watch_stop tells why, naming them.
 */
#ifndef PGSHIFT_PG_LOCK_WATCH_H
#define PGSHIFT_PG_LOCK_WATCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "pg/conn.h"
#include "util/error.h"

struct lock_watch {
	pthread_t thread;
	atomic_bool stop;
	PGconn *observer;           /* owned; used by the thread only */
	PGcancel *cancel;           /* owned; the watched session's */
	char pid[16];               /* the watched session's backend pid */
	char what[256];             /* what the watched session does, for messages */
	char hint[512];             /* what to do once it gave up */
	int64_t timeout_ms;
	pthread_mutex_t lock;       /* guards blockers and fired */
	char blockers[1024];        /* who held the lock when the thread gave up */
	bool fired;                 /* the thread cancelled the statement */
};

/*
 * Opens the observer session (conninfo, s) and starts the thread watching
 * watched; what names its statements, hint says what to do after a give-up.
 */
bool lock_watch_start(struct lock_watch *w, const char *conninfo, const struct pg_session *s,
					  PGconn *watched, const char *what, const char *hint, int64_t timeout_ms,
					  struct pgs_error *err);

/*
 * Ends the thread. ok is the outcome of the watched statements; when the
 * thread cancelled one, err (the statement's "canceling statement") is
 * replaced by why, naming the sessions that held the lock. Returns ok.
 */
bool lock_watch_stop(struct lock_watch *w, bool ok, struct pgs_error *err);

#endif
