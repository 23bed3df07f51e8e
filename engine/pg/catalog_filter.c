/*
 * The plan's filters (DESIGN.md §2) applied to catalog objects. Every
 * pattern of a list is tried on every candidate, not only up to the first
 * match, so that a pattern which never matches anything can be reported:
 * a typo in exclude_tables must not silently migrate the table it meant.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/catalog_int.h"
#include "util/glob.h"
#include "util/xalloc.h"

static const char *const filter_keys[CF_NKEYS] = {
	[CF_INCLUDE_SCHEMAS] = "filters.include_schemas",
	[CF_EXCLUDE_SCHEMAS] = "filters.exclude_schemas",
	[CF_INCLUDE_TABLES] = "filters.include_tables",
	[CF_EXCLUDE_TABLES] = "filters.exclude_tables",
	[CF_EXCLUDE_TABLE_DATA] = "filters.exclude_table_data",
	[CF_EXCLUDE_EXTENSIONS] = "filters.exclude_extensions",
};

static const struct strlist no_patterns = {NULL, 0};

void
cat_filter_init(struct cat_filter *f, const struct plan *plan)
{
	if (plan) {
		f->lists[CF_INCLUDE_SCHEMAS] = &plan->filters.include_schemas;
		f->lists[CF_EXCLUDE_SCHEMAS] = &plan->filters.exclude_schemas;
		f->lists[CF_INCLUDE_TABLES] = &plan->filters.include_tables;
		f->lists[CF_EXCLUDE_TABLES] = &plan->filters.exclude_tables;
		f->lists[CF_EXCLUDE_TABLE_DATA] = &plan->filters.exclude_table_data;
		f->lists[CF_EXCLUDE_EXTENSIONS] = &plan->filters.exclude_extensions;
	}
	for (int k = 0; k < CF_NKEYS; k++) {
		if (!plan)
			f->lists[k] = &no_patterns;
		f->hit[k] = xcalloc(f->lists[k]->n + 1, sizeof(bool));
	}
}

void
cat_filter_free(struct cat_filter *f)
{
	for (int k = 0; k < CF_NKEYS; k++) {
		free(f->hit[k]);
		f->hit[k] = NULL;
	}
}

/* True when any pattern of list k matches; marks every matching pattern. */
static bool
match_any(struct cat_filter *f, enum cat_filter_key k, const char *schema, const char *name)
{
	const struct strlist *l = f->lists[k];
	bool any = false;

	for (size_t i = 0; i < l->n; i++) {
		bool m = name ? glob_match_table(l->items[i], schema, name)
					  : glob_match(l->items[i], schema);

		if (m)
			any = f->hit[k][i] = true;
	}
	return any;
}

bool
cat_filter_schema(struct cat_filter *f, const char *schema)
{
	bool included = f->lists[CF_INCLUDE_SCHEMAS]->n == 0 ||
					match_any(f, CF_INCLUDE_SCHEMAS, schema, NULL);
	bool excluded = match_any(f, CF_EXCLUDE_SCHEMAS, schema, NULL);

	return included && !excluded;
}

bool
cat_filter_schema_excluded(const struct cat_filter *f, const char *schema)
{
	const struct strlist *l = f->lists[CF_EXCLUDE_SCHEMAS];

	for (size_t i = 0; i < l->n; i++)
		if (glob_match(l->items[i], schema))
			return true;
	return false;
}

bool
cat_filter_relation(struct cat_filter *f, const char *schema, const char *name)
{
	bool included = f->lists[CF_INCLUDE_TABLES]->n == 0 ||
					match_any(f, CF_INCLUDE_TABLES, schema, name);
	bool excluded = match_any(f, CF_EXCLUDE_TABLES, schema, name);

	return included && !excluded;
}

bool
cat_filter_table_included(struct cat_filter *f, const char *schema, const char *name)
{
	return match_any(f, CF_INCLUDE_TABLES, schema, name);
}

bool
cat_filter_table_excluded(struct cat_filter *f, const char *schema, const char *name)
{
	return match_any(f, CF_EXCLUDE_TABLES, schema, name);
}

bool
cat_filter_data_excluded(struct cat_filter *f, const char *schema, const char *name)
{
	return match_any(f, CF_EXCLUDE_TABLE_DATA, schema, name);
}

bool
cat_filter_extension(struct cat_filter *f, const char *name)
{
	return !match_any(f, CF_EXCLUDE_EXTENSIONS, name, NULL);
}

void
cat_filter_unmatched(const struct cat_filter *f, struct catalog *cat)
{
	for (int k = 0; k < CF_NKEYS; k++) {
		const struct strlist *l = f->lists[k];

		for (size_t i = 0; i < l->n; i++) {
			struct cat_unmatched *u;

			if (f->hit[k][i])
				continue;
			cat->unmatched = xrealloc(cat->unmatched,
									  (cat->nunmatched + 1) * sizeof(*cat->unmatched));
			u = &cat->unmatched[cat->nunmatched++];
			u->key = filter_keys[k];
			u->pattern = xstrdup(l->items[i]);
			u->is_include = k == CF_INCLUDE_SCHEMAS || k == CF_INCLUDE_TABLES;
		}
	}
}

/*
 * The filters' decision for one name the catalog never read (a schema or
 * table created on the source during CDC, cdc.ddl: replicate), with the
 * same rules as catalog_load: pgshift's and system schemas are never kept.
 */
static bool
keeps(const struct plan *plan, const char *schema, const char *name, bool rows)
{
	struct cat_filter f;
	bool keep;

	if (strncmp(schema, "pg_", 3) == 0 || strcmp(schema, "information_schema") == 0 ||
		strcmp(schema, "pgshift") == 0)
		return false;
	cat_filter_init(&f, plan);
	keep = cat_filter_schema(&f, schema) &&
		(!name || (cat_filter_relation(&f, schema, name) &&
				   !(rows && cat_filter_data_excluded(&f, schema, name))));
	cat_filter_free(&f);
	return keep;
}

bool
catalog_filter_keeps_schema(const struct plan *plan, const char *schema)
{
	return keeps(plan, schema, NULL, false);
}

bool
catalog_filter_keeps_relation(const struct plan *plan, const char *schema, const char *name)
{
	return keeps(plan, schema, name, false);
}

bool
catalog_filter_copies_rows(const struct plan *plan, const char *schema, const char *name)
{
	return keeps(plan, schema, name, true);
}
