/*
 * Which object class (plan/object_class.h) an entry of pg_dump's archive
 * list belongs to, so that filters.exclude_object_classes can drop the
 * entries of a class, their comments, security labels and grants included;
 * and which publication a comment is on, so that pgshift's own publications
 * stay on the source.
 */
#ifndef PGSHIFT_PG_DUMP_CLASSES_H
#define PGSHIFT_PG_DUMP_CLASSES_H

#include <stdbool.h>

#include "pg/dump.h"
#include "plan/object_class.h"

/* The class of the entry's object; OBJ_NONE for an object in a schema, or none of them. */
enum object_class toc_object_class(const struct toc_entry *e);

/* The publication a comment or security label is on, malloc'd; NULL for any other entry. */
char *toc_publication_name(const struct toc_entry *e);

/*
 * Whether the entry creates, fills or comments on one of pgshift's
 * publications (own: the plan's cdc.publication, may be NULL). pg_restore
 * --list leaves the spaces of names unquoted ("PUBLICATION TABLE Weird
 * Schema pgshift_ws Mixed "Case" T"), so a member's text is read after one
 * of the schemas the dump holds (the migrated ones), not at its first space.
 */
bool toc_publication_is_pgshifts(const struct toc_entry *e, const char *own,
								 char *const *schemas, size_t nschemas);

/*
 * pgshift's own: the plan's cdc.publication (own, may be NULL) or any
 * other plan's (pgshift_*). They live on the source for CDC only.
 */
bool publication_is_pgshifts(const char *name, const char *own);

#endif
