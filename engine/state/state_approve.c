/*
 * Approval of the manual cutover gate. The gate step polls
 * state_is_approved; `pgshift cutover` writes the approval from any machine
 * on a connection of its own. Neither needs the plan's advisory lock: the
 * approval is one row update, and the lock's holder is exactly the apply
 * that waits for it.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "state/state_int.h"
#include "util/xalloc.h"

/*
 * A first approval is kept (who and when): approving twice is harmless.
 * The CTE reads the row before the update, to tell the caller which it was.
 */
static const char approve_sql[] =
	"WITH before AS (SELECT approved_at IS NOT NULL AS already FROM pgshift.runs"
	"  WHERE plan = $1 FOR UPDATE)"
	" UPDATE pgshift.runs SET approved_at = coalesce(approved_at, now()),"
	"  approved_by = coalesce(approved_by, current_user::text), updated_at = now()"
	" FROM before WHERE plan = $1"
	" RETURNING run_id::text, status, extract(epoch FROM approved_at)::float8, approved_by,"
	"  before.already";

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
		a->approved_at = state_getdbl(res, 0, 2);
		a->approved_by = state_getstr(res, 0, 3);
		a->already = PQgetvalue(res, 0, 4)[0] == 't';
	}
	PQclear(res);
	return true;
}

bool
state_approve(struct state *st, struct pgs_error *err)
{
	struct approval a = {0};
	bool ok;

	pthread_mutex_lock(&st->conn_lock);
	ok = approve_on(st->conn, st->plan, &a, err);
	pthread_mutex_unlock(&st->conn_lock);
	if (ok && !a.exists)
		ok = pgs_fail(err, "no run of plan \"%s\" on the target to approve", st->plan);
	approval_free(&a);
	if (!ok)
		pgs_error_prefix(err, "could not approve the cutover");
	return ok;
}

bool
state_is_approved(struct state *st, bool *approved, struct pgs_error *err)
{
	const char *params[1] = {st->plan};
	PGresult *res;

	res = state_query(st, "SELECT approved_at IS NOT NULL FROM pgshift.runs WHERE plan = $1",
					  1, params, err);
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
