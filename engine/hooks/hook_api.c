/*
 * The pgshift module's C functions that do not talk to a server or a
 * shell: log, env, notify, sleep, wait_until, file_exists. Waiting calls
 * wait no longer than the hook's deadline and raise the timeout when it
 * passes. pgshift.query (hook_query.c) and pgshift.exec (hook_exec.c) are
 * registered here too.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "hooks/hooks_int.h"
#include "util/clock.h"
#include "util/log.h"

/* pgshift.log(level, msg): level is error, warning, info or debug. */
static int
api_log(lua_State *L)
{
	static const char *const levels[] = {"error", "warning", "info", "debug", NULL};
	int level = luaL_checkoption(L, 1, NULL, levels);
	const char *msg = luaL_tolstring(L, 2, NULL);
	struct hook_state *hs = hook_state_of(L);

	log_msg((enum log_level) level, "hook %s: %s", hs->file, msg);
	return 0;
}

/* pgshift.env(name) -> string or nil */
static int
api_env(lua_State *L)
{
	const char *v = getenv(luaL_checkstring(L, 1));

	if (v)
		lua_pushstring(L, v);
	else
		lua_pushnil(L);
	return 1;
}

/*
 * pgshift.notify(text): logged, and handed to the notifier given at attach
 * (the notification queue) when there is one. Not an event on the bus: the
 * bus is busy delivering the event this hook runs for.
 */
static int
api_notify(lua_State *L)
{
	const char *text = luaL_tolstring(L, 1, NULL);
	struct hook_state *hs = hook_state_of(L);
	const struct hooks_notifier *n = &hs->cfg->notifier;

	log_info("hook %s: notify: %s", hs->file, text);
	if (n->post && hs->ev)
		n->post(n->ctx, hs->file, hs->ev, text);
	return 0;
}

/* Sleeps seconds, cut short by the deadline, which then raises. */
static void
sleep_within_deadline(lua_State *L, struct hook_state *hs, double seconds)
{
	long left = hook_deadline_left_ms(hs);
	bool cut = left >= 0 && seconds * 1000.0 >= (double) left;
	double s = cut ? left / 1000.0 : seconds;
	struct timespec ts = {(time_t) s, (long) ((s - floor(s)) * 1e9)};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	if (cut)
		hook_deadline_raise(L, hs);
}

/* pgshift.sleep(seconds) */
static int
api_sleep(lua_State *L)
{
	lua_Number s = luaL_checknumber(L, 1);

	luaL_argcheck(L, s >= 0 && s < 1e9, 1, "seconds must be between 0 and 1e9");
	sleep_within_deadline(L, hook_state_of(L), s);
	return 0;
}

/*
 * pgshift.wait_until(fn, timeout [, interval]) -> true when fn() returned a
 * true value, false when timeout seconds passed first. fn's errors
 * propagate; interval defaults to 0.5 s.
 */
static int
api_wait_until(lua_State *L)
{
	struct hook_state *hs = hook_state_of(L);
	lua_Number timeout = luaL_checknumber(L, 2);
	lua_Number interval = luaL_optnumber(L, 3, 0.5);
	double until;

	luaL_checktype(L, 1, LUA_TFUNCTION);
	luaL_argcheck(L, timeout >= 0 && timeout < 1e9, 2, "timeout must be between 0 and 1e9 seconds");
	luaL_argcheck(L, interval > 0 && interval < 1e9, 3, "interval must be positive");
	until = clock_mono_s() + timeout;
	for (;;) {
		double left;

		lua_pushvalue(L, 1);
		lua_call(L, 0, 1);
		if (lua_toboolean(L, -1)) {
			lua_pushboolean(L, 1);
			return 1;
		}
		lua_pop(L, 1);
		left = until - clock_mono_s();
		if (left <= 0)
			break;
		sleep_within_deadline(L, hs, left < interval ? left : interval);
	}
	lua_pushboolean(L, 0);
	return 1;
}

/* pgshift.file_exists(path) -> boolean: the one file question the sandbox answers. */
static int
api_file_exists(lua_State *L)
{
	lua_pushboolean(L, access(luaL_checkstring(L, 1), F_OK) == 0);
	return 1;
}

static const luaL_Reg api[] = {
	{"log", api_log},
	{"env", api_env},
	{"notify", api_notify},
	{"sleep", api_sleep},
	{"wait_until", api_wait_until},
	{"file_exists", api_file_exists},
	{"query", hook_api_query},
	{"exec", hook_api_exec},
	{NULL, NULL},
};

void
hook_api_register(lua_State *L)
{
	struct hook_state *hs = hook_state_of(L);

	luaL_newlib(L, api);
	lua_pushboolean(L, hs->cfg->allow_shell);
	lua_setfield(L, -2, "allow_shell");
	lua_pushstring(L, hs->file);
	lua_setfield(L, -2, "hook_file");
	lua_getfield(L, LUA_REGISTRYINDEX, "pgshift.loaded");
	lua_pushvalue(L, -2);
	lua_setfield(L, -2, "pgshift");
	lua_pop(L, 1);
	lua_setglobal(L, "pgshift");
}
