/*
 * The state session survives a target restart (DESIGN.md §4a). Its
 * advisory lock is what keeps two applies of a plan apart, and a restart
 * takes it away with the session: so a reconnect is only good once the lock
 * is ours again. If another apply took it meanwhile, this apply must stop
 * touching the state at all, and says so on every later call.
 */
#include <stdio.h>

#include "pg/conn.h"
#include "state/state_int.h"
#include "util/log.h"

static bool
lock_taken_by_other(struct state *st, struct pgs_error *err)
{
	pgs_error_prefix(err, "the target was unreachable and, meanwhile, the advisory lock of "
					 "plan \"%s\" was taken by another session", st->plan);
	pgs_error_hint(err, "two applies of plan \"%s\" must not run at once: stop the other one, "
				   "then run pgshift apply %s again to resume", st->plan, st->plan_file);
	st->lost = *err;
	st->lock_lost = true;
	return false;
}

/* conn_lock held: a new session, its lock taken again, or false. */
static bool
relock(struct state *st, struct pgs_error *err)
{
	struct pg_session s = {"target", "pgshift state", false, false, false, false};
	bool locked = false;

	for (;;) {
		PQfinish(st->conn);
		st->conn = NULL;
		if (!pg_backoff_wait(&st->backoff, err, NULL, err))
			return false;
		pgs_error_clear(err);
		st->conn = pg_connect(st->target_uri, &s, err);
		if (st->conn && state_keep_alive(st->conn, err) &&
			state_take_lock(st->conn, st->plan, st->plan_file, &locked, err)) {
			pg_backoff_done(&st->backoff);
			log_info("state: the advisory lock of plan \"%s\" is held again", st->plan);
			return true;
		}
		if (locked)
			return lock_taken_by_other(st, err);
		if (!pg_error_is_connection(err))
			return false;
	}
}

static bool
usable(struct state *st, struct pgs_error *err)
{
	if (!st->lock_lost)
		return true;
	*err = st->lost;
	return false;
}

bool
state_exec(struct state *st, const char *sql, int n, const char *const *params,
		   struct pgs_error *err)
{
	bool ok;

	pthread_mutex_lock(&st->conn_lock);
	for (;;) {
		pgs_error_clear(err);
		ok = usable(st, err) && pg_exec(st->conn, sql, n, params, err);
		if (ok || st->lock_lost || !pg_error_is_connection(err) || !relock(st, err))
			break;
	}
	pthread_mutex_unlock(&st->conn_lock);
	return ok;
}

PGresult *
state_query(struct state *st, const char *sql, int n, const char *const *params,
			struct pgs_error *err)
{
	PGresult *res = NULL;

	pthread_mutex_lock(&st->conn_lock);
	for (;;) {
		pgs_error_clear(err);
		res = usable(st, err) ? pg_query(st->conn, sql, n, params, err) : NULL;
		if (res || st->lock_lost || !pg_error_is_connection(err) || !relock(st, err))
			break;
	}
	pthread_mutex_unlock(&st->conn_lock);
	return res;
}

bool
state_check_lock(struct state *st, struct pgs_error *err)
{
	bool ok;

	pthread_mutex_lock(&st->conn_lock);
	ok = usable(st, err);
	pthread_mutex_unlock(&st->conn_lock);
	return ok;
}
