/*
 * The content of a 'pgshift.ddl' logical decoding message (cdc.ddl:
 * replicate): the JSON object the capture function on the source
 * (ddl_capture.c) emits with pg_logical_emit_message at the end of each DDL
 * command that touches a migrated schema. A pure parser, no libpq: bytes in,
 * a struct of owned strings out, or an error naming the offset.
 *
 *   {"sql": top-level statement text, "search_path": the session's, "role",
 *    "timezone", "datestyle", "intervalstyle": the session's, "tag": command tag, "objects": [{"type", "schema", "identity",
 *    "rel_schema", "rel_name"}, ...]}
 *
 * or, when the capture itself failed on the source, {"sql", "tag", "error"}.
 *
 * rel_schema/rel_name name the table an object belongs to (the table itself,
 * or the table of an index, constraint, trigger, column); null when the
 * object is not a table's (a function, a type) or was dropped with its table.
 */
#ifndef PGSHIFT_CDC_DDL_MESSAGE_H
#define PGSHIFT_CDC_DDL_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* The logical decoding message prefix of captured DDL. */
#define DDL_MESSAGE_PREFIX "pgshift.ddl"

struct ddl_object {
	char *type;                 /* owned: "table", "index", "table column", ... */
	char *schema;               /* owned; NULL when the object has none */
	char *identity;             /* owned: pg_identify_object's identity */
	char *rel_schema, *rel_name;    /* owned; NULL: not a table's object */
	char *rel_persistence;          /* owned: the table's relpersistence ("u": unlogged); NULL */
};

struct ddl_message {
	char *sql;                  /* owned */
	char *search_path;          /* owned; may be NULL */
	/* owned; may be NULL: the settings by which the statement turns text into times */
	char *timezone, *datestyle, *intervalstyle;
	char *role;                 /* owned: the role that ran it (current_user); may be NULL */
	char *tag;                  /* owned: "ALTER TABLE", ... */
	char *error;                /* owned; not NULL: the capture failed on the source */
	bool stop;                  /* error stops the applier whatever the filters say of the
								 * objects (a table moved out of the migrated schemas) */
	struct ddl_object *objects; /* owned, nobjects entries */
	size_t nobjects;
};

/* Parses len bytes of JSON; on failure err says what and where, *m is empty. */
bool ddl_message_parse(const uint8_t *buf, size_t len, struct ddl_message *m,
					   struct pgs_error *err);
void ddl_message_free(struct ddl_message *m);

/*
 * Whether sql is the command tag's own statement: its first keyword, past
 * blanks and comments, is the tag's first word. Not so for DDL run by a
 * function, a DO block or a procedure (the top-level statement is SELECT,
 * DO, CALL), whose text must not be run again on the target.
 */
bool ddl_statement_is_top_level(const char *sql, const char *tag);

/*
 * CREATE [UNIQUE] INDEX CONCURRENTLY and DROP INDEX CONCURRENTLY without
 * the word, for the applier's transaction, which CONCURRENTLY refuses
 * (malloc'd); NULL for any other statement.
 */
char *ddl_without_concurrently(const char *sql, const char *tag);

#endif
