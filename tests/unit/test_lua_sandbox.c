/*
 * Lua hooks without a server: the sandbox refuses what it must with a
 * message that says why, the pgshift module's env/sleep/wait_until/exec/
 * notify, the timeout (also against a script that wraps its loop in its own
 * pcall), error and `return false` reports naming the hook file and line,
 * one kept state per file, the memory cap, the event sink's `on:` globs,
 * and every shipped hook file compiling.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events/events.h"
#include "hooks/hooks.h"
#include "tap.h"
#include "util/xalloc.h"

static char dir[] = "/tmp/pgshift-lua-test-XXXXXX";

/* Writes DIR/name with text; returns the malloc'd path. */
static char *
hook_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
		printf("# could not write %s\n", path);
		exit(1);
	}
	return path;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs text as hook file name once; the error message, or "" when it passed. */
static const char *
run_hook_cfg(const struct hooks_config *cfg, const char *name, const char *text,
			 struct pgs_error *err)
{
	struct hooks *h = hooks_new(cfg);
	char *path = hook_file(name, text);
	struct event ev = event_init("cutover.1:lua", "p", "r1", "cutover.1:lua");

	pgs_error_clear(err);
	hooks_run(h, path, &ev, err);
	hooks_free(h);
	free(path);
	return err->message;
}

static const char *
run_hook(const char *name, const char *text, struct pgs_error *err)
{
	struct hooks_config cfg = {.timeout_ms = 2000};

	return run_hook_cfg(&cfg, name, text, err);
}

/* The message a hook failing as name with what is reported with. */
static const char *
expect(const char *name, const char *what)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "lua hook %s/%s%s", dir, name, what);
	return buf;
}

static const struct {
	const char *name, *text, *message;
} refusals[] = {
	{"os_execute.lua", "return function() os.execute('true') end\n",
	 ":1: os.execute is not available in pgshift hooks: use pgshift.exec, which needs "
	 "hooks.allow_shell: true"},
	{"io_open.lua", "return function()\n  local f = io.open('/etc/passwd')\nend\n",
	 ":2: io.open is not available in pgshift hooks: files are off; use pgshift.file_exists "
	 "or pgshift.exec"},
	{"io_popen.lua", "return function() io.popen('ls') end\n",
	 ":1: io.popen is not available in pgshift hooks: use pgshift.exec, which needs "
	 "hooks.allow_shell: true"},
	{"debug.lua", "return function() debug.sethook() end\n",
	 ":1: debug.sethook is not available in pgshift hooks: it is outside the sandbox"},
	{"loadlib.lua", "return function() package.loadlib('x.so', 'f') end\n",
	 ":1: package.loadlib is not available in pgshift hooks: C modules are not allowed"},
	{"dofile.lua", "return function() dofile('/etc/x.lua') end\n",
	 ":1: dofile is not available in pgshift hooks: put shared code in a Lua module next to "
	 "the hook and require it"},
	{"exit.lua", "return function() os.exit(1) end\n",
	 ":1: os.exit is not available in pgshift hooks: return false, \"reason\" to fail the step"},
	{"binary.lua", "return function()\n  local f, e = load('\\27Lua fake', 'x', 'b')\n"
	 "  return false, e\nend\n", " returned false: attempt to load a binary chunk (mode is 't')"},
	{"exec_off.lua", "return function() pgshift.exec('true') end\n",
	 ":1: pgshift.exec is not available: the plan does not set hooks.allow_shell: true"},
	{"string_dump.lua", "return function() return false, type(string.dump) end\n",
	 " returned false: nil"},
	{"gc.lua", "return function() setmetatable({}, {__gc = function() end}) end\n",
	 ":1: __gc metamethods are not allowed in pgshift hooks: a finalizer cannot be stopped by "
	 "hooks.timeout"},
	{"collect.lua", "return function() return false, type(collectgarbage) end\n",
	 " returned false: nil"},
};

