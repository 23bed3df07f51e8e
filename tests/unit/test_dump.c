/*
 * engine/pg/dump.c without a server: connection strings lose their password
 * (which only the child's environment gets), exact pg_dump patterns, the
 * parse of `pg_restore --list` lines, and running a tool: a fake pg_dump
 * first in PATH records the argv and PGPASSWORD it was given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tap.h"
#include "pg/dump.h"
#include "util/xalloc.h"

static char *
conn_value(const char *conninfo, const char *key)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	char *val = NULL;

	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, key) == 0 && o->val)
			val = xstrdup(o->val);
	PQconninfoFree(opts);
	return val;
}

static const struct {
	const char *conninfo, *password, *user, *host, *dbname;
} strip_cases[] = {
	{"postgresql://app:s3cr%40t@db.example.com:5433/shop?sslmode=require", "s3cr@t", "app",
	 "db.example.com", "shop"},
	{"host=10.0.0.1 user=admin password='it\\'s \\\\ x' dbname=prod", "it's \\ x", "admin", "10.0.0.1",
	 "prod"},
	{"host=h user=u password=plain dbname='my db'", "plain", "u", "h", "my db"},
	{"postgresql://u@h/d?password=qp", "qp", "u", "h", "d"},
	{"postgresql://u@h/d", NULL, "u", "h", "d"},
};

static void
test_strip(void)
{
	for (size_t i = 0; i < sizeof(strip_cases) / sizeof(strip_cases[0]); i++) {
		struct pgs_error err;
		char *pw = NULL, *clean = conninfo_strip_password(strip_cases[i].conninfo, &pw, &err);
		char *user = clean ? conn_value(clean, "user") : NULL;
		char *host = clean ? conn_value(clean, "host") : NULL;
		char *db = clean ? conn_value(clean, "dbname") : NULL;
		char *left = clean ? conn_value(clean, "password") : NULL;
		char name[160];

		snprintf(name, sizeof(name), "strip case %zu: no password left", i);
		ok(clean && !left && !strstr(clean, "password"), name);
		if (strip_cases[i].password) {
			snprintf(name, sizeof(name), "strip case %zu: password handed back", i);
			is_str(pw, strip_cases[i].password, name);
		}
		snprintf(name, sizeof(name), "strip case %zu: user, host, dbname kept", i);
		ok(user && host && db && strcmp(user, strip_cases[i].user) == 0 &&
		   strcmp(host, strip_cases[i].host) == 0 && strcmp(db, strip_cases[i].dbname) == 0,
		   name);
		free(clean); free(pw); free(user); free(host); free(db); free(left);
	}
	{
		/* the odd password of case 1 survives the round trip exactly */
		struct pgs_error err;
		char *pw = NULL, *clean = conninfo_strip_password(strip_cases[1].conninfo, &pw, &err);

		is_str(pw, "it's \\ x", "quoted password with quote and backslash");
		free(clean); free(pw);
	}
	{
		struct pgs_error err;
		char *pw = NULL;

		ok(conninfo_strip_password("host=h nosuchkey=1", &pw, &err) == NULL &&
		   strstr(err.message, "could not parse connection string"), "unparsable conninfo fails");
	}
}

