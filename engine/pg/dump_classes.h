/*
 * Which object class (plan/object_class.h) an entry of pg_dump's archive
 * list belongs to, so that filters.exclude_object_classes can drop the
 * entries of a class, their comments, security labels and grants included;
 * and which publication an entry is of, so that pgshift's own publications
 * stay on the source.
 */
#ifndef PGSHIFT_PG_DUMP_CLASSES_H
#define PGSHIFT_PG_DUMP_CLASSES_H

#include <stdbool.h>

#include "pg/dump.h"
#include "plan/object_class.h"

/* The class of the entry's object; OBJ_NONE for an object in a schema, or none of them. */
enum object_class toc_object_class(const struct toc_entry *e);

/*
 * The publication an entry creates, fills or comments on (PUBLICATION,
 * PUBLICATION TABLE, PUBLICATION TABLES IN SCHEMA, COMMENT ON PUBLICATION),
 * malloc'd; NULL for any other entry.
 */
char *toc_publication_name(const struct toc_entry *e);

/*
 * pgshift's own: the plan's cdc.publication (own, may be NULL) or any
 * other plan's (pgshift_*). They live on the source for CDC only.
 */
bool publication_is_pgshifts(const char *name, const char *own);

#endif