static void
test_refusals(void)
{
	struct pgs_error err;

	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		is_str(run_hook(refusals[i].name, refusals[i].text, &err),
			   expect(refusals[i].name, refusals[i].message), refusals[i].name);
	run_hook("require_c.lua", "return function() require('lfs') end\n", &err);
	{
		char want[1024];

		snprintf(want, sizeof(want), "lua hook %s/require_c.lua:1: module 'lfs' not found: "
				 "pgshift hooks load only Lua modules from %s (C modules are not allowed)", dir, dir);
		is_str(err.message, want, "require of a C module is refused, naming where Lua modules come from");
	}
}

static void
test_allowed(void)
{
	struct pgs_error err;
	char *mod = hook_file("helper.lua", "local M = {} function M.twice(x) return 2 * x end return M\n");

	is_str(run_hook("require_lua.lua", "local h = require('helper')\nreturn function() "
					"return false, h.twice(21) .. tostring(require('pgshift') == pgshift) end\n", &err),
		   expect("require_lua.lua", " returned false: 42true"), "require loads a Lua module next to the hook");
	free(mod);
	is_str(run_hook("text_load.lua", "return function() return false, load('return 1 + 1')() end\n", &err),
		   expect("text_load.lua", " returned false: 2"), "load compiles text");
	is_str(run_hook("os_time.lua", "return function() return false, type(os.time()) .. type(os.clock()) "
					".. type(os.date('%Y')) end\n", &err),
		   expect("os_time.lua", " returned false: numbernumberstring"), "os.time, os.clock, os.date work");
	is_str(run_hook("libs.lua", "return function() return false, string.format('%s %d %s', "
					"table.concat({'a', 'b'}, ','), math.floor(2.5), utf8.char(233)) end\n", &err),
		   expect("libs.lua", " returned false: a,b 2 \xc3\xa9"), "string, table, math, utf8 work");
	is_str(run_hook("libfn.lua", "return function() return false, pgshift.format_bytes(1536) .. ' ' .. "
					"pgshift.format_duration(3723) .. ' ' .. pgshift.shell_quote(\"it's\") end\n", &err),
		   expect("libfn.lua", " returned false: 1.5 kB 1h 02m 03s 'it'\\''s'"),
		   "lua/pgshift.lua helpers are loaded");
	is_str(run_hook("retry.lua", "return function()\n  local n = 0\n  local r = pgshift.retry(function() "
					"n = n + 1 if n < 3 then error('flaky') end return 'ok' .. n end, 3, 0.01)\n"
					"  return false, r\nend\n", &err),
		   expect("retry.lua", " returned false: ok3"), "pgshift.retry retries a failing function");
	is_str(run_hook("xpcall.lua", "return function()\n  local ok, e = xpcall(function(a) error('x' .. a, 0) end, "
					"function(m) return 'handled ' .. m end, 1)\n  local ok2, v = xpcall(function(a, b) return a + b end, "
					"print, 2, 3)\n  return false, tostring(ok) .. ' ' .. e .. ' ' .. tostring(ok2) .. ' ' .. v\nend\n", &err),
		   expect("xpcall.lua", " returned false: false handled x1 true 5"), "xpcall calls its handler and passes arguments");
	is_str(run_hook("setmt.lua", "return function() local t = setmetatable({}, {__index = function() return 7 end}) "
					"return false, t.x end\n", &err),
		   expect("setmt.lua", " returned false: 7"), "setmetatable without __gc works");
	is_str(run_hook("pass.lua", "return function(event, ctx) return true end\n", &err), "",
		   "a hook returning true passes");
	is_str(run_hook("nothing.lua", "return function(event, ctx) end\n", &err), "",
		   "a hook returning nothing passes");
}

static void
test_env_and_ctx(void)
{
	struct pgs_error err;
	struct hooks_config cfg = {.timeout_ms = 2000};
	struct hooks *h = hooks_new(&cfg);
	char *path = hook_file("ctx.lua", "return function(event, ctx)\n  return false, "
						   "table.concat({event, ctx.plan, ctx.step, ctx.table, ctx.rows, ctx.bytes, "
						   "tostring(ctx.lsn), tostring(ctx.lag_bytes), ctx.error}, '|')\nend\n");
	struct event ev = event_init("copy.table.finished", "plan1", "r1", "copy:public.t");

	setenv("PGSHIFT_LUA_TEST", "it's set", 1);
	unsetenv("PGSHIFT_LUA_UNSET");
	is_str(run_hook("env.lua", "return function() return false, pgshift.env('PGSHIFT_LUA_TEST') .. "
					"tostring(pgshift.env('PGSHIFT_LUA_UNSET')) end\n", &err),
		   expect("env.lua", " returned false: it's setnil"), "pgshift.env reads a variable, nil when unset");
	ev.table = "public.t";
	ev.rows = 42;
	ev.bytes = 4096;
	ev.error = "disk full";
	pgs_error_clear(&err);
	hooks_run(h, path, &ev, &err);
	is_str(err.message, expect("ctx.lua", " returned false: copy.table.finished|plan1|copy:public.t|"
							   "public.t|42|4096|nil|nil|disk full"),
		   "the hook gets the event name and ctx; unset fields are nil");
	hooks_free(h);
	free(path);
}

