/*
 * A growable, always NUL-terminated byte buffer with an optional maximum
 * size. Allocation failure aborts through xalloc: pgshift cannot continue a
 * migration without memory, and checking every append would hide the logic.
 */
#ifndef PGSHIFT_UTIL_BUF_H
#define PGSHIFT_UTIL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;     /* owned; NUL-terminated */
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Hands the string to the caller (who frees it) and leaves b empty. */
char *buf_steal(struct buf *b);

#endif
