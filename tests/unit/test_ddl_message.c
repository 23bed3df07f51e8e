/*
 * The content of 'pgshift.ddl' messages (cdc.ddl: replicate), parsed from
 * what PostgreSQL 15's capture function emitted (peeked with
 * pg_logical_slot_peek_binary_changes, messages 'true'), and the check that
 * a statement is the DDL's own, not a DO block or function that ran it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/ddl_message.h"
#include "tap.h"

static const char drop_table[] =
	"{\"sql\": \"DROP TABLE public.n2;\", \"tag\": \"DROP TABLE\", \"objects\": [{\"type\": \"table\","
	" \"schema\": \"public\", \"identity\": \"public.n2\", \"rel_name\": \"n2\", \"rel_schema\": \"public\"},"
	" {\"type\": \"type\", \"schema\": \"public\", \"identity\": \"public.n2\", \"rel_name\": null,"
	" \"rel_schema\": null}, {\"type\": \"table constraint\", \"schema\": \"public\", \"identity\":"
	" \"n2_pkey on public.n2\", \"rel_name\": \"n2\", \"rel_schema\": \"public\"}, {\"type\": \"index\","
	" \"schema\": \"public\", \"identity\": \"public.n2_pkey\", \"rel_name\": null, \"rel_schema\": null},"
	" {\"type\": \"publication relation\", \"schema\": null, \"identity\": \"public.n2 in publication pp\","
	" \"rel_name\": null, \"rel_schema\": null}], \"role\": \"app\", \"search_path\": \"\\\"$user\\\", public\","
	" \"timezone\": \"America/New_York\", \"datestyle\": \"SQL, DMY\", \"intervalstyle\": \"iso_8601\"}";

static const char escapes[] =
	"{\"sql\": \"COMMENT ON TABLE t IS 'a\\\"b\\\\c\\n\\t\\u00e9\\u20ac\\ud83d\\ude00'\", \"oid\": 16384,"
	" \"future\": {\"x\": [1, -2.5e3, true, false, null]}, \"tag\": \"COMMENT\", \"objects\": []}";

static bool
parse(const char *json, struct ddl_message *m, struct pgs_error *err)
{
	pgs_error_clear(err);
	return ddl_message_parse((const uint8_t *) json, strlen(json), m, err);
}

static void
test_drop_table(void)
{
	struct ddl_message m;
	struct pgs_error err;

	if (!ok(parse(drop_table, &m, &err), "DROP TABLE message parses"))
		return;
	is_str(m.sql, "DROP TABLE public.n2;", "sql");
	is_str(m.tag, "DROP TABLE", "tag");
	is_str(m.search_path, "\"$user\", public", "search_path with escaped quotes");
	is_str(m.role, "app", "role");
	is_str(m.timezone, "America/New_York", "the session's TimeZone");
	is_str(m.datestyle, "SQL, DMY", "its DateStyle");
	is_str(m.intervalstyle, "iso_8601", "its IntervalStyle");
	is_int(m.nobjects, 5, "five objects");
	is_str(m.objects[0].type, "table", "object 1: type");
	is_str(m.objects[0].rel_schema, "public", "object 1: rel_schema");
	is_str(m.objects[0].rel_name, "n2", "object 1: rel_name");
	is_str(m.objects[2].identity, "n2_pkey on public.n2", "object 3: identity");
	ok(m.objects[3].rel_name == NULL, "object 4: null rel_name");
	ok(m.objects[4].schema == NULL, "object 5: null schema");
	ddl_message_free(&m);
}

static void
test_escapes(void)
{
	struct ddl_message m;
	struct pgs_error err;

	if (!ok(parse(escapes, &m, &err), "escapes and unknown keys parse"))
		return;
	is_str(m.sql, "COMMENT ON TABLE t IS 'a\"b\\c\n\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80'",
		   "every escape, \\u to UTF-8 with a surrogate pair");
	is_int(m.nobjects, 0, "an empty objects array");
	ok(m.search_path == NULL, "no search_path");
	ok(m.timezone == NULL && m.datestyle == NULL, "no time settings: the applier keeps its own");
	ok(m.error == NULL, "no error");
	ddl_message_free(&m);
}

/* what the capture function sends when it failed on the source (json_build_object) */
static void
test_capture_error(void)
{
	static const char json[] = "{\"sql\" : \"ALTER TABLE t ADD c int\", \"tag\" : \"ALTER TABLE\","
		" \"error\" : \"permission denied for table ddl_capture\", \"objects\" : []}";
	struct ddl_message m;
	struct pgs_error err;

	if (!ok(parse(json, &m, &err), "a capture error message parses"))
		return;
	is_str(m.error, "permission denied for table ddl_capture", "error");
	is_str(m.tag, "ALTER TABLE", "and the tag");
	ddl_message_free(&m);
}

