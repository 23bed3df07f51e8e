/* Filling and annotating pgs_error; see error.h for the contract. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"

void
pgs_error_clear(struct pgs_error *err)
{
	memset(err, 0, sizeof(*err));
}

bool
pgs_fail(struct pgs_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->values_from = 0;
	return false;
}

void
pgs_error_hint(struct pgs_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

void
pgs_error_detail(struct pgs_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
}

void
pgs_error_prefix(struct pgs_error *err, const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	size_t n;

	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (err->values_from)
		err->values_from += b.len + 2;
	buf_printf(&b, ": %s", err->message);
	/* a long context cuts the end of the message, never overflows it */
	n = b.len < sizeof(err->message) - 1 ? b.len : sizeof(err->message) - 1;
	memcpy(err->message, b.data, n);
	err->message[n] = '\0';
	buf_free(&b);
}

void
pgs_error_public(const char *message, size_t values_from, char *out, size_t size)
{
	size_t n = 0;
	bool quoted = false;

	if (size == 0)
		return;
	for (size_t i = 0; message[i] && n + 4 < size; i++) {
		bool mask = values_from && i >= values_from;

		if (mask && message[i] == '"') {
			if (!quoted) {
				memcpy(out + n, "\"...", 4);
				n += 4;
			} else {
				out[n++] = '"';
			}
			quoted = !quoted;
		} else if (!(mask && quoted)) {
			out[n++] = message[i];
		}
	}
	out[n] = '\0';
}

static bool
word_char(char c)
{
	return isalnum((unsigned char) c) || c == '_';
}

/* "source" and "target" have the same length: swapped in place. */
static void
swap_sides(char *s)
{
	bool quoted = false;

	for (char *p = s; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		if (quoted || *p == '"' || (p != s && word_char(p[-1])))
			continue;
		/* a match guarantees p[6] exists (at worst the terminator) */
		if (strncmp(p, "source", 6) == 0 && !word_char(p[6])) {
			memcpy(p, "target", 6);
			p += 5;
		} else if (strncmp(p, "target", 6) == 0 && !word_char(p[6])) {
			memcpy(p, "source", 6);
			p += 5;
		}
	}
}

void
pgs_error_swap_sides(struct pgs_error *err)
{
	swap_sides(err->message);
	swap_sides(err->detail);
	swap_sides(err->hint);
}
