/* Glob checking and matching; see glob.h. */
#include <stdlib.h>
#include <string.h>

#include "util/glob.h"
#include "util/xalloc.h"

/* Position of the first dot that is not escaped, or NULL. */
static const char *
unescaped_dot(const char *p)
{
	for (; *p; p++) {
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '.')
			return p;
	}
	return NULL;
}

bool
glob_check(const char *pattern, bool qualified, const char **why)
{
	const char *dot;
	size_t len = strlen(pattern);

	if (len == 0) {
		*why = "empty pattern";
		return false;
	}
	for (const char *p = pattern; *p; p++) {
		if (*p == '\\') {
			if (!p[1]) {
				*why = "pattern ends with a lone backslash";
				return false;
			}
			p++;
		} else if (*p == '[' || *p == ']' || *p == '{' || *p == '}') {
			*why = "only * and ? are wildcards; write \\[ \\] \\{ \\} for literal brackets";
			return false;
		}
	}
	if (!qualified)
		return true;
	dot = unescaped_dot(pattern);
	if (!dot) {
		*why = "table patterns are SCHEMA.TABLE, e.g. public.orders or public.tmp_*";
		return false;
	}
	if (dot == pattern || dot[1] == '\0') {
		*why = "schema and table parts of the pattern must not be empty";
		return false;
	}
	return true;
}

/* Iterative match with backtracking on the last star. */
static bool
match_range(const char *p, const char *pend, const char *t, const char *tend)
{
	const char *star_p = NULL, *star_t = NULL;

	while (t < tend) {
		if (p < pend && *p == '*') {
			star_p = ++p;
			star_t = t;
		} else if (p < pend && (*p == '?' || (*p == '\\' && p + 1 < pend && p[1] == *t) ||
								 (*p != '\\' && *p == *t))) {
			p += (*p == '\\') ? 2 : 1;
			t++;
		} else if (star_p) {
			p = star_p;
			t = ++star_t;
		} else {
			return false;
		}
	}
	while (p < pend && *p == '*')
		p++;
	return p == pend;
}

bool
glob_match(const char *pattern, const char *text)
{
	return match_range(pattern, pattern + strlen(pattern), text, text + strlen(text));
}

bool
glob_match_table(const char *pattern, const char *schema, const char *table)
{
	const char *dot = unescaped_dot(pattern);

	if (!dot)
		return false;
	return match_range(pattern, dot, schema, schema + strlen(schema)) &&
		match_range(dot + 1, pattern + strlen(pattern), table, table + strlen(table));
}
