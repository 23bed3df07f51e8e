/*
 * A string pool: copies of many small strings kept in large blocks and freed
 * all at once. At 100,000 tables the catalog holds about a million names,
 * types and index shapes; one malloc each cost more in headers and
 * fragmentation than the strings themselves. strpool_intern also shares
 * equal strings (every table's "public", every "integer"), so a value that
 * repeats costs its bytes once.
 */
#ifndef PGSHIFT_UTIL_STRPOOL_H
#define PGSHIFT_UTIL_STRPOOL_H

#include <stddef.h>

struct strpool_block;

struct strpool {
	struct strpool_block *blocks;   /* owned; the newest first */
	char **slots;                   /* owned; open addressing over interned strings */
	size_t nslots, used;
};

void strpool_init(struct strpool *p);
/* A copy of s that lives until strpool_free. */
char *strpool_copy(struct strpool *p, const char *s);
/* Like strpool_copy, but an equal string interned before is returned instead. */
char *strpool_intern(struct strpool *p, const char *s);
void strpool_free(struct strpool *p);

#endif