static void
test_patterns(void)
{
	static const struct { const char *schema, *name, *want; } cases[] = {
		{"public", NULL, "\"public\""},
		{"select", "from", "\"select\".\"from\""},
		{"app", "We\"ird.Table*", "\"app\".\"We\"\"ird.Table*\""},
		{"s?", "t", "\"s?\".\"t\""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *p = pgtool_exact_pattern(cases[i].schema, cases[i].name);

		is_str(p, cases[i].want, cases[i].want);
		free(p);
	}
}

static void
test_toc(void)
{
	static const char text[] =
		";\n; Archive created at 2024-01-01\n;\n"
		"3405; 2606 16592 CONSTRAINT app We\"ird.Table* We\"ird.Table*_pkey postgres\n"
		"3426; 0 0 INDEX ATTACH app events_2023_at_idx postgres\n"
		"3401; 1259 16584 INDEX app orders_lower_note postgres\n"
		"3433; 2606 16593 FK CONSTRAINT app We\"ird.Table* fk Cust postgres\n"
		"3595; 0 16653 MATERIALIZED VIEW DATA app customer_count postgres\n"
		"8; 2615 16675 SCHEMA - app postgres\n"
		"3; 3079 16715 EXTENSION - hstore \n";
	struct toc toc;

	toc_parse(&toc, text);
	is_int(toc.n, 7, "comment lines skipped");
	is_str(toc.items[0].desc, "CONSTRAINT", "desc CONSTRAINT");
	is_int(toc.items[0].oid, 16592, "constraint oid");
	is_str(toc.items[1].desc, "INDEX ATTACH", "INDEX ATTACH is not INDEX");
	ok(toc_names(&toc.items[1], "app", "events_2023_at_idx"), "INDEX ATTACH names its index");
	ok(!toc_names(&toc.items[1], "app", "events_2023"), "a prefix of the name is no match");
	is_str(toc.items[2].desc, "INDEX", "desc INDEX");
	is_int(toc.items[2].classoid, 1259, "index classoid");
	is_str(toc.items[3].desc, "FK CONSTRAINT", "desc FK CONSTRAINT");
	is_str(toc.items[3].rest, "app We\"ird.Table* fk Cust postgres", "rest after desc");
	is_str(toc.items[4].desc, "MATERIALIZED VIEW DATA", "desc MATERIALIZED VIEW DATA");
	ok(toc_names(&toc.items[5], NULL, "app"), "schema entry named with -");
	ok(toc_names(&toc.items[6], NULL, "hstore"), "extension entry with no owner");
	toc_free(&toc);
}

static void
test_toc_tag(void)
{
	static const char text[] =
		"3; 3079 16715 EXTENSION - hstore \n"
		"4; 0 0 COMMENT - EXTENSION hstore \n"
		"5; 0 0 USER MAPPING - USER MAPPING public SERVER loopback postgres\n"
		"6; 2605 20517 CAST - CAST (integer AS public.casttesttype) \n"
		"7; 0 0 COMMENT app TABLE t postgres\n"
		"8; 0 0 COMMENT - EXTENSION \"my \"\"ext\"\"\" postgres\n";
	struct toc toc;
	char *tag;

	toc_parse(&toc, text);
	is_str(toc.items[2].desc, "USER MAPPING", "desc USER MAPPING");
	is_str(toc.items[3].desc, "CAST", "desc CAST");
	is_str(tag = toc_tag(&toc.items[0], ""), "hstore", "an extension's tag");
	free(tag);
	is_str(tag = toc_tag(&toc.items[1], "EXTENSION "), "hstore", "the extension a comment is on");
	free(tag);
	ok(toc_tag(&toc.items[2], "EXTENSION ") == NULL, "a user mapping is no extension's comment");
	ok(toc_tag(&toc.items[4], "") == NULL, "an entry in a schema has no tag outside one");
	is_str(tag = toc_tag_ident(&toc.items[5], "EXTENSION "), "my \"ext\"",
		   "a quoted identifier in a tag reads whole, its quotes undoubled");
	free(tag);
	is_str(tag = toc_tag_ident(&toc.items[1], "EXTENSION "), "hstore", "a bare one up to the space");
	free(tag);
	toc_free(&toc);
}

static char *
fake_tool(const char *dir, const char *body)
{
	char *path = xasprintf("%s/pg_dump", dir);
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(body, f);
		fclose(f);
	}
	chmod(path, 0700);
	return path;
}

static void
test_run(void)
{
	char tmpl[] = "/tmp/pgshift-dump-XXXXXX";
	char *dir = mkdtemp(tmpl);
	char *out = xasprintf("%s/seen", dir), *script, *tool, *old_path, *new_path, *seen;
	struct pgtool_cmd cmd;
	struct pgs_error err;
	bool ran;

	script = xasprintf("#!/bin/sh\nfor a in \"$@\"; do echo \"arg:$a\"; done > '%s'\n"
					   "echo \"env:$PGPASSWORD\" >> '%s'\n"
					   "[ \"$1\" = fail ] && { echo 'pg_dump: error: boom' >&2; exit 3; }\n"
					   "exit 0\n", out, out);
	tool = fake_tool(dir, script);
	old_path = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	new_path = xasprintf("%s:%s", dir, old_path);
	setenv("PATH", new_path, 1);
	unsetenv("PGPASSWORD");

	pgtool_init(&cmd, "pg_dump");
	pgtool_arg(&cmd, "--format=custom");
	ok(pgtool_dbname(&cmd, "postgresql://app:Hunter2@127.0.0.1:5432/shop", &err), "dbname added");
	ran = pgtool_run(&cmd, "dump", &err);
	ok(ran, "fake pg_dump ran");
	seen = read_file_text(out, &err);
	ok(seen && strstr(seen, "env:Hunter2\n"), "the child gets the password in PGPASSWORD");
	ok(seen && strstr(seen, "arg:--dbname=") && strstr(seen, "host='127.0.0.1'") &&
	   strstr(seen, "dbname='shop'"), "argv carries host and database");
	{
		const char *argpart = seen ? seen : "";
		const char *envpos = strstr(argpart, "env:");
		size_t arglen = envpos ? (size_t) (envpos - argpart) : strlen(argpart);
		char *args = xstrndup(argpart, arglen);

		ok(!strstr(args, "Hunter2"), "no argument contains the password");
		free(args);
	}
	free(seen);
	pgtool_free(&cmd);

	pgtool_init(&cmd, "pg_dump");
	pgtool_arg(&cmd, "fail");
	ok(!pgtool_run(&cmd, "could not dump", &err), "failing tool fails");
	is_str(err.message, "could not dump: pg_dump exited with status 3", "failure message");
	is_str(err.detail, "pg_dump: error: boom", "stderr excerpt in detail");
	pgtool_free(&cmd);

	setenv("PATH", old_path, 1);
	unlink(out);
	unlink(tool);
	rmdir(dir);
	free(out); free(script); free(tool); free(old_path); free(new_path);
}

int
main(void)
{
	test_strip();
	test_patterns();
	test_toc();
	test_toc_tag();
	test_run();
	return done_testing();
}