static void
test_errors(void)
{
	struct pgs_error err;
	char want[1024];

	run_hook("boom.lua", "local function inner()\n  error('boom')\nend\n"
			 "return function(event, ctx)\n  inner()\nend\n", &err);
	is_str(err.message, expect("boom.lua", ":2: boom"), "a runtime error names the hook file:line");
	snprintf(want, sizeof(want), "%s/boom.lua:2: in upvalue 'inner'", dir);
	ok(strstr(err.detail, "stack traceback:") && strstr(err.detail, want),
	   "the traceback is in the detail, with the frames of the hook file");
	snprintf(want, sizeof(want), "%s/boom.lua:5: in function", dir);
	ok(strstr(err.detail, want), "including the hook's own function and line");
	is_str(run_hook("nope.lua", "return function() return false, 'nope' end\n", &err),
		   expect("nope.lua", " returned false: nope"), "return false, \"reason\" fails with the reason");
	is_str(run_hook("noreason.lua", "return function() return false end\n", &err),
		   expect("noreason.lua", " returned false (no reason given)"), "return false alone fails too");
	is_str(run_hook("table_err.lua", "return function() error({code = 1}) end\n", &err),
		   expect("table_err.lua", ": (error object is a table value)"), "a non-string error is named");
	is_str(run_hook("notfn.lua", "return 42\n", &err),
		   expect("notfn.lua", " must return a function(event, ctx), not a number"),
		   "a file that does not return a function is refused");
	is_str(run_hook("syntax.lua", "return function()\n  local x = = 1\nend\n", &err),
		   expect("syntax.lua", ":2: unexpected symbol near '='"),
		   "a syntax error names the hook file:line");
}

static void
test_state_kept(void)
{
	struct pgs_error err;
	struct hooks_config cfg = {.timeout_ms = 2000};
	struct hooks *h = hooks_new(&cfg);
	char *path = hook_file("count.lua", "local n = 0\nreturn function() n = n + 1 return false, n end\n");
	struct event ev = event_init("x", "p", "r", NULL);

	pgs_error_clear(&err);
	hooks_run(h, path, &ev, &err);
	pgs_error_clear(&err);
	hooks_run(h, path, &ev, &err);
	is_str(err.message, expect("count.lua", " returned false: 2"), "one state per file, kept between events");
	hooks_free(h);
	free(path);
}

