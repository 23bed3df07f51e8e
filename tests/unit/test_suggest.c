/*
 * "did you mean": the nearest known word within a distance that grows with
 * the word's length, case-insensitive, a swap of two letters counting once.
 */
#include <stdio.h>

#include "plan/suggest.h"
#include "tap.h"

static const char *const keys[] = {
	"version", "name", "source", "target", "filters", "copy", "cdc", "cutover", "cleanup",
	"hooks", "notify",
};
static const char *const copy_keys[] = {
	"table_jobs", "index_jobs", "split_tables_larger_than", "split_max_parts", "format",
	"vacuum_analyze", "require_empty_target",
};

static const struct {
	const char *const *candidates;
	size_t n;
	const char *word, *want;    /* want NULL: no suggestion */
} cases[] = {
	{keys, 11, "verison", "version"},       /* a swap counts as one edit */
	{keys, 11, "Version", "version"},       /* case does not count */
	{keys, 11, "sorce", "source"},
	{keys, 11, "targte", "target"},
	{keys, 11, "cdx", "cdc"},
	{keys, 11, "nmae", "name"},
	{keys, 11, "hook", "hooks"},
	{keys, 11, "cutovr", "cutover"},
	{keys, 11, "filter", "filters"},
	{keys, 11, "xyz", NULL},                /* short words allow one edit only */
	{keys, 11, "nm", NULL},
	{keys, 11, "frobnicate", NULL},
	{keys, 11, "", NULL},
	{copy_keys, 7, "tabel_jobs", "table_jobs"},
	{copy_keys, 7, "Table_Jobs", "table_jobs"},
	{copy_keys, 7, "index_job", "index_jobs"},
	{copy_keys, 7, "split_table_larger_then", "split_tables_larger_than"},
	{copy_keys, 7, "vaccum_analyse", "vacuum_analyze"},
	{copy_keys, 7, "jobs", NULL},
	{copy_keys, 7, "fromat", "format"},
	{copy_keys, 0, "format", NULL},         /* nothing to suggest from */
};

int
main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char label[128];

		snprintf(label, sizeof(label), "suggest for \"%s\"", cases[i].word);
		is_str(suggest_word(cases[i].word, cases[i].candidates, cases[i].n), cases[i].want, label);
	}
	return done_testing();
}
