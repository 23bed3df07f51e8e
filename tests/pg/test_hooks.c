/*
 * Lua hooks against real servers (SOURCE_URI, TARGET_URI): an event hook of
 * hooks.lua[] subscribed to copy.* records what it sees into a target table
 * through pgshift.query (one kept session, ctx.table/rows bound as
 * parameters), NULLs and column names come back as Lua sees them, and a
 * server error raises with its SQLSTATE and the hook file:line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "hooks/hooks.h"
#include "pgtest.h"
#include "tap.h"
#include "util/xalloc.h"

static char dir[] = "/tmp/pgshift-hooks-pg-XXXXXX";

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

static const char *
scalar(PGconn *conn, const char *sql)
{
	static char out[256];
	PGresult *res = PQexec(conn, sql);

	snprintf(out, sizeof(out), "%s", PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ?
			 PQgetvalue(res, 0, 0) : PQresultErrorMessage(res));
	PQclear(res);
	return out;
}

static struct event
copy_event(const char *name, const char *table, long long rows)
{
	struct event ev = event_init(name, "pgplan", "r1", "copy:x");

	ev.table = table;
	ev.rows = rows;
	return ev;
}

static void
test_sink_records(PGconn *dst)
{
	char *path = hook_file("record.lua",
		"return function(event, ctx)\n"
		"  pgshift.query('target', 'INSERT INTO hook_seen (event, tbl, nrows, pid) VALUES ($1, $2, $3, pg_backend_pid())',\n"
		"                event, ctx.table, ctx.rows)\n"
		"end\n");
	char *on[] = {"copy.*"};
	struct lua_hook lh = {path, {on, 1}};
	struct plan plan;
	struct event_bus *bus = event_bus_new();
	struct pgs_error err;
	struct event ev;
	bool ok1, ok2, ok3;

	memset(&plan, 0, sizeof(plan));
	plan.source_uri = getenv("SOURCE_URI");
	plan.target_uri = getenv("TARGET_URI");
	plan.hooks.lua = &lh;
	plan.hooks.nlua = 1;
	plan.hooks.timeout_ms = 10000;
	pgs_error_clear(&err);
	ok(hooks_attach(bus, &plan, &err), "the hooks sink attaches");
	ev = copy_event("copy.table.finished", "public.a", 10);
	ok1 = event_emit(bus, &ev, &err);
	ev = copy_event("cutover.started", NULL, -1);
	ok2 = event_emit(bus, &ev, &err);
	ev = copy_event("copy.table.finished", "public.it's", 0);
	ok3 = event_emit(bus, &ev, &err);
	if (!ok(ok1 && ok2 && ok3, "every event is delivered"))
		printf("# %s\n", err.message);
	event_bus_free(bus);
	is_str(scalar(dst, "SELECT string_agg(event || ' ' || tbl || ' ' || nrows, ',' ORDER BY id) FROM hook_seen"),
		   "copy.table.finished public.a 10,copy.table.finished public.it's 0",
		   "the hook recorded the copy events it subscribed to, with ctx.table and ctx.rows");
	is_str(scalar(dst, "SELECT count(DISTINCT pid) FROM hook_seen"), "1",
		   "through one session kept between events");
	free(path);
}

static const char *
run_hook(const char *name, const char *text, struct pgs_error *err)
{
	struct hooks_config cfg = {getenv("SOURCE_URI"), getenv("TARGET_URI"), false, 10000, 0, {NULL, NULL}};
	struct hooks *h = hooks_new(&cfg);
	char *path = hook_file(name, text);
	struct event ev = event_init("cutover.1:lua", "pgplan", "r1", "cutover.1:lua");

	pgs_error_clear(err);
	hooks_run(h, path, &ev, err);
	hooks_free(h);
	free(path);
	return err->message;
}

static void
test_query_values(void)
{
	struct pgs_error err;
	char want[1024];

	snprintf(want, sizeof(want), "lua hook %s/values.lua returned false: 3 a nil nil x default", dir);
	is_str(run_hook("values.lua",
		"return function()\n"
		"  local rows = pgshift.query('source', 'SELECT g AS n, $1::text AS v, NULL::int AS z FROM generate_series(1, 3) g ORDER BY g', 'a')\n"
		"  local none = pgshift.query('target', 'SELECT 1 AS one WHERE false')\n"
		"  local ddl = pgshift.query('target', 'CREATE TEMP TABLE t (x text)')\n"
		"  local sp = pgshift.query('target', 'SELECT current_setting($1) AS s', 'search_path')\n"
		"  return false, table.concat({#rows, rows[3].v, tostring(rows[1].z), tostring(none[1]), 'x',"
		"    sp[1].s:find('pg_catalog') and 'pg_catalog' or 'default'}, ' ')\n"
		"end\n", &err), want, "rows keyed by column name, NULL is nil, empty and DDL results, the default search_path");
	snprintf(want, sizeof(want), "lua hook %s/sqlerr.lua:2: pgshift.query(target): relation \"no_such_table\" "
			 "does not exist (SQLSTATE 42P01)", dir);
	is_str(run_hook("sqlerr.lua", "return function()\n  pgshift.query('target', 'SELECT * FROM no_such_table')\nend\n",
					&err), want, "a server error raises with its SQLSTATE at the hook's line");
}

int
main(void)
{
	PGconn *dst;

	(void) pgtest_load_plan;   /* the plan is built by hand: only its hooks matter */
	if (!getenv("SOURCE_URI") || !getenv("TARGET_URI") || !mkdtemp(dir)) {
		printf("# SOURCE_URI and TARGET_URI must be set\n1..0\n");
		return 1;
	}
	dst = pgtest_connect(getenv("TARGET_URI"), "target", false);
	if (!dst)
		return 1;
	PQclear(PQexec(dst, "SET search_path = public; DROP TABLE IF EXISTS public.hook_seen; "
				   "CREATE TABLE public.hook_seen (id serial, event text, tbl text, nrows bigint, pid int)"));
	PQclear(PQexec(dst, "SET search_path = public"));
	test_sink_records(dst);
	test_query_values();
	PQfinish(dst);
	{
		char *cmd = xasprintf("rm -rf '%s'", dir);

		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
		free(cmd);
	}
	return done_testing();
}