static void
test_timing(void)
{
	struct pgs_error err;
	struct hooks_config cfg = {.timeout_ms = 300};
	char want[1024];
	double t0;

	t0 = now();
	is_str(run_hook("sleep.lua", "return function() pgshift.sleep(0.2) end\n", &err), "",
		   "pgshift.sleep returns");
	ok(now() - t0 >= 0.2 && now() - t0 < 1.0, "pgshift.sleep(0.2) sleeps 0.2 s");
	t0 = now();
	is_str(run_hook("wait_true.lua", "local n = 0\nreturn function()\n  local ok = pgshift.wait_until("
					"function() n = n + 1 return n >= 3 end, 5, 0.05)\n  return false, tostring(ok) .. n\nend\n",
					&err), expect("wait_true.lua", " returned false: true3"),
		   "wait_until returns true once fn does");
	ok(now() - t0 < 1.0, "without waiting for its timeout");
	t0 = now();
	is_str(run_hook("wait_false.lua", "return function()\n  return false, tostring(pgshift.wait_until("
					"function() return false end, 0.3, 0.05))\nend\n", &err),
		   expect("wait_false.lua", " returned false: false"), "wait_until returns false after its timeout");
	ok(now() - t0 >= 0.3 && now() - t0 < 1.5, "after 0.3 s");

	t0 = now();
	snprintf(want, sizeof(want), " timed out after 300 ms (hooks.timeout) at %s/loop.lua:1", dir);
	is_str(run_hook_cfg(&cfg, "loop.lua", "return function() while true do end end\n", &err),
		   expect("loop.lua", want), "an endless loop stops at the timeout, naming the file and line");
	ok(now() - t0 < 2.0, "within the timeout");

	t0 = now();
	snprintf(want, sizeof(want), " timed out after 300 ms (hooks.timeout) at %s/pcall_loop.lua:3", dir);
	is_str(run_hook_cfg(&cfg, "pcall_loop.lua", "return function()\n  while true do\n"
						"    pcall(function() while true do end end)\n  end\nend\n", &err),
		   expect("pcall_loop.lua", want), "a loop inside the script's own pcall cannot swallow the timeout");
	ok(now() - t0 < 2.0, "it stops within the timeout too");

	t0 = now();
	run_hook_cfg(&cfg, "xpcall_loop.lua", "return function()\n  while true do\n"
				 "    xpcall(function() while true do end end, function(e) while true do end end)\n"
				 "  end\nend\n", &err);
	ok(strstr(err.message, "timed out after 300 ms") != NULL && now() - t0 < 2.0,
	   "nor can an xpcall whose handler loops");

	t0 = now();
	run_hook_cfg(&cfg, "long_sleep.lua", "return function() pgshift.sleep(10) end\n", &err);
	ok(strstr(err.message, "timed out after 300 ms") != NULL, "a sleep past the timeout raises it");
	ok(now() - t0 < 1.0, "at the deadline, not after the sleep");

	t0 = now();
	run_hook_cfg(&cfg, "long_wait.lua", "return function() pgshift.wait_until(function() return false end, 10) end\n",
				 &err);
	ok(strstr(err.message, "timed out after 300 ms") != NULL && now() - t0 < 1.0,
	   "wait_until past the timeout raises it at the deadline");

	t0 = now();
	run_hook_cfg(&cfg, "top_loop.lua", "while true do end\nreturn function() end\n", &err);
	ok(strstr(err.message, "timed out after 300 ms") != NULL && now() - t0 < 2.0,
	   "the file's top-level code runs under the timeout too");
}

static void
test_exec(void)
{
	struct pgs_error err;
	struct hooks_config cfg = {.timeout_ms = 300, .allow_shell = true};
	double t0;

	is_str(run_hook_cfg(&cfg, "exec.lua", "return function()\n  local code, out = pgshift.exec('echo hi; "
						"echo err >&2; exit 3')\n  return false, code .. ':' .. out\nend\n", &err),
		   expect("exec.lua", " returned false: 3:hi\nerr\n"),
		   "pgshift.exec returns the exit code and output with allow_shell");
	is_str(run_hook_cfg(&cfg, "exec_os.lua", "return function() os.execute('true') end\n", &err),
		   expect("exec_os.lua", ":1: os.execute is not available in pgshift hooks: use pgshift.exec, "
				  "which needs hooks.allow_shell: true"), "os.execute stays off with allow_shell");
	t0 = now();
	run_hook_cfg(&cfg, "exec_hang.lua", "return function() pgshift.exec('sleep 10') end\n", &err);
	ok(strstr(err.message, "timed out after 300 ms") != NULL, "a hanging command times out");
	ok(now() - t0 < 2.0, "and is killed at the deadline");
	is_str(run_hook_cfg(&cfg, "file_exists.lua", "return function() return false, "
						"tostring(pgshift.file_exists('/')) .. tostring(pgshift.file_exists('/nonexistent')) end\n",
						&err), expect("file_exists.lua", " returned false: truefalse"), "pgshift.file_exists");
}

static void
test_memory(void)
{
	struct pgs_error err;
	struct hooks_config cfg = {.timeout_ms = 5000, .mem_limit = 2 << 20};

	is_str(run_hook_cfg(&cfg, "hog.lua", "return function()\n  local t = {}\n  for i = 1, 1e8 do "
						"t[i] = string.rep('x', 100) .. i end\nend\n", &err),
		   expect("hog.lua", " ran out of memory (limit 2 MB)"), "a state cannot grow past its memory cap");
}

