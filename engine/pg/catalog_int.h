/*
 * What the catalog_*.c files share while one catalog_load runs: the filter
 * state (which patterns matched something, for cat->unmatched), a sorted
 * oid -> table map, and the tables' oids that the per-kind queries bind,
 * in parts, as their one parameter. Not part of the public API.
 */
#ifndef PGSHIFT_PG_CATALOG_INT_H
#define PGSHIFT_PG_CATALOG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "pg/catalog.h"
#include "plan/plan.h"
#include "util/error.h"

/*
 * The SQL condition for "a user schema" on pg_namespace alias n: PostgreSQL
 * reserves every pg_* name (pg_catalog, pg_toast*, pg_temp_*), and pgshift's
 * own state schema is never migrated. A constant, never built from values.
 */
#define CAT_USER_SCHEMA \
	"n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT IN ('information_schema', 'pgshift')"

/* The object (pg_class alias c) belongs to an extension: pg_dump recreates it. */
#define CAT_NOT_EXTENSION_MEMBER \
	"NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass " \
	"AND e.objid = c.oid AND e.deptype = 'e')"

enum cat_filter_key {
	CF_INCLUDE_SCHEMAS,
	CF_EXCLUDE_SCHEMAS,
	CF_INCLUDE_TABLES,
	CF_EXCLUDE_TABLES,
	CF_EXCLUDE_TABLE_DATA,
	CF_EXCLUDE_EXTENSIONS,
	CF_NKEYS
};

struct cat_filter {
	const struct strlist *lists[CF_NKEYS];  /* borrowed from the plan */
	bool *hit[CF_NKEYS];                    /* owned; per pattern: matched something */
};

/* plan may be NULL: nothing filtered beyond the system schemas. */
void cat_filter_init(struct cat_filter *f, const struct plan *plan);
void cat_filter_free(struct cat_filter *f);
/* The schema passes include_schemas / exclude_schemas (marks hits). */
bool cat_filter_schema(struct cat_filter *f, const char *schema);
/* The schema is named by exclude_schemas (no marking: used for partitions). */
bool cat_filter_schema_excluded(const struct cat_filter *f, const char *schema);
/* A table, view or sequence of a kept schema passes include/exclude_tables. */
bool cat_filter_relation(struct cat_filter *f, const char *schema, const char *name);
/* The relation is named by include_tables (marks hits). */
bool cat_filter_table_included(struct cat_filter *f, const char *schema, const char *name);
/* The relation is named by exclude_tables (marks hits). */
bool cat_filter_table_excluded(struct cat_filter *f, const char *schema, const char *name);
/* The table is named by exclude_table_data (marks hits). */
bool cat_filter_data_excluded(struct cat_filter *f, const char *schema, const char *name);
bool cat_filter_extension(struct cat_filter *f, const char *name);
/* Appends every pattern that matched nothing to cat->unmatched. */
void cat_filter_unmatched(const struct cat_filter *f, struct catalog *cat);

struct cat_oidpos {
	uint32_t oid;
	size_t pos;                 /* index in the array mapped */
};

struct cat_oidmap {
	struct cat_oidpos *items;   /* owned; sorted by oid */
	size_t n;
};

void cat_oidmap_build(struct cat_oidmap *m, const uint32_t *oids, size_t n);
void cat_oidmap_free(struct cat_oidmap *m);
/* Index of the oid in the mapped array, or -1. */
long cat_oidmap_find(const struct cat_oidmap *m, uint32_t oid);

struct cat_load {
	PGconn *conn;
	const struct plan *plan;    /* borrowed, may be NULL */
	struct catalog *cat;
	struct cat_filter filter;
	struct cat_oidmap tables;   /* oid -> index into cat->tables */
	struct cat_oidmap indexes;  /* oid -> index into cat->indexes */
	bool definitions;           /* read pg_get_indexdef (else cat_index.def stays NULL) */
	struct pgs_error *err;
};

/* Tables first, on ctx->conn: every other read binds the kept tables' oids. */
bool cat_load_tables(struct cat_load *ctx);

/*
 * The other reads (catalog_reads.c runs them, on one session or several):
 * each is one query and a function that takes its rows into ctx->cat. The
 * queries marked per part bind one part of the kept tables' oids (the
 * function is called once per part, then cat_link_indexes after the last
 * index part, cat_sort_constraints after the last constraints part,
 * cat_columns_done after the last columns part); globals bind the plan's
 * publication name, the others nothing.
 */
extern const char cat_indexes_sql[];        /* per part, and the definitions flag */
extern const char cat_indexes_sql_before15[];
extern const char cat_sizes_sql[];          /* per part */
extern const char cat_columns_sql[];        /* per part */
extern const char cat_constraints_sql[];    /* per part */
extern const char cat_sequences_sql[];      /* no parameter */
extern const char cat_extensions_sql[];     /* no parameter */
extern const char cat_views_sql[];          /* no parameter */
extern const char cat_globals_sql[];        /* the publication */
void cat_read_indexes(struct cat_load *ctx, const PGresult *res);
void cat_link_indexes(struct cat_load *ctx);
void cat_read_sizes(struct cat_load *ctx, const PGresult *res);
void cat_read_columns(struct cat_load *ctx, const PGresult *res);
void cat_columns_done(struct cat_load *ctx);
void cat_read_constraints(struct cat_load *ctx, const PGresult *res);
void cat_sort_constraints(struct cat_load *ctx);
void cat_read_sequences(struct cat_load *ctx, const PGresult *res);
void cat_read_extensions(struct cat_load *ctx, const PGresult *res);
void cat_read_views(struct cat_load *ctx, const PGresult *res);
void cat_read_globals(struct cat_load *ctx, const PGresult *res);

/*
 * Runs every read above on conns[0..nconns) (all in transactions that see
 * one snapshot), several at a time when nconns > 1, and takes their rows
 * in the order listed, so the catalog is the same whatever nconns is.
 */
bool cat_run_reads(struct cat_load *ctx, PGconn *const *conns, size_t nconns);

/*
 * Result helpers: NULL-safe copies and parses of one field. The strings live
 * in cat->strings; cat_intern shares one copy of a value that repeats (a
 * schema, a type, an index shape), cat_str is for the names that do not.
 */
char *cat_str(struct cat_load *ctx, const PGresult *res, int row, int col);
char *cat_intern(struct cat_load *ctx, const PGresult *res, int row, int col);
bool cat_bool(const PGresult *res, int row, int col);      /* "t" */
int64_t cat_int64(const PGresult *res, int row, int col);  /* 0 when NULL */
uint32_t cat_oid(const PGresult *res, int row, int col);   /* 0 when NULL */
/* Appends name to a schema list unless present (cat->schemas). */
void cat_add_schema(struct catalog *cat, const char *schema);

#endif
