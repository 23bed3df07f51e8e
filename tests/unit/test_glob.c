/*
 * Filter and event globs: '*' and '?' are the only wildcards, '\' makes the
 * next character literal, and table globs split SCHEMA.TABLE at the first
 * unescaped dot.
 */
#include <stdio.h>

#include "util/glob.h"
#include "tap.h"

#define NOT_QUALIFIED "table patterns are SCHEMA.TABLE, e.g. public.orders or public.tmp_*"
#define EMPTY_PART "schema and table parts of the pattern must not be empty"
#define BRACKETS "only * and ? are wildcards; write \\[ \\] \\{ \\} for literal brackets"

static const struct {
	const char *pattern;
	bool qualified;
	const char *why;            /* NULL: valid */
} checks[] = {
	{"public", false, NULL},
	{"pg_*", false, NULL},
	{"public.orders", true, NULL},
	{"public.tmp_*", true, NULL},
	{"*.*", true, NULL},
	{"a\\.b.c", true, NULL},
	{"public.t\\[1\\]", true, NULL},
	{"public", true, NOT_QUALIFIED},
	{"public\\.orders", true, NOT_QUALIFIED},
	{".orders", true, EMPTY_PART},
	{"public.", true, EMPTY_PART},
	{"", false, "empty pattern"},
	{"", true, "empty pattern"},
	{"public.t[0-9]", true, BRACKETS},
	{"{a,b}", false, BRACKETS},
	{"a]", false, BRACKETS},
	{"public.log\\", true, "pattern ends with a lone backslash"},
	{"\\", false, "pattern ends with a lone backslash"},
};

static const struct {
	const char *pattern, *text;
	bool match;
} matches[] = {
	{"*", "", true},
	{"*", "anything", true},
	{"", "", true},
	{"", "x", false},
	{"copy.*", "copy.started", true},
	{"copy.*", "copy.table.finished", true},
	{"copy.*", "copyx", false},
	{"*.failed", "run.failed", true},
	{"*.failed", "run.finished", false},
	{"c?pe", "cope", true},
	{"c?pe", "cpe", false},
	{"a*b*c", "axxbyyc", true},
	{"a*b*c", "axxbyy", false},
	{"*a*a", "aaa", true},
	{"tmp_\\*", "tmp_*", true},
	{"tmp_\\*", "tmp_x", false},
	{"what\\?", "what?", true},
	{"what\\?", "whats", false},
	{"a\\\\b", "a\\b", true},
	{"Public", "public", false},
};

static const struct {
	const char *pattern, *schema, *table;
	bool match;
} tables[] = {
	{"public.orders", "public", "orders", true},
	{"public.orders", "public", "orders2", false},
	{"public.tmp_*", "public", "tmp_1", true},
	{"public.tmp_*", "billing", "tmp_1", false},
	{"*.sessions", "app", "sessions", true},
	{"*.*", "x", "y", true},
	{"pub*.*", "public", "a", true},
	{"public.a\\.b", "public", "a.b", true},
	{"public.a\\.b", "public", "axb", false},
	{"my\\.schema.t", "my.schema", "t", true},
	{"my\\.schema.t", "my", "schema.t", false},
	{"public.a.b", "public", "a.b", true},
	{"public.t\\*", "public", "t*", true},
	{"public.t\\*", "public", "tx", false},
	{"public", "public", "orders", false},
};

int
main(void)
{
	char label[256];

	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		const char *why = NULL;
		bool valid = glob_check(checks[i].pattern, checks[i].qualified, &why);

		snprintf(label, sizeof(label), "glob_check(\"%s\", %s)", checks[i].pattern,
				 checks[i].qualified ? "qualified" : "plain");
		if (checks[i].why == NULL) {
			ok(valid, label);
		} else {
			ok(!valid, label);
			is_str(why, checks[i].why, label);
		}
	}
	for (size_t i = 0; i < sizeof(matches) / sizeof(matches[0]); i++) {
		snprintf(label, sizeof(label), "\"%s\" %s \"%s\"", matches[i].pattern,
				 matches[i].match ? "matches" : "does not match", matches[i].text);
		is_int(glob_match(matches[i].pattern, matches[i].text), matches[i].match, label);
	}
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(label, sizeof(label), "\"%s\" %s %s.%s", tables[i].pattern,
				 tables[i].match ? "matches" : "does not match", tables[i].schema, tables[i].table);
		is_int(glob_match_table(tables[i].pattern, tables[i].schema, tables[i].table),
			   tables[i].match, label);
	}
	return done_testing();
}
