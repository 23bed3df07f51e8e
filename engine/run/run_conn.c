/*
 * Connections of a run's steps: the session settings of pg/conn.h and an
 * application_name "pgshift RUN8 STEP" (RUN8: the run id's first 8 hex
 * digits, first so a long step id cannot cut it off), so pg_stat_activity
 * shows which step a session belongs to, and a stopping or resuming apply
 * can find exactly the sessions of its run on either server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pg/conn.h"
#include "run/run.h"

#define RUN_TAG_LEN 8
#define GONE_WAIT_MS 30000
#define GONE_POLL_MS 100

void
run_app_name(const char *run_id, const char *step_id, char *out, size_t size)
{
	/* application_name is cut at NAMEDATALEN - 1 by the server anyway */
	snprintf(out, size, "pgshift %.*s %s", RUN_TAG_LEN, run_id, step_id);
}

static PGconn *
connect_as(const char *conninfo, const char *role, const char *run_id, const char *step_id,
		   bool user_path, bool replication, struct pgs_error *err)
{
	char app[RUN_APP_NAME_SIZE];
	struct pg_session s = {role, app, false, replication, user_path};

	run_app_name(run_id, step_id, app, sizeof(app));
	return pg_connect(conninfo, &s, err);
}

PGconn *
run_connect_source(struct run *run, const char *step_id, struct pgs_error *err)
{
	return connect_as(run->plan->source_uri, "source", run->run_id, step_id, false, false, err);
}

PGconn *
run_connect_source_replication(struct run *run, const char *step_id, struct pgs_error *err)
{
	return connect_as(run->plan->source_uri, "source", run->run_id, step_id, false, true, err);
}

PGconn *
run_connect_target(struct run *run, const char *step_id, struct pgs_error *err)
{
	return connect_as(run->plan->target_uri, "target", run->run_id, step_id, false, false, err);
}

PGconn *
run_connect_target_rows(struct run *run, const char *step_id, struct pgs_error *err)
{
	return connect_as(run->plan->target_uri, "target", run->run_id, step_id, true, false, err);
}

static const char cancel_sql[] =
	"SELECT count(*) FILTER (WHERE pg_catalog.pg_cancel_backend(pid))::int"
	" FROM pg_catalog.pg_stat_activity WHERE application_name LIKE $1"
	" AND pid <> pg_catalog.pg_backend_pid() AND state <> 'idle'";
static const char terminate_sql[] =
	"SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid))::int"
	" FROM pg_catalog.pg_stat_activity WHERE application_name LIKE $1"
	" AND pid <> pg_catalog.pg_backend_pid()";
/* parallel workers carry their leader's application_name: they go with it */
static const char left_sql[] =
	"SELECT count(*)::int FROM pg_catalog.pg_stat_activity WHERE application_name LIKE $1"
	" AND pid <> pg_catalog.pg_backend_pid()";

static int
count_of(PGconn *conn, const char *sql, const char *pattern, struct pgs_error *err)
{
	const char *params[1] = {pattern};
	PGresult *res = pg_query(conn, sql, 1, params, err);
	int n;

	if (!res)
		return -1;
	n = (int) strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

static bool
wait_gone(PGconn *conn, const char *pattern, const char *role, struct pgs_error *err)
{
	struct timespec pause = {0, GONE_POLL_MS * 1000000L};
	int left = 0;

	for (int waited = 0; waited < GONE_WAIT_MS; waited += GONE_POLL_MS) {
		left = count_of(conn, left_sql, pattern, err);
		if (left <= 0)
			return left == 0;
		nanosleep(&pause, NULL);
	}
	pgs_fail(err, "%d session(s) of the previous run are still on the %s %d s after they were "
			 "terminated", left, role, GONE_WAIT_MS / 1000);
	pgs_error_hint(err, "look for application_name \"%s\" in pg_stat_activity on the %s",
				   pattern, role);
	return false;
}

static bool
end_on(const char *conninfo, const char *role, const char *pattern, bool terminate, int *n,
	   struct pgs_error *err)
{
	struct pg_session s = {role, "pgshift stop", false, false, false};
	PGconn *conn = pg_connect(conninfo, &s, err);
	int ended;
	bool ok;

	if (!conn)
		return false;
	ended = count_of(conn, terminate ? terminate_sql : cancel_sql, pattern, err);
	ok = ended >= 0 && (!terminate || wait_gone(conn, pattern, role, err));
	if (ok && n)
		*n += ended;
	PQfinish(conn);
	return ok;
}

bool
run_end_sessions(const struct plan *plan, const char *run_id, bool terminate, int *n,
				 struct pgs_error *err)
{
	char pattern[32];

	if (n)
		*n = 0;
	snprintf(pattern, sizeof(pattern), "pgshift %.*s %%", RUN_TAG_LEN, run_id);
	if (end_on(plan->source_uri, "source", pattern, terminate, n, err) &&
		end_on(plan->target_uri, "target", pattern, terminate, n, err))
		return true;
	pgs_error_prefix(err, "could not %s the sessions of run %s", terminate ? "end" : "cancel",
					 run_id);
	return false;
}
