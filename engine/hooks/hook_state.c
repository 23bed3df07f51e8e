/*
 * Creating and closing a hook file's Lua state: a memory-capped allocator
 * (a runaway table cannot take the migration's memory), the hook_state kept
 * in the registry for the C functions, the sandbox, the Lua-side library,
 * then the hook file itself, run once under the deadline to get its function.
 */
#include <stdlib.h>

#include <lauxlib.h>
#include <lualib.h>

#include "hooks/hooks_int.h"

static const char state_key = 's';     /* its address keys the hook_state in the registry */

/* lua_Alloc that refuses to grow past the limit; Lua then raises "not enough memory". */
static void *
capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct hook_mem *m = ud;
	size_t old = ptr ? osize : 0;      /* without ptr, osize is a type tag, not a size */
	void *p;

	if (nsize == 0) {
		m->used -= old;
		free(ptr);
		return NULL;
	}
	if (nsize > old && m->used + (nsize - old) > m->limit)
		return NULL;
	p = realloc(ptr, nsize);
	if (p)
		m->used = m->used - old + nsize;
	return p;
}

struct hook_state *
hook_state_of(lua_State *L)
{
	struct hook_state *hs;

	lua_rawgetp(L, LUA_REGISTRYINDEX, &state_key);
	hs = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return hs;
}

/* Runs lua/pgshift.lua with the C module as its argument; it sets the global. */
static bool
load_library(struct hook_state *hs, struct pgs_error *err)
{
	lua_State *L = hs->L;

	if (luaL_loadbufferx(L, hooks_lua_lib, hooks_lua_lib_len, "@lua/pgshift.lua", "t") != LUA_OK) {
		pgs_fail(err, "could not load the pgshift Lua library: %s", lua_tostring(L, -1));
		lua_pop(L, 1);
		return false;
	}
	lua_getglobal(L, "pgshift");
	return hook_pcall(hs, 1, 0, err);
}

/* Loads the hook file as text and runs it; keeps the function it returns. */
static bool
load_hook_file(struct hook_state *hs, struct pgs_error *err)
{
	lua_State *L = hs->L;

	if (luaL_loadfilex(L, hs->file, "t") != LUA_OK) {
		pgs_fail(err, "lua hook %s", lua_tostring(L, -1));
		lua_pop(L, 1);
		return false;
	}
	if (!hook_pcall(hs, 0, 1, err))
		return false;
	if (!lua_isfunction(L, -1)) {
		pgs_fail(err, "lua hook %s must return a function(event, ctx), not a %s", hs->file,
				 luaL_typename(L, -1));
		lua_pop(L, 1);
		return false;
	}
	hs->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return true;
}

bool
hook_state_open(struct hook_state *hs, struct pgs_error *err)
{
	bool ok;

	hs->mem.used = 0;
	hs->L = lua_newstate(capped_alloc, &hs->mem);
	if (!hs->L)
		return pgs_fail(err, "could not create a Lua state for %s: out of memory", hs->file);
	lua_pushlightuserdata(hs->L, hs);
	lua_rawsetp(hs->L, LUA_REGISTRYINDEX, &state_key);
	hook_sandbox_open(hs->L);
	hook_api_register(hs->L);
	/* the file's top-level code runs under the deadline like the function */
	hook_deadline_start(hs);
	ok = load_library(hs, err) && load_hook_file(hs, err);
	hook_deadline_stop(hs);
	if (!ok)
		hook_state_close(hs);
	return ok;
}

void
hook_state_close(struct hook_state *hs)
{
	if (hs->L)
		lua_close(hs->L);
	hs->L = NULL;
	hs->fn_ref = LUA_NOREF;
	for (int i = 0; i < 2; i++) {
		PQfinish(hs->conn[i]);
		hs->conn[i] = NULL;
	}
}
