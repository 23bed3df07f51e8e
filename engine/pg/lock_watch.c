/* The lock-wait watchdog; see lock_watch.h. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pg/lock_watch.h"
#include "util/log.h"

#define WATCH_POLL_MS 200
#define WATCH_SAY_EVERY_MS 5000

/* The sessions the watched one waits for, oldest first; NULL when it waits for none. */
static const char blockers_sql[] =
	"SELECT pg_catalog.string_agg(pg_catalog.format('pid %s (%s, %s, open %s s)', a.pid,"
	"  coalesce(nullif(a.application_name, ''), a.usename::text, '?'), a.state,"
	"  coalesce(round(extract(epoch FROM now() - a.xact_start)), 0)), ', ' ORDER BY a.xact_start)"
	" FROM pg_catalog.pg_stat_activity a"
	" WHERE a.pid = ANY (pg_catalog.pg_blocking_pids($1::int))";

static void
give_up(struct lock_watch *w, const char *who)
{
	char why[256];

	pthread_mutex_lock(&w->lock);
	snprintf(w->blockers, sizeof(w->blockers), "%s", who);
	w->fired = true;
	pthread_mutex_unlock(&w->lock);
	if (!PQcancel(w->cancel, why, sizeof(why)))
		log_warning("could not cancel the statement waiting for a lock (%s): %s", w->what, why);
}

static void *
watch(void *arg)
{
	struct lock_watch *w = arg;
	struct timespec poll = {0, WATCH_POLL_MS * 1000000L};
	const char *params[1] = {w->pid};
	int64_t waited = 0;

	while (!atomic_load(&w->stop)) {
		struct pgs_error err;
		PGresult *res;
		const char *who;

		nanosleep(&poll, NULL);
		pgs_error_clear(&err);
		res = pg_query(w->observer, blockers_sql, 1, params, &err);
		if (!res)
			break;              /* the watched statements go on unwatched, as before */
		who = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);
		waited = who ? waited + WATCH_POLL_MS : 0;
		if (who && waited >= w->timeout_ms) {
			give_up(w, who);
			PQclear(res);
			break;
		}
		if (who && (waited - WATCH_POLL_MS) % WATCH_SAY_EVERY_MS == 0)
			log_info("%s waits for a lock held by %s (up to %" PRId64 " ms)", w->what, who,
					 w->timeout_ms);
		PQclear(res);
	}
	return NULL;
}

bool
lock_watch_start(struct lock_watch *w, const char *conninfo, const struct pg_session *s,
				 PGconn *watched, const char *what, const char *hint, int64_t timeout_ms,
				 struct pgs_error *err)
{
	memset(w, 0, sizeof(*w));
	w->observer = pg_connect(conninfo, s, err);
	if (!w->observer)
		return false;
	w->cancel = PQgetCancel(watched);
	snprintf(w->pid, sizeof(w->pid), "%d", PQbackendPID(watched));
	snprintf(w->what, sizeof(w->what), "%s", what);
	snprintf(w->hint, sizeof(w->hint), "%s", hint);
	w->timeout_ms = timeout_ms;
	pthread_mutex_init(&w->lock, NULL);
	if (!w->cancel || pthread_create(&w->thread, NULL, watch, w) != 0) {
		PQfreeCancel(w->cancel);
		PQfinish(w->observer);
		pthread_mutex_destroy(&w->lock);
		return pgs_fail(err, "could not start the lock watch of %s", what);
	}
	return true;
}

bool
lock_watch_stop(struct lock_watch *w, bool ok, struct pgs_error *err)
{
	atomic_store(&w->stop, true);
	pthread_join(w->thread, NULL);
	if (!ok && w->fired) {
		pgs_error_clear(err);
		pgs_fail(err, "%s waited %" PRId64 " ms for a lock held by %s, and gave up", w->what,
				 w->timeout_ms, w->blockers);
		pgs_error_hint(err, "%s", w->hint);
	}
	PQfreeCancel(w->cancel);
	PQfinish(w->observer);
	pthread_mutex_destroy(&w->lock);
	return ok;
}
