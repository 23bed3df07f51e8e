/*
 * Allocation that cannot return NULL: out of memory is not an error a
 * migration step can handle, so these print a message and abort.
 */
#ifndef PGSHIFT_UTIL_XALLOC_H
#define PGSHIFT_UTIL_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Gives the pages of freed heap memory back to the system, before a phase
 * that needs much more memory than the one before (see xalloc.c).
 */
void xtrim(void);

#endif
