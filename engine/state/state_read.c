/*
 * Reading a plan's run for `pgshift status`: a read-only connection of its
 * own, no lock, so it works while apply runs and can never change the
 * state. A target without schema pgshift, or without the plan's row, is
 * "no run", not an error.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "state/state_int.h"
#include "util/xalloc.h"

/*
 * The lags of run_cdc.h: lag = source - applied, receive lag = source -
 * received, apply lag = received - applied; lag_seconds how old the last
 * applied source commit is while there is lag, else what it was when
 * source_lsn was read (source_lag_s, run_cdc.h). apply writes source_lsn and
 * received_lsn about once a second and the applier its applied_lsn with
 * every batch, so one may read ahead of another: that is no lag, not a
 * negative one.
 */
static const char run_sql[] =
	"SELECT run_id::text, plan_sha256, status, extract(epoch FROM started_at)::float8,"
	" extract(epoch FROM updated_at)::float8, extract(epoch FROM finished_at)::float8,"
	" extract(epoch FROM approved_at)::float8, approved_by, fenced,"
	" received_lsn::text, applied_lsn::text, error,"
	" greatest(pg_wal_lsn_diff(source_lsn, applied_lsn), 0)::bigint,"
	" CASE WHEN source_lsn IS NULL OR applied_lsn IS NULL THEN NULL"
	"  WHEN source_lsn <= applied_lsn THEN coalesce(source_lag_s, 0)"
	"  ELSE greatest(extract(epoch FROM now() - applied_commit_at)::float8, 0) END,"
	" extract(epoch FROM now())::float8,"
	" " STATE_LOCK_HELD_SQL("") ","
	" " STATE_LOCK_HELD_SQL(" AND l.pid = gate_pid") ","
	" paused_step, source_lsn::text,"
	" greatest(pg_wal_lsn_diff(source_lsn, received_lsn), 0)::bigint,"
	" greatest(pg_wal_lsn_diff(received_lsn, applied_lsn), 0)::bigint"
	" FROM pgshift.runs WHERE plan = $1";

static const char steps_sql[] =
	"SELECT step_id, status, attempts, rows, bytes, total_bytes,"
	" extract(epoch FROM started_at)::float8, extract(epoch FROM finished_at)::float8, error"
	" FROM pgshift.steps WHERE plan = $1 ORDER BY started_at NULLS LAST, step_id";

static enum step_status
parse_status(const char *s)
{
	if (strcmp(s, "running") == 0)
		return STEP_RUNNING;
	if (strcmp(s, "done") == 0)
		return STEP_DONE;
	if (strcmp(s, "failed") == 0)
		return STEP_FAILED;
	return STEP_PENDING;
}

const char *
step_status_name(enum step_status s)
{
	switch (s) {
	case STEP_RUNNING: return "running";
	case STEP_DONE: return "done";
	case STEP_FAILED: return "failed";
	default: return "pending";
	}
}

static void
fill_run(const PGresult *res, struct run_state *out)
{
	out->run_id = state_getstr(res, 0, 0);
	out->plan_sha256 = state_getstr(res, 0, 1);
	out->status = state_getstr(res, 0, 2);
	out->started_at = state_getdbl(res, 0, 3);
	out->updated_at = state_getdbl(res, 0, 4);
	out->finished_at = state_getdbl(res, 0, 5);
	out->approved = !PQgetisnull(res, 0, 6);
	out->approved_at = state_getdbl(res, 0, 6);
	out->approved_by = state_getstr(res, 0, 7);
	out->fenced = PQgetvalue(res, 0, 8)[0] == 't';
	out->received_lsn = state_getstr(res, 0, 9);
	out->applied_lsn = state_getstr(res, 0, 10);
	out->error = state_getstr(res, 0, 11);
	out->lag_bytes = state_getll(res, 0, 12, -1);
	out->lag_seconds = PQgetisnull(res, 0, 13) ? -1 : state_getdbl(res, 0, 13);
	out->read_at = state_getdbl(res, 0, 14);
	out->live = PQgetvalue(res, 0, 15)[0] == 't';
	out->gate_waiting = PQgetvalue(res, 0, 16)[0] == 't';
	out->paused_step = state_getstr(res, 0, 17);
	out->source_lsn = state_getstr(res, 0, 18);
	out->receive_lag_bytes = state_getll(res, 0, 19, -1);
	out->apply_lag_bytes = state_getll(res, 0, 20, -1);
}