struct notes {
	char text[256];
	int n;
};

static void
note(void *ctx, const char *file, const struct event *ev, const char *text)
{
	struct notes *n = ctx;

	(void) file;
	snprintf(n->text, sizeof(n->text), "%s: %s", ev->name, text);
	n->n++;
}

static void
test_notify(void)
{
	struct notes notes = {"", 0};
	struct hooks_config cfg = {.timeout_ms = 2000, .notifier = {note, &notes}};
	struct pgs_error err;

	is_str(run_hook_cfg(&cfg, "notify.lua", "return function(e, ctx) pgshift.notify('rows: ' .. 3) end\n",
						&err), "", "pgshift.notify passes");
	is_str(notes.text, "cutover.1:lua: rows: 3", "the text goes to the notifier with its event");
	is_int(notes.n, 1, "once");
}

static void
test_sink(void)
{
	char *path = hook_file("sink.lua", "local seen = {}\nreturn function(e, ctx)\n  seen[#seen + 1] = e\n"
						   "  if e == 'copy.table.finished' then\n    return false, table.concat(seen, ',') .. "
						   "' ' .. ctx.table .. ' ' .. ctx.rows\n  end\nend\n");
	char *on[] = {"copy.*", "run.started"};
	struct lua_hook lh = {path, {on, 2}};
	struct plan plan;
	struct event_bus *bus = event_bus_new();
	struct pgs_error err;
	struct event ev;

	memset(&plan, 0, sizeof(plan));
	plan.hooks.lua = &lh;
	plan.hooks.nlua = 1;
	plan.hooks.timeout_ms = 2000;
	ok(hooks_attach(bus, &plan, &err), "hooks_attach adds the sink");
	pgs_error_clear(&err);
	ok(event_emit(bus, &(struct event) {.name = "run.started", .rows = -1, .bytes = -1,
										  .lag_bytes = -1, .lag_seconds = -1}, &err), "run.started passes");
	ok(event_emit(bus, &(struct event) {.name = "cdc.lag", .rows = -1, .bytes = -1,
										  .lag_bytes = -1, .lag_seconds = -1}, &err),
	   "cdc.lag is not subscribed");
	ev = event_init("copy.table.finished", "p", "r", "copy:public.t");
	ev.table = "public.t";
	ev.rows = 7;
	ok(!event_emit(bus, &ev, &err), "a failing hook fails the emitting step");
	{
		char want[1024];

		snprintf(want, sizeof(want), "hooks.lua[1] on copy.table.finished: lua hook %s returned false: "
				 "run.started,copy.table.finished public.t 7", path);
		is_str(err.message, want, "the hook saw only its events, in one kept state, with ctx.table and rows");
	}
	event_bus_free(bus);
	free(path);
}

struct slow_emit {
	struct event_bus *bus;
	bool ok;
};

static void *
emit_slow(void *arg)
{
	struct slow_emit *se = arg;
	struct pgs_error err;

	se->ok = event_emit(se->bus, &(struct event) {.name = "copy.slow", .rows = -1, .bytes = -1,
												  .lag_bytes = -1, .lag_seconds = -1}, &err);
	return NULL;
}

/*
 * A hook that sleeps holds up only the events it is subscribed to: while
 * one worker waits in slow.lua, another worker's event for fast.lua, and an
 * event no hook wants, pass at once.
 */
