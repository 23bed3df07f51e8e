/* Query helpers shared by engine/state/ (see state_int.h). */
#include <stdlib.h>

#include "pg/conn.h"
#include "state/state_int.h"
#include "util/xalloc.h"

void
state_rollback(PGconn *conn)
{
	PQclear(PQexec(conn, "ROLLBACK"));
}

char *
state_getstr(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : xstrdup(PQgetvalue(res, row, col));
}

double
state_getdbl(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtod(PQgetvalue(res, row, col), NULL);
}

long long
state_getll(const PGresult *res, int row, int col, long long null_value)
{
	return PQgetisnull(res, row, col) ? null_value : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

PGconn *
state_connect_unlocked(const struct plan *plan, const char *app, bool read_only,
					   struct pgs_error *err)
{
	struct pg_session s = {"target", app, read_only, false, false, false};

	return pg_connect(plan->target_uri, &s, err);
}

bool
state_table_exists(PGconn *conn, const char *table, bool *exists, struct pgs_error *err)
{
	const char *params[1] = {table};
	PGresult *res = pg_query(conn, "SELECT to_regclass($1) IS NOT NULL", 1, params, err);

	if (!res)
		return false;
	*exists = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return true;
}

bool
state_runs_table_exists(PGconn *conn, bool *exists, struct pgs_error *err)
{
	return state_table_exists(conn, "pgshift.runs", exists, err);
}
