/*
 * The sandbox of a hook state, built by allow-list (redis scripting's
 * habit): only the libraries listed here are opened, base and os are
 * stripped to the functions named below, and what a script might reach for
 * (io, os.execute, debug, package, dofile, loadfile) raises an error that
 * says why instead of "attempt to call a nil value". load() compiles text
 * only: bytecode can break the VM's safety. Nothing may run where the
 * timeout cannot reach it: no __gc finalizers, and xpcall's handler runs
 * after the pcall, not inside the raising context. debug stays off even with
 * hooks.allow_shell: debug.sethook would remove the timeout.
 */
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "hooks/hooks_int.h"
#include "util/log.h"

static const char *const base_allowed[] = {
	"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal",
	"rawget", "rawlen", "rawset", "select", "tonumber", "tostring", "type", "_G", "_VERSION",
	"load", "print", "xpcall", "setmetatable",  /* replaced below */
	NULL,
};
static const char *const os_allowed[] = {"time", "clock", "date", "difftime", NULL};

/* Why a refused name is refused, and what to use instead. */
static const struct refusal {
	const char *name;
	const char *why;
} refusals[] = {
	{"os.execute", "use pgshift.exec, which needs hooks.allow_shell: true"},
	{"io.popen", "use pgshift.exec, which needs hooks.allow_shell: true"},
	{"io.open", "files are off; use pgshift.file_exists or pgshift.exec"},
	{"os.getenv", "use pgshift.env"},
	{"os.exit", "return false, \"reason\" to fail the step"},
	{"dofile", "put shared code in a Lua module next to the hook and require it"},
	{"loadfile", "put shared code in a Lua module next to the hook and require it"},
	{"package.loadlib", "C modules are not allowed"},
};

static const char *
refusal_why(const char *name)
{
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (strcmp(refusals[i].name, name) == 0)
			return refusals[i].why;
	return "it is outside the sandbox";
}

/* A stand-in for a refused function; upvalue 1 is its name. */
static int
refused_call(lua_State *L)
{
	const char *name = lua_tostring(L, lua_upvalueindex(1));

	return luaL_error(L, "%s is not available in pgshift hooks: %s", name, refusal_why(name));
}

/* __index of a refused table (io, debug, package) and of os: any missing field is refused. */
static int
refused_index(lua_State *L)
{
	const char *lib = lua_tostring(L, lua_upvalueindex(1));
	const char *key = lua_tostring(L, 2);

	lua_pushfstring(L, "%s.%s", lib, key ? key : "?");
	lua_pushcclosure(L, refused_call, 1);
	return 1;
}

/* Gives the table on top of the stack an __index that refuses every missing field. */
static void
refuse_missing(lua_State *L, const char *lib)
{
	lua_newtable(L);
	lua_pushstring(L, lib);
	lua_pushcclosure(L, refused_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pushliteral(L, "locked by the pgshift sandbox");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
}

static void
set_refused_global(lua_State *L, const char *name)
{
	lua_pushstring(L, name);
	lua_pushcclosure(L, refused_call, 1);
	lua_setglobal(L, name);
}

static bool
listed(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (strcmp(*list, name) == 0)
			return true;
	return false;
}

/* Removes every string key of the table on top not in allowed. */
static void
keep_only(lua_State *L, const char *const *allowed)
{
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_pop(L, 1);
		if (lua_type(L, -1) == LUA_TSTRING && !listed(allowed, lua_tostring(L, -1))) {
			lua_pushvalue(L, -1);
			lua_pushnil(L);
			lua_rawset(L, -4);     /* clearing a field during lua_next is allowed */
		}
	}
}

/*
 * load(chunk [, name [, mode [, env]]]) that only ever compiles text: the
 * mode argument is replaced by "t". Upvalue 1 is the real load. An absent
 * env stays absent (an explicit nil would give the chunk no globals).
 */
static int
text_load(lua_State *L)
{
	int nargs = lua_gettop(L) >= 4 ? 4 : 3;

	lua_settop(L, 4);
	lua_pushliteral(L, "t");
	lua_replace(L, 3);
	lua_settop(L, nargs);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, nargs, LUA_MULTRET);
	return lua_gettop(L);
}

/*
 * require(name): "pgshift", or a Lua module NAME.lua (dots are folders)
 * next to the hook file, compiled as text and run once per state. C modules
 * and package paths do not exist here.
 */
