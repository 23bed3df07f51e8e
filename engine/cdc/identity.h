/*
 * Replica identity for CDC (DESIGN.md §4a). Once a table is in the
 * publication, PostgreSQL refuses every UPDATE and DELETE on it unless it
 * has a usable identity: a valid non-deferrable primary key (identity
 * DEFAULT), a valid non-deferrable non-partial unique index named by
 * REPLICA IDENTITY USING INDEX, or FULL. One rule, here, decides what a
 * table needs; preflight reports it and the snapshot step applies it,
 * always before the table enters the publication.
 */
#ifndef PGSHIFT_CDC_IDENTITY_H
#define PGSHIFT_CDC_IDENTITY_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "pg/catalog.h"
#include "util/error.h"

/* The values are pg_class.relreplident's, so a change is recorded as it reads there. */
enum identity_fix {
	IDENTITY_KEEP = 0,          /* usable as it is, or its rows are not replicated */
	IDENTITY_DEFAULT = 'd',     /* back to the primary key (from NOTHING or a dead index) */
	IDENTITY_INDEX = 'i',       /* USING INDEX t->identity_candidate */
	IDENTITY_FULL = 'f',
};

/*
 * What the table needs so that the application's UPDATE/DELETE keep working
 * once it is published. Pure: reads only the catalog fields.
 */
enum identity_fix identity_needed(const struct cat_table *t);

/* Why the table has no usable identity today ("no primary key", ...); static text. */
const char *identity_problem(const struct cat_table *t);

/* The name SQL uses for a relreplident value: "DEFAULT", "NOTHING", "FULL", "USING INDEX". */
const char *identity_name(char replident);

/*
 * "ALTER TABLE "s"."t" REPLICA IDENTITY ..." (malloc'd) for relreplident
 * kind, index naming the index for 'i' (in the table's schema).
 */
char *identity_alter_sql(PGconn *conn, const char *schema, const char *table, char kind,
						 const char *index);

/* Runs identity_alter_sql on conn (a writable source session). */
bool identity_set(PGconn *conn, const char *schema, const char *table, char kind,
				  const char *index, struct pgs_error *err);

#endif
