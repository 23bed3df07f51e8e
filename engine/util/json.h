/* Writing JSON text into a buf: strings escaped per RFC 8259. */
#ifndef PGSHIFT_UTIL_JSON_H
#define PGSHIFT_UTIL_JSON_H

#include "util/buf.h"

/* Appends s as a quoted JSON string; NULL becomes null. */
void json_put_string(struct buf *b, const char *s);

#endif