static void
test_sink_concurrency(void)
{
	char *slow = hook_file("slow.lua", "return function(e) pgshift.sleep(1.5) end\n");
	char *fast = hook_file("fast.lua", "return function(e) end\n");
	char *on_slow[] = {"copy.slow"}, *on_fast[] = {"copy.fast"};
	struct lua_hook lh[2] = {{slow, {on_slow, 1}}, {fast, {on_fast, 1}}};
	struct plan plan;
	struct event_bus *bus = event_bus_new();
	struct slow_emit se = {bus, false};
	struct pgs_error err;
	pthread_t t;
	double t0, fast_s, none_s;

	memset(&plan, 0, sizeof(plan));
	plan.hooks.lua = lh;
	plan.hooks.nlua = 2;
	plan.hooks.timeout_ms = 5000;
	hooks_attach(bus, &plan, &err);
	pthread_create(&t, NULL, emit_slow, &se);
	nanosleep(&(struct timespec) {0, 200 * 1000000L}, NULL);
	t0 = now();
	ok(event_emit(bus, &(struct event) {.name = "copy.fast", .rows = -1, .bytes = -1,
										  .lag_bytes = -1, .lag_seconds = -1}, &err), "copy.fast passes");
	fast_s = now() - t0;
	t0 = now();
	event_emit(bus, &(struct event) {.name = "run.started", .rows = -1, .bytes = -1,
									  .lag_bytes = -1, .lag_seconds = -1}, &err);
	none_s = now() - t0;
	pthread_join(t, NULL);
	ok(se.ok, "the slow hook's event passes too");
	ok(fast_s < 0.5, "another hook file's event is not held up by a sleeping hook");
	ok(none_s < 0.5, "an event no hook wants is not held up by a sleeping hook");
	event_bus_free(bus);
	free(slow);
	free(fast);
}

/* Every hook file shipped in hooks/ and the library compile. */
static void
test_shipped_hooks(void)
{
	DIR *d = opendir("../../hooks");
	struct dirent *e;
	struct pgs_error err;
	int n = 0;

	ok(d != NULL, "hooks/ is there");
	while (d && (e = readdir(d))) {
		char path[1024];
		size_t len = strlen(e->d_name);

		if (len < 5 || strcmp(e->d_name + len - 4, ".lua") != 0)
			continue;
		snprintf(path, sizeof(path), "../../hooks/%s", e->d_name);
		pgs_error_clear(&err);
		if (!ok(hooks_compile(path, &err), path))
			printf("# %s\n", err.message);
		n++;
	}
	if (d)
		closedir(d);
	ok(n >= 5, "the ready hooks are there");
	pgs_error_clear(&err);
	ok(hooks_compile("../../lua/pgshift.lua", &err), "lua/pgshift.lua compiles");
	pgs_error_clear(&err);
	{
		char *bad = hook_file("bad.lua", "return function()\n  if x then\nend\n");

		ok(!hooks_compile(bad, &err), "a syntax error is found");
		free(bad);
	}
	{
		char want[1024];

		snprintf(want, sizeof(want), "%s/bad.lua:4: 'end' expected (to close 'function' at line 1) near <eof>", dir);
		is_str(err.message, want, "is reported as FILE:LINE: message");
	}
}

/* hooks/wait_for_file.lua, run for real: passes for a file that is there, fails in time otherwise. */
static void
test_wait_for_file(void)
{
	struct hooks_config cfg = {.timeout_ms = 5000};
	struct hooks *h = hooks_new(&cfg);
	struct event ev = event_init("cutover.1:lua", "p", "r", "cutover.1:lua");
	struct pgs_error err;

	setenv("WAIT_FOR_FILE", "/", 1);
	setenv("WAIT_FOR_FILE_TIMEOUT", "1", 1);
	pgs_error_clear(&err);
	ok(hooks_run(h, "../../hooks/wait_for_file.lua", &ev, &err), "wait_for_file passes for a file that exists");
	setenv("WAIT_FOR_FILE", "/nonexistent/ready", 1);
	pgs_error_clear(&err);
	ok(!hooks_run(h, "../../hooks/wait_for_file.lua", &ev, &err), "and fails when it does not appear");
	is_str(err.message, "lua hook ../../hooks/wait_for_file.lua returned false: /nonexistent/ready did "
		   "not appear within 1s", "saying which file and how long it waited");
	hooks_free(h);
}

/* Writes an executable fake psql into DIR/bin that records its arguments (one per line). */
static char *
fake_psql(int exit_code)
{
	char *bin = xasprintf("%s/bin", dir);
	char *script = xasprintf("#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > %s/psql.args\n"
							 "echo 'ERROR:  no such database'\nexit %d\n", dir, exit_code);
	char *path;

	mkdir(bin, 0700);
	free(hook_file("bin/psql", script));
	path = xasprintf("%s/psql", bin);
	chmod(path, 0700);
	free(path);
	free(script);
	return bin;
}

