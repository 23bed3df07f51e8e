/*
 * Globs of the plan's filters and event subscriptions: '*' matches any run of
 * characters, '?' one character, '\' makes the next character literal.
 * Table globs are SCHEMA.TABLE, split at the first unescaped dot.
 */
#ifndef PGSHIFT_UTIL_GLOB_H
#define PGSHIFT_UTIL_GLOB_H

#include <stdbool.h>

/* qualified: the glob must name SCHEMA.TABLE. *why explains a bad glob. */
bool glob_check(const char *pattern, bool qualified, const char **why);
bool glob_match(const char *pattern, const char *text);
bool glob_match_table(const char *pattern, const char *schema, const char *table);

#endif
