/*
 * The source catalog as pgshift needs it: the tables the plan's filters
 * select (with columns, sizes, partitioning, replica identity), their
 * indexes and constraints, sequences, extensions and views. Read with
 * read-only queries only. Every string is owned by the catalog (its pool).
 */
#ifndef PGSHIFT_PG_CATALOG_H
#define PGSHIFT_PG_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "plan/plan.h"
#include "util/error.h"
#include "util/strpool.h"

struct cat_column {
	char *name;
	char *type;                 /* format_type() text, e.g. "numeric(10,2)" */
	uint32_t type_oid;          /* atttypid and atttypmod, as pgoutput's Relation */
	int typmod;                 /* message sends them (-1: none) */
	int attnum;
	bool not_null;
	bool generated;             /* GENERATED ALWAYS AS (...) STORED: left out of COPY */
	char identity;              /* 'a' always, 'd' by default, 0 none */
	bool binary_io;             /* a built-in type (and element type) with binary I/O */
};

/* Pointers first, then the wider numbers: 96 bytes, one per table (100,000 and more). */
struct cat_table {
	char *schema, *name;
	char *parent_schema, *parent_name;  /* direct parent when is_partition */
	char *replident_index;      /* the index named by REPLICA IDENTITY USING INDEX, or NULL */
	char *identity_candidate;   /* a unique index USING INDEX would accept, or NULL */
	struct cat_column *cols;
	int64_t est_rows;           /* reltuples, -1 when never analyzed */
	int64_t bytes;              /* heap + TOAST heap (main forks): what a copy moves */
	int64_t heap_bytes;         /* pg_relation_size(oid, 'main'): the pages ctid ranges split */
	uint32_t oid;
	uint32_t ncols;
	char relkind;               /* 'r' table, 'p' partitioned parent */
	bool is_partition;          /* a leaf (or sub-parent) of a partitioned table */
	char replident;             /* 'd' default, 'n' nothing, 'f' full, 'i' index */
	bool has_pk;
	bool unlogged;              /* relpersistence 'u': not in WAL, so not in any publication */
	/* identity as PostgreSQL resolves it: a deferrable or invalid index is none */
	bool pk_usable;             /* a valid, non-deferrable primary key */
	bool replident_usable;      /* that index is valid, non-deferrable and not partial */
	bool exclude_data;          /* matched filters.exclude_table_data */
};

/* 64 bytes: two or more a table */
struct cat_index {
	uint32_t oid;               /* on the source, to match constraints; not stable elsewhere */
	uint32_t parent_oid;        /* the partitioned index's oid on the source, 0 if none */
	char *schema, *name;
	char *def;                  /* pg_get_indexdef; NULL when read without definitions */
	char *keys;                 /* indkey: the columns' attnums, 0 for an expression */
	char *shape;                /* the rest of the definition, as catalog columns (JSON) */
	uint32_t table;             /* index into catalog.tables */
	int32_t parent;             /* partitioned index this one is attached to, -1 if none */
	bool is_primary, is_unique;
	bool backs_constraint;      /* created by a PK/UNIQUE/EXCLUDE constraint */
};

/* 48 bytes */
struct cat_constraint {
	char *name;
	char *def;                  /* pg_get_constraintdef */
	char *ref_schema, *ref_name;/* the referenced table, for 'f' */
	uint32_t table;             /* index into catalog.tables */
	int32_t index;              /* index into catalog.indexes for p/u/x, -1 otherwise */
	int32_t ref_table;          /* index into catalog.tables for 'f', -1 if not migrated */
	char type;                  /* 'p' 'u' 'f' 'c' 'x' */
	bool validated;             /* false for NOT VALID */
	bool inherited;             /* cloned from a parent's constraint (partitions,
								 * inheritance): created with it, never on its own */
};

struct cat_sequence {
	char *schema, *name;
	char *owner_schema, *owner_table, *owner_column;    /* OWNED BY, NULL if none */
};

struct cat_extension {
	char *name, *version, *schema;
};

/* An object outside any schema (access method, cast, server...); see catalog_globals.c. */
struct cat_global {
	char *kind;                 /* "cast", "access method", "user mapping", ... */
	char *name;                 /* pg_describe_object: "cast from integer to zoo.pair" */
	bool superuser_only;        /* only a superuser can create it */
	bool has_password;          /* a user mapping with a password option */
	char *dump_tag;             /* a user mapping's tag in pg_dump's archive, else NULL */
	char *def;                  /* what verify compares besides the name: a publication's
								 * operations, a member's columns and row filter; or NULL */
	bool excluded;              /* its class is in filters.exclude_object_classes */
};

struct cat_view {
	char *schema, *name;
	bool materialized;
};

/* A filter pattern that matched nothing, reported by preflight. */
struct cat_unmatched {
	const char *key;            /* e.g. "filters.include_tables" (static) */
	char *pattern;
	bool is_include;            /* include_* → FAIL; exclude_* → WARN */
};

