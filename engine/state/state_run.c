/*
 * The run row: starting, resuming and finishing a plan's run. begin_run
 * runs in one transaction with the DDL lock held, so the schema cannot be
 * dropped (state_drop of another plan) between its creation and our row.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "pg/conn.h"
#include "state/state_int.h"

/* A random (version 4) UUID from the kernel's generator, valid on any server version. */
static bool
uuid_v4(char out[37], struct pgs_error *err)
{
	unsigned char b[16];
	ssize_t n = getrandom(b, sizeof(b), 0);

	if (n != (ssize_t) sizeof(b)) {
		if (n >= 0)
			return pgs_fail(err, "could not read the kernel's random generator for a run id: short read");
		return pgs_fail(err, "could not read the kernel's random generator for a run id: %m");
	}
	b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
			 b[13], b[14], b[15]);
	return true;
}

static bool
insert_run(struct state *st, const char *sha, char *run_id, size_t len, struct pgs_error *err)
{
	char id[37];
	const char *params[3] = {st->plan, id, sha};

	if (!uuid_v4(id, err))
		return false;
	if (!pg_exec(st->conn, "INSERT INTO pgshift.runs (plan, run_id, plan_sha256, status)"
				 " VALUES ($1, $2::uuid, $3, 'running')", 3, params, err))
		return false;
	snprintf(run_id, len, "%s", id);
	return true;
}

/*
 * Resuming: interrupted steps go back to pending; attempts keep counting.
 * An approval given to a process that died before passing the gate is
 * dropped: the gate asks again. One that let the gate finish is history.
 */
static bool
resume_run(struct state *st, const char *sha, struct pgs_error *err)
{
	const char *params[2] = {st->plan, sha};

	return pg_exec(st->conn, "UPDATE pgshift.runs SET plan_sha256 = $2, status = 'running',"
				   " updated_at = now(), finished_at = NULL, error = NULL, gate_pid = NULL,"
				   " paused_step = NULL,"
				   " approved_at = CASE WHEN gate.done THEN approved_at END,"
				   " approved_by = CASE WHEN gate.done THEN approved_by END"
				   " FROM (SELECT EXISTS (SELECT 1 FROM pgshift.steps WHERE plan = $1"
				   "  AND step_id = 'cutover.gate' AND status = 'done') AS done) AS gate"
				   " WHERE plan = $1", 2, params, err) &&
		   pg_exec(st->conn, "UPDATE pgshift.steps SET status = 'pending', updated_at = now()"
				   " WHERE plan = $1 AND status = 'running'", 1, params, err);
}

static bool
plan_changed(const char *run_id, const char *old_sha, const char *new_sha, struct pgs_error *err)
{
	pgs_fail(err, "the plan file changed since run %s began (sha256 %.12s… → %.12s…)", run_id,
			 old_sha, new_sha);
	pgs_error_hint(err, "apply --force resumes anyway; pgshift reset starts over");
	return false;
}

/* The body of begin_run, inside its transaction. */
static bool
begin_in_tx(struct state *st, const char *sha, bool force, bool *resuming, char *run_id,
			size_t len, struct pgs_error *err)
{
	const char *params[1] = {st->plan};
	PGresult *res;
	bool ok = true;

	if (!state_ddl_in_tx(st->conn, err))
		return false;
	res = pg_query(st->conn, "SELECT run_id::text, plan_sha256 FROM pgshift.runs"
				   " WHERE plan = $1 FOR UPDATE", 1, params, err);
	if (!res)
		return false;
	*resuming = PQntuples(res) == 1;
	if (!*resuming) {
		PQclear(res);
		return insert_run(st, sha, run_id, len, err);
	}
	if (strcmp(PQgetvalue(res, 0, 1), sha) != 0 && !force)
		ok = plan_changed(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), sha, err);
	if (ok)
		snprintf(run_id, len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return ok && resume_run(st, sha, err);
}

bool
state_begin_run(struct state *st, const char *plan_sha256, bool force, bool *resuming,
				char *run_id_out, size_t run_id_len, struct pgs_error *err)
{
	bool ok;

	*resuming = false;
	pthread_mutex_lock(&st->conn_lock);
	ok = pg_exec(st->conn, "BEGIN", 0, NULL, err);
	if (ok) {
		ok = begin_in_tx(st, plan_sha256, force, resuming, run_id_out, run_id_len, err) &&
			 pg_exec(st->conn, "COMMIT", 0, NULL, err);
		if (!ok)
			state_rollback(st->conn);
	}
	pthread_mutex_unlock(&st->conn_lock);
	return ok;
}

bool
state_finish_run(struct state *st, bool ok, const char *error, struct pgs_error *err)
{
	const char *params[3] = {st->plan, ok ? "finished" : "failed", ok ? NULL : error};
	bool done;

	done = state_flush_steps(st, err) &&
		state_exec(st, "UPDATE pgshift.runs SET status = $2, error = $3, gate_pid = NULL,"
					  " finished_at = now(), updated_at = now() WHERE plan = $1", 3, params, err);
	if (!done)
		pgs_error_prefix(err, "could not record the end of the run of plan \"%s\"", st->plan);
	return done;
}

bool
state_stop_run(struct state *st, const char *status, const char *paused_step,
			   struct pgs_error *err)
{
	const char *params[3] = {st->plan, status, paused_step};
	bool done;

	/* first: a queued start would otherwise mark its step running again */
	done = state_flush_steps(st, err) &&
		state_exec(st, "UPDATE pgshift.runs SET status = $2, paused_step = $3,"
					  " gate_pid = NULL, error = NULL, updated_at = now() WHERE plan = $1", 3,
					  params, err) &&
		   state_exec(st, "UPDATE pgshift.steps SET status = 'pending', updated_at = now()"
					  " WHERE plan = $1 AND status = 'running'", 1, params, err);
	if (!done)
		pgs_error_prefix(err, "could not record that the run of plan \"%s\" stopped", st->plan);
	return done;
}
