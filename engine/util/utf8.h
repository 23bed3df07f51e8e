/*
 * Cutting text for messages and terminal lines without splitting a UTF-8 character, so a cut
 * value never turns a log line or a JSON body into invalid UTF-8.
 */
#ifndef PGSHIFT_UTIL_UTF8_H
#define PGSHIFT_UTIL_UTF8_H

#include <stddef.h>

/* The longest prefix of s[0..len) of at most max bytes that ends on a character boundary. */
size_t utf8_cut(const char *s, size_t len, size_t max);

/* Characters in s[0..len) (bytes that start one). */
size_t utf8_chars(const char *s, size_t len);
/* Bytes of the first n characters of s[0..len) (all of it when it has fewer). */
size_t utf8_prefix(const char *s, size_t len, size_t n);

/*
 * s fitted into at most cols characters for a terminal line: s itself when
 * it fits, else its head and tail around "..." (the middle of a step id is
 * what two steps of one table share least). out holds at least 4 * cols + 1.
 */
void utf8_ellipsize_middle(const char *s, size_t cols, char *out, size_t size);

#endif
