/*
 * Cutting text for messages without splitting a UTF-8 character, so a cut
 * value never turns a log line or a JSON body into invalid UTF-8.
 */
#ifndef PGSHIFT_UTIL_UTF8_H
#define PGSHIFT_UTIL_UTF8_H

#include <stddef.h>

/* The longest prefix of s[0..len) of at most max bytes that ends on a character boundary. */
size_t utf8_cut(const char *s, size_t len, size_t max);

#endif