/* jsonb's text of a SET SCHEMA the capture stops on, and a table's persistence */
static void
test_stop_and_persistence(void)
{
	static const char json[] = "{\"sql\": \"ALTER TABLE app.t SET SCHEMA x\", \"tag\": \"ALTER TABLE\","
		" \"stop\": true, \"error\": \"table x.t was moved out of the migrated schemas\","
		" \"objects\": [{\"type\": \"table\", \"schema\": \"x\", \"identity\": \"x.t\","
		" \"rel_name\": \"t\", \"rel_schema\": \"x\", \"rel_persistence\": \"u\"}]}";
	static const char plain[] = "{\"sql\": \"ALTER TABLE t ADD c int\", \"tag\": \"ALTER TABLE\","
		" \"stop\": false, \"objects\": []}";
	struct ddl_message m;
	struct pgs_error err;

	if (ok(parse(json, &m, &err), "a message with stop and rel_persistence parses")) {
		ok(m.stop, "stop: true");
		is_str(m.objects[0].rel_persistence, "u", "the table's persistence");
		ddl_message_free(&m);
	}
	if (ok(parse(plain, &m, &err), "stop: false parses")) {
		ok(!m.stop, "stop: false");
		ddl_message_free(&m);
	}
}

static const struct {
	const char *json;
	const char *error;
} invalid[] = {
	{"", "invalid pgshift.ddl message: expected an object at offset 0"},
	{"{\"sql\": \"x\"}", "invalid pgshift.ddl message: no \"sql\" or no \"tag\""},
	{"{\"sql\": \"x\", \"tag\": \"T\"} x", "invalid pgshift.ddl message: bytes after the object at offset 25"},
	{"{\"sql\": \"x", "invalid pgshift.ddl message: an unterminated string at offset 10"},
	{"{\"sql\": \"\\ud800\"}", "invalid pgshift.ddl message: a lone high surrogate at offset 15"},
	{"{\"sql\": \"\\u0000\"}", "invalid pgshift.ddl message: a NUL character at offset 15"},
	{"{\"sql\": \"\\x\"}", "invalid pgshift.ddl message: an unknown escape at offset 10"},
	{"{\"sql\" \"x\"}", "invalid pgshift.ddl message: expected ':' at offset 7"},
	{"{\"sql\": x}", "invalid pgshift.ddl message: expected a string at offset 8"},
	{"{\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	 "invalid pgshift.ddl message: nesting too deep at offset 38"},
	{"{\"objects\": [{\"type\": 1}]}", "invalid pgshift.ddl message: expected a string at offset 22"},
};

static void
test_invalid(void)
{
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		struct ddl_message m;
		struct pgs_error err;
		char name[64];

		snprintf(name, sizeof(name), "invalid %zu refused", i + 1);
		ok(!parse(invalid[i].json, &m, &err), name);
		is_str(err.message, invalid[i].error, "its message");
		ok(m.sql == NULL && m.objects == NULL, "and nothing is left");
	}
}

static const struct {
	const char *sql, *tag;
	bool top;
} tops[] = {
	{"ALTER TABLE t ADD c int", "ALTER TABLE", true},
	{"  -- why\n/* a /* nested */ comment */\n\tcreate index on t (c)", "CREATE INDEX", true},
	{"CREATE TABLE x AS SELECT 1", "CREATE TABLE AS", true},
	{"SELECT 1 INTO x", "SELECT INTO", true},
	{"DO $$ BEGIN EXECUTE 'create table public.n3 (a int)'; END $$;", "CREATE TABLE", false},
	{"SELECT make_tables()", "CREATE TABLE", false},
	{"CALL p()", "ALTER TABLE", false},
	{"CREATEX TABLE", "CREATE TABLE", false},
	{"-- only a comment", "CREATE TABLE", false},
};

static void
test_top_level(void)
{
	for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		char name[96];

		snprintf(name, sizeof(name), "%s: statement %zu is %sits own", tops[i].tag, i + 1,
				 tops[i].top ? "" : "not ");
		ok(ddl_statement_is_top_level(tops[i].sql, tops[i].tag) == tops[i].top, name);
	}
}

static void
test_concurrently(void)
{
	static const struct {
		const char *sql, *tag, *want;
	} cases[] = {
		{"CREATE INDEX CONCURRENTLY i ON t (a)", "CREATE INDEX", "CREATE INDEX i ON t (a)"},
		{"/* c */ create unique index\n concurrently if not exists i ON t (a)", "CREATE INDEX",
		 "/* c */ create unique index\n if not exists i ON t (a)"},
		{"DROP INDEX CONCURRENTLY app.i", "DROP INDEX", "DROP INDEX app.i"},
		{"CREATE INDEX concurrently_idx ON t (a)", "CREATE INDEX", NULL},
		{"CREATE INDEX i ON t (a)", "CREATE INDEX", NULL},
		{"DROP TABLE CONCURRENTLY", "DROP TABLE", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = ddl_without_concurrently(cases[i].sql, cases[i].tag);
		char name[96];

		snprintf(name, sizeof(name), "without CONCURRENTLY: case %zu", i + 1);
		ok(cases[i].want ? got && strcmp(got, cases[i].want) == 0 : got == NULL, name);
		free(got);
	}
}

int
main(void)
{
	test_drop_table();
	test_escapes();
	test_capture_error();
	test_stop_and_persistence();
	test_invalid();
	test_top_level();
	test_concurrently();
	return done_testing();
}
