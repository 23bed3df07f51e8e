/*
 * hooks.timeout: a count hook checks a monotonic deadline every few
 * thousand VM instructions. Once the deadline has passed the hook fires on
 * every instruction and raises each time, so a script's own pcall may catch
 * the error but cannot run another instruction without raising again: the
 * error unwinds, frame by frame, to pgshift's pcall (redis' time-check
 * hook, made unswallowable). The calls that wait (sleep, wait_until, exec,
 * query) check the same deadline.
 */
#include <stdio.h>

#include <lauxlib.h>

#include "hooks/hooks_int.h"

#define CHECK_EVERY 1000        /* instructions between clock reads */

static struct timespec
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

long
hook_deadline_left_ms(const struct hook_state *hs)
{
	struct timespec t = now();
	long ms;

	if (!hs->has_deadline)
		return -1;
	ms = (long) (hs->deadline.tv_sec - t.tv_sec) * 1000 +
		(hs->deadline.tv_nsec - t.tv_nsec) / 1000000;
	return ms > 0 ? ms : 0;
}

static void count_hook(lua_State *L, lua_Debug *ar);

/* Records where the script was (level: its frame) and makes every instruction raise. */
static void
mark_timed_out(lua_State *L, struct hook_state *hs, int level)
{
	lua_Debug ar;

	if (hs->timed_out)
		return;
	hs->timed_out = true;
	if (lua_getstack(L, level, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
		snprintf(hs->timeout_where, sizeof(hs->timeout_where), "%s:%d", ar.short_src,
				 ar.currentline);
	lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
}

static int
raise_timeout(lua_State *L, struct hook_state *hs)
{
	return luaL_error(L, "hook timed out after %I ms (hooks.timeout)",
					  (lua_Integer) hs->cfg->timeout_ms);
}

/* From a C function: level 1 is the Lua code that called it. */
int
hook_deadline_raise(lua_State *L, struct hook_state *hs)
{
	mark_timed_out(L, hs, 1);
	return raise_timeout(L, hs);
}

void
hook_deadline_check(lua_State *L, struct hook_state *hs)
{
	if (hs->timed_out || hook_deadline_left_ms(hs) == 0)
		hook_deadline_raise(L, hs);
}

/* From the VM: level 0 is the running Lua function. */
static void
count_hook(lua_State *L, lua_Debug *ar)
{
	struct hook_state *hs = hook_state_of(L);

	(void) ar;
	if (!hs->timed_out && hook_deadline_left_ms(hs) != 0)
		return;
	mark_timed_out(L, hs, 0);
	raise_timeout(L, hs);
}

void
hook_deadline_start(struct hook_state *hs)
{
	hs->timed_out = false;
	hs->timeout_where[0] = '\0';
	hs->has_deadline = hs->cfg->timeout_ms > 0;
	if (hs->has_deadline) {
		hs->deadline = now();
		hs->deadline.tv_sec += hs->cfg->timeout_ms / 1000;
		hs->deadline.tv_nsec += (hs->cfg->timeout_ms % 1000) * 1000000;
		if (hs->deadline.tv_nsec >= 1000000000) {
			hs->deadline.tv_sec++;
			hs->deadline.tv_nsec -= 1000000000;
		}
		lua_sethook(hs->L, count_hook, LUA_MASKCOUNT, CHECK_EVERY);
	}
}

void
hook_deadline_stop(struct hook_state *hs)
{
	if (hs->L)
		lua_sethook(hs->L, NULL, 0, 0);
	hs->has_deadline = false;
}