static char *
psql_args(void)
{
	char *path = xasprintf("%s/psql.args", dir);
	FILE *f = fopen(path, "r");
	char buf[1024] = "";
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	unlink(path);
	free(path);
	buf[n] = '\0';
	return xstrdup(buf);
}

/* hooks/pgbouncer_*.lua, run for real against a fake psql that records what it was asked. */
static void
test_pgbouncer(void)
{
	struct hooks_config cfg = {.timeout_ms = 5000, .allow_shell = true};
	struct event ev = event_init("cutover.1:lua", "p", "r", "cutover.1:lua");
	const char *old_path = getenv("PATH");
	char *bin = fake_psql(0), *path = xasprintf("%s:%s", bin, old_path ? old_path : "/usr/bin:/bin");
	char *saved_path = xstrdup(old_path ? old_path : "/usr/bin:/bin");
	struct hooks *h = hooks_new(&cfg);
	struct pgs_error err;
	char *args;

	setenv("PATH", path, 1);
	unsetenv("PGBOUNCER_ADMIN");
	pgs_error_clear(&err);
	ok(!hooks_run(h, "../../hooks/pgbouncer_pause.lua", &ev, &err), "pause without PGBOUNCER_ADMIN fails");
	is_str(err.message, "lua hook ../../hooks/pgbouncer_pause.lua returned false: PGBOUNCER_ADMIN is "
		   "not set (conninfo of the PgBouncer admin console)", "saying what to set");
	setenv("PGBOUNCER_ADMIN", "host=127.0.0.1 port=6432 dbname=pgbouncer", 1);
	setenv("PGBOUNCER_DATABASE", "app", 1);
	pgs_error_clear(&err);
	ok(hooks_run(h, "../../hooks/pgbouncer_pause.lua", &ev, &err), "pause runs psql on the admin console");
	args = psql_args();
	is_str(args, "-X\n-q\n-v\nON_ERROR_STOP=1\nhost=127.0.0.1 port=6432 dbname=pgbouncer\n-c\nPAUSE app\n",
		   "with the conninfo as one argument and PAUSE of the database");
	free(args);
	setenv("PGBOUNCER_RELOAD", "1", 1);
	pgs_error_clear(&err);
	ok(hooks_run(h, "../../hooks/pgbouncer_resume.lua", &ev, &err), "resume runs RELOAD then RESUME");
	args = psql_args();
	ok(strstr(args, "RESUME app\n") != NULL, "the last command is RESUME of the database");
	free(args);
	setenv("PGBOUNCER_DATABASE", "app; SHUTDOWN", 1);
	pgs_error_clear(&err);
	ok(!hooks_run(h, "../../hooks/pgbouncer_pause.lua", &ev, &err), "a database name with more in it is refused");
	hooks_free(h);
	free(bin);
	bin = fake_psql(3);
	h = hooks_new(&cfg);
	setenv("PGBOUNCER_DATABASE", "app", 1);
	pgs_error_clear(&err);
	ok(!hooks_run(h, "../../hooks/pgbouncer_pause.lua", &ev, &err), "a failing psql fails the hook");
	ok(strstr(err.message, "PAUSE app failed (exit 3): ERROR:  no such database") != NULL,
	   "with the command, exit code and psql's output");
	hooks_free(h);
	setenv("PATH", saved_path, 1);
	unsetenv("PGBOUNCER_ADMIN");
	unsetenv("PGBOUNCER_DATABASE");
	unsetenv("PGBOUNCER_RELOAD");
	free(saved_path);
	free(path);
	free(bin);
}

int
main(void)
{
	if (!mkdtemp(dir)) {
		printf("# could not create %s\n", dir);
		return 1;
	}
	test_refusals();
	test_allowed();
	test_env_and_ctx();
	test_errors();
	test_state_kept();
	test_timing();
	test_exec();
	test_memory();
	test_notify();
	test_sink();
	test_sink_concurrency();
	test_shipped_hooks();
	test_wait_for_file();
	test_pgbouncer();
	{
		char *cmd = xasprintf("rm -rf '%s'", dir);

		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
		free(cmd);
	}
	return done_testing();
}
