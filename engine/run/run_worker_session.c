/*
 * One reusable target session per worker thread, for the index pool's
 * steps (index, constraint, vacuum). Each of them opened its own
 * connection, and a backend's start (fork, authentication, catalog caches,
 * then pgshift's session settings) took 51 ms on average on the shared
 * 2-core test machine (pgbench -C at load 24): longer than building a
 * small table's index, for each of the 47 such steps of issue 20's
 * many-FK set. A step takes the thread's session, renamed to its step id
 * so that pg_stat_activity and run_end_sessions still tell which step it
 * serves, and gives it back; a failed step's session is closed, never
 * reused, since it may be mid-transaction. The scheduler closes a worker's
 * session when its pool has nothing ready, so none idles on the target
 * through the CDC phase, and the thread's exit closes it at the latest.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "run/run.h"
#include "util/xalloc.h"

struct kept {
	const struct run *run;      /* the run whose target the session is on */
	PGconn *conn;               /* owned */
};

static pthread_key_t key;
static bool key_ok;                 /* set once by make_key */
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void
close_kept(void *p)
{
	struct kept *k = p;

	PQfinish(k->conn);
	free(k);
}

static void
make_key(void)
{
	/* without a key every step connects, as it did before */
	key_ok = pthread_key_create(&key, close_kept) == 0;
}

static bool
rename_session(PGconn *conn, const struct run *run, const char *step_id)
{
	char app[RUN_APP_NAME_SIZE];
	const char *params[1] = {app};
	PGresult *res;
	bool ok;

	run_app_name(run->run_id, step_id, app, sizeof(app));
	res = PQexecParams(conn, "SELECT pg_catalog.set_config('application_name', $1, false)", 1,
					   NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	return ok;
}

PGconn *
run_worker_session(struct run *run, const char *step_id, struct pgs_error *err)
{
	struct kept *k;

	pthread_once(&key_once, make_key);
	k = key_ok ? pthread_getspecific(key) : NULL;
	if (k) {
		PGconn *conn = k->conn;
		bool usable = k->run == run && PQstatus(conn) == CONNECTION_OK &&
			PQtransactionStatus(conn) == PQTRANS_IDLE && rename_session(conn, run, step_id);

		free(k);
		pthread_setspecific(key, NULL);
		if (usable)
			return conn;
		PQfinish(conn);
	}
	return run_connect_target_rows(run, step_id, err);
}

void
run_worker_session_done(struct run *run, PGconn *conn, bool ok)
{
	struct kept *k;

	if (!conn)
		return;
	pthread_once(&key_once, make_key);
	if (!ok || !key_ok || pthread_getspecific(key) != NULL) {
		PQfinish(conn);
		return;
	}
	k = xmalloc(sizeof(*k));
	k->run = run;
	k->conn = conn;
	if (pthread_setspecific(key, k) != 0)
		close_kept(k);
}

void
run_worker_session_close(void)
{
	struct kept *k;

	pthread_once(&key_once, make_key);
	k = key_ok ? pthread_getspecific(key) : NULL;
	if (!k)
		return;
	pthread_setspecific(key, NULL);
	close_kept(k);
}
