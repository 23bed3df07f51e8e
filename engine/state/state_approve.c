/*
 * Approval of the manual cutover gate. The gate step records its state
 * session in pgshift.runs.gate_pid and polls state_is_approved; `pgshift
 * cutover` writes the approval from any machine on a connection of its own.
 * Neither takes the plan's advisory lock, but the approval only lands when
 * the session in gate_pid holds it: an approval belongs to the live process
 * waiting at the gate, never to a run that died or has yet to get there.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "state/state_int.h"
#include "util/xalloc.h"

/*
 * Reads the row (locked) and approves it in the same statement when a live
 * apply waits at the gate; a first approval is kept (who and when).
 */
static const char approve_sql[] =
	"WITH r AS (SELECT run_id, status, approved_at, approved_by,"
	"  " STATE_LOCK_HELD_SQL("") " AS live,"
	"  " STATE_LOCK_HELD_SQL(" AND l.pid = gate_pid") " AS waiting"
	"  FROM pgshift.runs WHERE plan = $1 FOR UPDATE),"
	" u AS (UPDATE pgshift.runs SET approved_at = now(), approved_by = current_user::text,"
	"  updated_at = now() FROM r WHERE pgshift.runs.plan = $1 AND r.waiting"
	"  AND r.approved_at IS NULL RETURNING pgshift.runs.approved_at, pgshift.runs.approved_by)"
	" SELECT r.run_id::text, r.status, r.live, r.waiting, r.approved_at IS NOT NULL,"
	"  extract(epoch FROM coalesce(u.approved_at, r.approved_at))::float8,"
	"  coalesce(u.approved_by, r.approved_by)"
	" FROM r LEFT JOIN u ON true";

static bool
approve_on(PGconn *conn, const char *plan, struct approval *a, struct pgs_error *err)
{
	const char *params[1] = {plan};
	PGresult *res = pg_query(conn, approve_sql, 1, params, err);

	if (!res)
		return false;
	a->exists = PQntuples(res) == 1;
	if (a->exists) {
		a->run_id = state_getstr(res, 0, 0);
		a->status = state_getstr(res, 0, 1);
		a->live = PQgetvalue(res, 0, 2)[0] == 't';
		a->waiting = PQgetvalue(res, 0, 3)[0] == 't';
		a->already = a->waiting && PQgetvalue(res, 0, 4)[0] == 't';
		a->approved_at = a->waiting ? state_getdbl(res, 0, 5) : 0;
		a->approved_by = a->waiting ? state_getstr(res, 0, 6) : NULL;
	}
	PQclear(res);
	return true;
}

bool
state_approve(struct state *st, struct pgs_error *err)
{
	const char *params[1] = {st->plan};
	bool ok;

	ok = state_exec(st, "UPDATE pgshift.runs SET approved_at = coalesce(approved_at, now()),"
					" approved_by = coalesce(approved_by, current_user::text), updated_at = now()"
					" WHERE plan = $1", 1, params, err);
	if (!ok)
		pgs_error_prefix(err, "could not approve the cutover");
	return ok;
}

bool
state_gate_wait(struct state *st, bool waiting, struct pgs_error *err)
{
	const char *params[1] = {st->plan};
	bool ok;

	ok = waiting
		? state_exec(st, "UPDATE pgshift.runs SET gate_pid = pg_backend_pid(),"
					 " approved_at = NULL, approved_by = NULL, updated_at = now() WHERE plan = $1",
					 1, params, err)
		: state_exec(st, "UPDATE pgshift.runs SET gate_pid = NULL, updated_at = now()"
					 " WHERE plan = $1", 1, params, err);
	if (!ok)
		pgs_error_prefix(err, "could not record the cutover gate of plan \"%s\"", st->plan);
	return ok;
}

bool
state_is_approved(struct state *st, bool *approved, struct pgs_error *err)
{
	const char *params[1] = {st->plan};
	PGresult *res;

	/*
	 * The poll also names this session again: after the state connection was
	 * re-established (a target restart) its backend is a new one, and only the
	 * session in gate_pid can be approved.
	 */
	res = state_query(st, "UPDATE pgshift.runs SET gate_pid = pg_backend_pid()"
					  " WHERE plan = $1 AND gate_pid IS NOT NULL"
					  " RETURNING approved_at IS NOT NULL", 1, params, err);
	if (!res) {
		pgs_error_prefix(err, "could not read the cutover approval of plan \"%s\"", st->plan);
		return false;
	}
	*approved = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return true;
}

bool
state_approve_plan(const struct plan *plan, struct approval *a, struct pgs_error *err)
{
	PGconn *conn;
	bool ok, table;

	memset(a, 0, sizeof(*a));
	conn = state_connect_unlocked(plan, "pgshift cutover", false, err);
	if (!conn)
		return false;
	ok = state_runs_table_exists(conn, &table, err);
	if (ok && table)
		ok = approve_on(conn, plan->name, a, err);
	PQfinish(conn);
	if (!ok)
		pgs_error_prefix(err, "could not approve the cutover of plan \"%s\"", plan->name);
	return ok;
}

void
approval_free(struct approval *a)
{
	free(a->run_id);
	free(a->status);
	free(a->approved_by);
	memset(a, 0, sizeof(*a));
}
