/*
 * Calling into a hook state: every call goes through a pcall whose message
 * handler adds the Lua traceback (reported as the error's detail), and the
 * outcome becomes a pgs_error naming the hook file and line. A state that
 * timed out or ran out of memory is closed: it may have stopped halfway
 * through updating its own globals, so the next event gets a fresh one.
 */
#include <ctype.h>
#include <string.h>

#include <lauxlib.h>

#include "hooks/hooks_int.h"

static int
traceback_handler(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	if (!msg)      /* error(table) and friends: no __tostring call here, it could raise */
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	luaL_traceback(L, L, msg, 1);
	return 1;
}

/* "FILE:LINE: ..." already says where; anything else gets the hook file in front. */
static bool
has_location(const char *msg)
{
	const char *colon = strchr(msg, ':');

	if (!colon || colon == msg || !isdigit((unsigned char) colon[1]))
		return false;
	for (colon++; isdigit((unsigned char) *colon); colon++)
		;
	return *colon == ':';
}

/* Splits "message\nstack traceback:\n..." into err->message and err->detail. */
static void
fail_with_traceback(struct hook_state *hs, const char *text, struct pgs_error *err)
{
	const char *tb = strstr(text, "\nstack traceback:");
	int len = tb ? (int) (tb - text) : (int) strlen(text);

	if (hs->timed_out)
		pgs_fail(err, "lua hook %s timed out after %lld ms (hooks.timeout)%s%s", hs->file,
				 (long long) hs->cfg->timeout_ms, hs->timeout_where[0] ? " at " : "",
				 hs->timeout_where);
	else if (has_location(text))
		pgs_fail(err, "lua hook %.*s", len, text);
	else
		pgs_fail(err, "lua hook %s: %.*s", hs->file, len, text);
	if (tb)
		pgs_error_detail(err, "%s", tb + 1);
}

bool
hook_pcall(struct hook_state *hs, int nargs, int nresults, struct pgs_error *err)
{
	lua_State *L = hs->L;
	int base = lua_gettop(L) - nargs;  /* where the function is */
	int status;

	lua_pushcfunction(L, traceback_handler);
	lua_insert(L, base);
	status = lua_pcall(L, nargs, nresults, base);
	lua_remove(L, base);
	if (status == LUA_OK)
		return true;
	hs->out_of_memory = status == LUA_ERRMEM;
	if (hs->out_of_memory)
		pgs_fail(err, "lua hook %s ran out of memory (limit %zu MB)", hs->file,
				 hs->mem.limit >> 20);
	else
		fail_with_traceback(hs, lua_tostring(L, -1) ? lua_tostring(L, -1) : "(no message)", err);
	lua_pop(L, 1);
	return false;
}

static void
set_string(lua_State *L, const char *key, const char *value)
{
	if (!value)
		return;
	lua_pushstring(L, value);
	lua_setfield(L, -2, key);
}

static void
set_int(lua_State *L, const char *key, int64_t value)
{
	if (value < 0)
		return;
	lua_pushinteger(L, (lua_Integer) value);
	lua_setfield(L, -2, key);
}

static void
set_number(lua_State *L, const char *key, double value)
{
	if (value < 0)
		return;
	lua_pushnumber(L, value);
	lua_setfield(L, -2, key);
}

/* ctx of DESIGN.md §5: unset fields stay nil. */
static void
push_ctx(lua_State *L, const struct event *ev)
{
	lua_createtable(L, 0, 14);
	set_string(L, "event", ev->name);
	set_string(L, "plan", ev->plan);
	set_string(L, "run_id", ev->run_id);
	set_string(L, "step", ev->step);
	set_string(L, "table", ev->table);
	set_int(L, "rows", ev->rows);
	set_int(L, "bytes", ev->bytes);
	set_string(L, "lsn", ev->lsn);
	set_int(L, "lag_bytes", ev->lag_bytes);
	set_int(L, "receive_lag_bytes", ev->receive_lag_bytes);
	set_int(L, "apply_lag_bytes", ev->apply_lag_bytes);
	set_number(L, "lag_seconds", ev->lag_seconds);
	set_string(L, "error", ev->error);
	set_number(L, "at", ev->at);
	if (ev->duration > 0)
		set_number(L, "duration", ev->duration);
}

/* `return false, "reason"` fails the step; anything else (nothing, true, nil) passes. */
static bool
check_result(struct hook_state *hs, struct pgs_error *err)
{
	lua_State *L = hs->L;

	if (!lua_isboolean(L, -2) || lua_toboolean(L, -2))
		return true;
	if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
		return pgs_fail(err, "lua hook %s returned false: %s", hs->file, lua_tostring(L, -1));
	return pgs_fail(err, "lua hook %s returned false (no reason given)", hs->file);
}

bool
hook_call(struct hook_state *hs, const struct event *ev, struct pgs_error *err)
{
	lua_State *L;
	bool ok;

	if (!hs->L && !hook_state_open(hs, err))
		return false;
	L = hs->L;
	lua_rawgeti(L, LUA_REGISTRYINDEX, hs->fn_ref);
	lua_pushstring(L, ev->name);
	push_ctx(L, ev);
	hs->ev = ev;
	hook_deadline_start(hs);
	ok = hook_pcall(hs, 2, 2, err);
	hook_deadline_stop(hs);
	hs->ev = NULL;
	if (ok) {
		ok = check_result(hs, err);
		lua_pop(L, 2);
	} else if (hs->timed_out || hs->out_of_memory) {
		hook_state_close(hs);
	}
	return ok;
}