static void
fill_steps(const PGresult *res, struct run_state *out)
{
	out->nsteps = (size_t) PQntuples(res);
	out->steps = xcalloc(out->nsteps ? out->nsteps : 1, sizeof(*out->steps));
	for (size_t i = 0; i < out->nsteps; i++) {
		struct step_state *s = &out->steps[i];
		int r = (int) i;

		s->step_id = state_getstr(res, r, 0);
		s->status = parse_status(PQgetvalue(res, r, 1));
		s->attempts = (int) state_getll(res, r, 2, 0);
		s->rows = state_getll(res, r, 3, 0);
		s->bytes = state_getll(res, r, 4, 0);
		s->total_bytes = state_getll(res, r, 5, 0);
		s->started_at = state_getdbl(res, r, 6);
		s->finished_at = state_getdbl(res, r, 7);
		s->error = state_getstr(res, r, 8);
	}
}

/* Both queries in one repeatable-read transaction: steps match the run row. */
static bool
read_rows(PGconn *conn, const char *plan, struct run_state *out, bool *exists,
		  struct pgs_error *err)
{
	const char *params[1] = {plan};
	PGresult *res = pg_query(conn, run_sql, 1, params, err);

	if (!res)
		return false;
	*exists = PQntuples(res) == 1;
	if (*exists)
		fill_run(res, out);
	PQclear(res);
	if (!*exists)
		return true;
	res = pg_query(conn, steps_sql, 1, params, err);
	if (!res)
		return false;
	fill_steps(res, out);
	PQclear(res);
	return true;
}

/*
 * Without a run row, what the manifest still records for the plan: a run
 * whose cleanup dropped its state (the manifest stays, for reset), told
 * apart from a plan that never ran. A state schema older than the
 * manifest has none.
 */
static bool
read_dropped_run(PGconn *conn, const char *plan, struct run_state *out, struct pgs_error *err)
{
	const char *params[1] = {plan};
	PGresult *res;
	bool has;

	if (!state_table_exists(conn, "pgshift.manifest", &has, err))
		return false;
	if (!has)
		return true;
	res = pg_query(conn, "SELECT count(*) FROM pgshift.manifest WHERE plan = $1", 1, params, err);
	if (!res)
		return false;
	out->dropped_run_objects = state_getll(res, 0, 0, 0);
	PQclear(res);
	return true;
}

bool
state_read(const struct plan *plan, struct run_state *out, bool *exists, struct pgs_error *err)
{
	PGconn *conn;
	bool ok, table = false;

	memset(out, 0, sizeof(*out));
	*exists = false;
	conn = state_connect_unlocked(plan, "pgshift status", true, err);
	if (!conn)
		return false;
	ok = pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, err) &&
		 state_runs_table_exists(conn, &table, err);
	if (ok && table)
		ok = read_rows(conn, plan->name, out, exists, err);
	if (ok && !*exists)
		ok = read_dropped_run(conn, plan->name, out, err);
	PQfinish(conn);
	if (!ok) {
		run_state_free(out);
		*exists = false;
		pgs_error_prefix(err, "could not read the state of plan \"%s\" on the target", plan->name);
	}
	return ok;
}

void
run_state_free(struct run_state *rs)
{
	for (size_t i = 0; i < rs->nsteps; i++) {
		free(rs->steps[i].step_id);
		free(rs->steps[i].error);
	}
	free(rs->steps);
	free(rs->run_id);
	free(rs->plan_sha256);
	free(rs->status);
	free(rs->paused_step);
	free(rs->approved_by);
	free(rs->applied_lsn);
	free(rs->received_lsn);
	free(rs->source_lsn);
	free(rs->error);
	memset(rs, 0, sizeof(*rs));
}