struct catalog {
	int server_version_num;
	char *server_version;
	char *database;
	struct cat_table *tables;           /* filtered; parents and leaves */
	size_t ntables;
	struct cat_index *indexes;
	size_t nindexes;
	struct cat_constraint *constraints;
	size_t nconstraints;
	struct cat_sequence *sequences;
	size_t nsequences;
	struct cat_extension *extensions;   /* after filters.exclude_extensions */
	size_t nextensions;
	struct cat_view *views;
	size_t nviews;
	char **schemas;                     /* filtered user schemas */
	size_t nschemas, capschemas;
	struct cat_global *globals;         /* all of the database's (publication members: of
										 * the filtered tables and schemas), pgshift's own
										 * publications left out */
	size_t nglobals;
	bool has_large_objects;
	int64_t total_bytes;                /* of the filtered tables */
	struct cat_unmatched *unmatched;
	size_t nunmatched;
	size_t read_sessions;               /* how many sessions read it (catalog_load_parallel) */
	struct strpool strings;             /* owns every string above but the unmatched patterns */
};

/*
 * Reads the source catalog and applies the plan's filters. System schemas,
 * pg_toast, temp schemas and pgshift's own "pgshift" schema are never part of
 * it, nor objects that belong to an extension. A partition follows its root
 * table's filter decision unless the partition itself (or its schema) is
 * named by an exclude pattern; exclude_table_data on a parent covers its
 * partitions. Table patterns also select views and free-standing sequences
 * (as pg_dump --table); an owned sequence follows its table. With
 * include_tables set, schemas lists only schemas holding a kept object.
 * Runs in its own REPEATABLE READ READ ONLY transaction when conn is idle,
 * else inside the caller's. plan may be NULL (no filters). On failure cat
 * is left empty.
 */
bool catalog_load(PGconn *conn, const struct plan *plan, struct catalog *cat,
				  struct pgs_error *err);
/*
 * catalog_load, and when conn is idle and the filters keep at least
 * CAT_PARALLEL_MIN_TABLES tables, the reads after the tables' run side by
 * side on up to CAT_SESSIONS sessions: conn and sessions opened like it
 * (pg_connect_like, configured as s says) that import its snapshot. When
 * the server refuses more sessions, fewer (or only conn) do all the reads.
 * Without definitions, cat_index.def stays NULL (pg_get_indexdef is most of
 * the server's time with many indexes): for plan, which shows indexes and
 * fingerprints them by their shape, not by the statement that creates them.
 */
#define CAT_SESSIONS 4
#define CAT_PARALLEL_MIN_TABLES 1000
struct pg_session;
bool catalog_load_parallel(PGconn *conn, const struct pg_session *s, const struct plan *plan,
						   bool definitions, struct catalog *cat, struct pgs_error *err);
void catalog_free(struct catalog *cat);
/*
 * Frees every table's columns (cols NULL, ncols 0), for a caller done with
 * them: plan, once preflight and the fingerprint read them (at 100,000
 * tables they are 8 MB of the heap when the DAG is compiled).
 */
void catalog_free_columns(struct catalog *cat);

/* True when the table is copied (a leaf or plain table, not exclude_data). */
bool cat_table_copies_data(const struct cat_table *t);
/*
 * The plan's filters applied to a name the catalog did not read (DDL
 * replicated during CDC): the schema is migrated; the table (or view,
 * sequence) in it is; and its rows are copied too (not exclude_table_data).
 */
bool catalog_filter_keeps_schema(const struct plan *plan, const char *schema);
bool catalog_filter_keeps_relation(const struct plan *plan, const char *schema, const char *name);
bool catalog_filter_copies_rows(const struct plan *plan, const char *schema, const char *name);

/* The table of that schema and name in cat; NULL when the filters left it out. */
const struct cat_table *catalog_find_table(const struct catalog *cat, const char *schema,
										   const char *name);

/*
 * A stable digest (sha256 hex, malloc'd) of the filtered tables, columns,
 * indexes and constraints, for saved plans (`plan --out`, `apply --expect`).
 * Sizes, row estimates and oids are not part of it. NULL only when libcrypto
 * cannot compute sha256 (e.g. a FIPS provider that was not loaded).
 */
char *catalog_fingerprint(const struct catalog *cat);

struct buf;

/*
 * What changed between was and now, two reads of one source with the same
 * filters: appends one "; "-separated item per object, by name (new,
 * dropped, recreated (another oid) or attached table or partition, column added, dropped or
 * retyped, index or constraint new, dropped or changed, sequence, view,
 * schema or extension new or dropped) and returns how many.
 */
size_t catalog_diff(const struct catalog *was, const struct catalog *now, struct buf *out);

#endif