static int
hook_require(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	struct hook_state *hs = hook_state_of(L);
	luaL_Buffer path;

	lua_getfield(L, LUA_REGISTRYINDEX, "pgshift.loaded");
	if (lua_getfield(L, -1, name) != LUA_TNIL)
		return 1;
	lua_pop(L, 1);
	for (const char *p = name; *p; p++)
		if (!(*p == '_' || *p == '.' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9')))
			return luaL_error(L, "module '%s' not found: not a Lua module name", name);
	luaL_buffinit(L, &path);
	luaL_addstring(&path, hs->dir);
	luaL_addchar(&path, '/');
	luaL_addgsub(&path, name, ".", "/");
	luaL_addstring(&path, ".lua");
	luaL_pushresult(&path);
	if (luaL_loadfilex(L, lua_tostring(L, -1), "t") != LUA_OK) {
		if (lua_tostring(L, -1) && strstr(lua_tostring(L, -1), "cannot open"))
			return luaL_error(L, "module '%s' not found: pgshift hooks load only Lua modules "
							  "from %s (C modules are not allowed)", name, hs->dir);
		return lua_error(L);
	}
	lua_pushstring(L, name);
	lua_call(L, 1, 1);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
	}
	lua_pushvalue(L, -1);
	lua_setfield(L, -4, name);         /* pgshift.loaded[name] */
	return 1;
}

/*
 * xpcall(f, msgh, ...) as pcall followed by msgh(error). Lua runs a message
 * handler inside the raising context, where a timeout raised from the count
 * hook leaves hooks disabled: a handler that loops would never be stopped.
 * Called after pcall returns, it runs under the timeout like any code. (The
 * stack the real handler could see is useless here anyway: debug is off.)
 */
static int
late_xpcall(lua_State *L)
{
	int n = lua_gettop(L);

	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 1);
	for (int i = 3; i <= n; i++)
		lua_pushvalue(L, i);
	if (lua_pcall(L, n - 2, LUA_MULTRET, 0) == LUA_OK) {
		lua_pushboolean(L, 1);
		lua_insert(L, n + 1);
		return lua_gettop(L) - n;
	}
	lua_pushvalue(L, 2);
	lua_insert(L, -2);
	lua_call(L, 1, 1);                 /* msgh(error), under the timeout */
	lua_pushboolean(L, 0);
	lua_insert(L, -2);
	return 2;
}

/* setmetatable that refuses __gc: finalizers run with hooks disabled, out of the timeout's reach. */
static int
safe_setmetatable(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TTABLE && lua_getfield(L, 2, "__gc") != LUA_TNIL)
		return luaL_error(L, "__gc metamethods are not allowed in pgshift hooks: a finalizer "
						  "cannot be stopped by hooks.timeout");
	lua_settop(L, 2);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, 2, 1);
	return 1;
}

/* print() goes to pgshift's log, not to stdout where command output goes. */
static int
log_print(lua_State *L)
{
	struct hook_state *hs = hook_state_of(L);
	luaL_Buffer b;
	int n = lua_gettop(L);

	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	log_info("hook %s: %s", hs->file, lua_tostring(L, -1));
	return 0;
}

void
hook_sandbox_open(lua_State *L)
{
	lua_newtable(L);
	lua_setfield(L, LUA_REGISTRYINDEX, "pgshift.loaded");
	luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
	keep_only(L, base_allowed);
	lua_getfield(L, -1, "load");
	lua_pushcclosure(L, text_load, 1);
	lua_setfield(L, -2, "load");
	lua_pushcfunction(L, log_print);
	lua_setfield(L, -2, "print");
	lua_pushcfunction(L, late_xpcall);
	lua_setfield(L, -2, "xpcall");
	lua_getfield(L, -1, "setmetatable");
	lua_pushcclosure(L, safe_setmetatable, 1);
	lua_setfield(L, -2, "setmetatable");
	lua_pop(L, 1);
	luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");       /* bytecode out is useless when only text comes in */
	lua_pop(L, 1);
	luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
	luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
	luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
	luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 1);
	keep_only(L, os_allowed);
	refuse_missing(L, "os");
	lua_pop(L, 4);
	for (const char *const *lib = (const char *const[]) {"io", "debug", "package", NULL}; *lib;
		 lib++) {
		lua_newtable(L);
		refuse_missing(L, *lib);
		lua_setglobal(L, *lib);
	}
	set_refused_global(L, "dofile");
	set_refused_global(L, "loadfile");
	lua_pushcfunction(L, hook_require);
	lua_setglobal(L, "require");
}
