/*
 * pgshift.query("source"|"target", sql, ...): values bound as parameters
 * (tostring of each; nil is NULL), never spliced into the SQL. Each hook
 * state opens its own session per side on first use and keeps it, with the
 * server's default search_path (hooks write SQL as an operator would) and
 * statement_timeout set to what is left of the hook's deadline.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "hooks/hooks_int.h"
#include "pg/conn.h"

#define MAX_PARAMS 100

static PGconn *
hook_conn(lua_State *L, struct hook_state *hs, enum hook_conn side)
{
	static const char *const names[] = {"source", "target"};
	const char *uri = side == HOOK_SOURCE ? hs->cfg->source_uri : hs->cfg->target_uri;
	struct pg_session s = {names[side], "pgshift hook", false, false, false, false};
	struct pgs_error err;

	if (hs->conn[side] && PQstatus(hs->conn[side]) == CONNECTION_OK)
		return hs->conn[side];
	PQfinish(hs->conn[side]);
	hs->conn[side] = NULL;
	if (!uri)
		luaL_error(L, "pgshift.query: no %s connection string in this context", names[side]);
	pgs_error_clear(&err);
	hs->conn[side] = pg_connect(uri, &s, &err);
	if (hs->conn[side] && !pg_exec(hs->conn[side], "SET search_path TO DEFAULT", 0, NULL, &err)) {
		PQfinish(hs->conn[side]);
		hs->conn[side] = NULL;
	}
	if (!hs->conn[side])
		luaL_error(L, "pgshift.query: %s", err.message);
	return hs->conn[side];
}

/* statement_timeout = what is left of the hook's time, so a slow query cannot outlive it. */
static void
limit_statement(lua_State *L, struct hook_state *hs, PGconn *conn)
{
	long left = hook_deadline_left_ms(hs);
	char ms[32];
	const char *params[1] = {ms};
	struct pgs_error err;

	if (left == 0)
		hook_deadline_raise(L, hs);
	snprintf(ms, sizeof(ms), "%ld", left < 0 ? 0 : left);
	pgs_error_clear(&err);
	if (!pg_exec(conn, "SELECT pg_catalog.set_config('statement_timeout', $1, false)", 1, params,
				 &err))
		luaL_error(L, "pgshift.query: %s", err.message);
}

/* A list of rows, each a table keyed by column name; NULL stays nil. */
static void
push_rows(lua_State *L, const PGresult *res)
{
	int nrows = PQntuples(res), ncols = PQnfields(res);

	lua_createtable(L, nrows, 0);
	for (int r = 0; r < nrows; r++) {
		lua_createtable(L, 0, ncols);
		for (int c = 0; c < ncols; c++) {
			if (PQgetisnull(res, r, c))
				continue;
			lua_pushlstring(L, PQgetvalue(res, r, c), (size_t) PQgetlength(res, r, c));
			lua_setfield(L, -2, PQfname(res, c));
		}
		lua_rawseti(L, -2, r + 1);
	}
}

/* Raises the server's error with its SQLSTATE, or the timeout when that caused it. */
static int
raise_result(lua_State *L, struct hook_state *hs, PGconn *conn, const PGresult *res,
			 const char *side)
{
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (hook_deadline_left_ms(hs) == 0)
		return hook_deadline_raise(L, hs);
	return luaL_error(L, "pgshift.query(%s): %s%s%s%s", side, msg ? msg : PQerrorMessage(conn),
					  state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
}

/* A result owned by a userdata, so a Lua error (even out of memory) cannot leak it. */
static int
result_gc(lua_State *L)
{
	PGresult **box = lua_touserdata(L, 1);

	PQclear(*box);
	*box = NULL;
	return 0;
}

static PGresult **
new_result_box(lua_State *L)
{
	PGresult **box = lua_newuserdatauv(L, sizeof(*box), 0);

	*box = NULL;
	if (luaL_newmetatable(L, "pgshift.result")) {
		lua_pushcfunction(L, result_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	return box;
}

int
hook_api_query(lua_State *L)
{
	static const char *const sides[] = {"source", "target", NULL};
	struct hook_state *hs = hook_state_of(L);
	int side = luaL_checkoption(L, 1, NULL, sides);
	const char *sql = luaL_checkstring(L, 2);
	int nparams = lua_gettop(L) - 2;
	const char *params[MAX_PARAMS];
	PGresult **box;
	PGconn *conn;
	ExecStatusType st;

	luaL_argcheck(L, nparams <= MAX_PARAMS, MAX_PARAMS + 3, "too many parameters");
	for (int i = 0; i < nparams; i++)
		params[i] = lua_isnil(L, i + 3) ? NULL : luaL_tolstring(L, i + 3, NULL);
	conn = hook_conn(L, hs, (enum hook_conn) side);
	limit_statement(L, hs, conn);
	box = new_result_box(L);
	*box = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	st = PQresultStatus(*box);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		return raise_result(L, hs, conn, *box, sides[side]);
	push_rows(L, *box);
	PQclear(*box);      /* now, not at the next collection */
	*box = NULL;
	return 1;
}
