/*
 * Opening the state connection and taking the plan's advisory lock
 * (DESIGN.md §4: taken before anything else, preflight included). The lock
 * is session-level, so it lives exactly as long as the connection: a
 * crashed apply releases it when the server notices the connection is gone.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg/conn.h"
#include "state/state_int.h"
#include "util/log.h"
#include "util/xalloc.h"

/* 64-bit key so two plans' names practically never share a lock. */
static const char lock_sql[] =
	"SELECT pg_try_advisory_lock(k), k FROM"
	" (SELECT hashtextextended('pgshift:' || $1, 0) AS k) AS key";

/* Who holds a bigint advisory lock: pg_locks splits the key in classid (high) and objid (low). */
static const char holder_sql[] =
	"SELECT a.pid, coalesce(host(a.client_addr), 'local'), a.backend_start::timestamp(0)"
	" FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
	" WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
	" AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
	" AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint"
	" LIMIT 1";

/* Names the session holding the lock, when the server lets us see it. */
static void
describe_holder(PGconn *conn, const char *key, struct pgs_error *err)
{
	const char *params[1] = {key};
	struct pgs_error ignored;
	PGresult *res = pg_query(conn, holder_sql, 1, params, &ignored);

	if (res && PQntuples(res) == 1)
		pgs_error_detail(err, "the lock is held by server process %s (client %s, connected "
						 "since %s UTC)", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
						 PQgetvalue(res, 0, 2));
	PQclear(res);
}

bool
state_take_lock(PGconn *conn, const char *plan, const char *plan_file, bool *locked,
				struct pgs_error *err)
{
	const char *params[1] = {plan};
	PGresult *res = pg_query(conn, lock_sql, 1, params, err);

	if (!res) {
		pgs_error_prefix(err, "could not take the advisory lock of plan \"%s\" on the target",
						 plan);
		return false;
	}
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		*locked = true;
		pgs_fail(err, "another pgshift apply of plan \"%s\" is running (it holds the advisory "
				 "lock on the target)", plan);
		pgs_error_hint(err, "wait for it to finish, or stop it; \"pgshift status %s\" shows "
					   "its progress", plan_file);
		describe_holder(conn, PQgetvalue(res, 0, 1), err);
		PQclear(res);
		return false;
	}
	PQclear(res);
	return true;
}

/*
 * The state session stays idle for hours while steps run; a server's
 * idle_session_timeout (PostgreSQL 14+) would end it and silently release
 * the lock, so it is switched off for this session.
 */
bool
state_keep_alive(PGconn *conn, struct pgs_error *err)
{
	if (PQserverVersion(conn) < 140000)
		return true;
	if (pg_exec(conn, "SET idle_session_timeout = 0", 0, NULL, err))
		return true;
	pgs_error_prefix(err, "could not configure the state session on the target");
	return false;
}

/*
 * A crashed apply's lock lives until its server process notices the client
 * is gone, which under load takes a moment: a re-run right after a kill -9
 * would be told another apply runs. So a held lock is tried again for up to
 * LOCK_GRACE_MS before the answer is "locked" (exit 4).
 */
#define LOCK_GRACE_MS 2000
#define LOCK_RETRY_MS 100

static bool
take_lock_with_grace(PGconn *conn, const struct plan *plan, bool *locked, struct pgs_error *err)
{
	struct timespec pause = {0, LOCK_RETRY_MS * 1000000L};

	for (int waited = 0;; waited += LOCK_RETRY_MS) {
		*locked = false;
		if (state_take_lock(conn, plan->name, plan->file, locked, err))
			return true;
		if (!*locked || waited >= LOCK_GRACE_MS)
			return false;
		nanosleep(&pause, NULL);
	}
}

struct state *
state_open(const struct plan *plan, bool *locked, struct pgs_error *err)
{
	struct pg_session s = {"target", "pgshift state", false, false, false, false};
	struct state *st;
	PGconn *conn;

	*locked = false;
	conn = pg_connect(plan->target_uri, &s, err);
	if (!conn)
		return NULL;
	if (!state_keep_alive(conn, err) || !take_lock_with_grace(conn, plan, locked, err)) {
		PQfinish(conn);
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->conn = conn;
	st->plan = xstrdup(plan->name);
	st->plan_file = xstrdup(plan->file ? plan->file : "PLAN");
	st->target_uri = xstrdup(plan->target_uri);
	pg_backoff_init(&st->backoff, "the state session on the target", st->plan_file,
					plan->cdc.reconnect_for_ms);
	pthread_mutex_init(&st->conn_lock, NULL);
	pthread_mutex_init(&st->queue_lock, NULL);
	pthread_mutex_init(&st->write_lock, NULL);
	return st;
}

void
state_close(struct state *st)
{
	struct pgs_error err;

	if (!st)
		return;
	pgs_error_clear(&err);
	if (!state_flush_steps(st, &err))
		log_report(LOG_WARNING, &err);
	/*
	 * Released here, synchronously: closing the session releases it too, but
	 * only once the server has processed the goodbye, after we returned.
	 */
	PQclear(PQexec(st->conn, "SELECT pg_catalog.pg_advisory_unlock_all()"));
	PQfinish(st->conn);
	pthread_mutex_destroy(&st->conn_lock);
	state_queue_free(st);
	pthread_mutex_destroy(&st->queue_lock);
	pthread_mutex_destroy(&st->write_lock);
	free(st->plan);
	free(st->plan_file);
	free(st->target_uri);
	free(st);
}
