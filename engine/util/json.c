/*
 * JSON string escaping; see json.h. Input bytes are not trusted to be UTF-8
 * (a key value cut by a server message, a LATIN1 source's text): every
 * ill-formed sequence becomes U+FFFD, so logs and webhook bodies are always
 * valid JSON.
 */
#include <stddef.h>

#include "util/json.h"

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), 0 if ill-formed. */
static size_t
utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		lo = c == 0xE0 ? 0xA0 : 0x80;     /* no overlong forms */
		hi = c == 0xED ? 0x9F : 0xBF;     /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		lo = c == 0xF0 ? 0x90 : 0x80;
		hi = c == 0xF4 ? 0x8F : 0xBF;     /* nothing above U+10FFFF */
	} else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

static void
put_escaped(struct buf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	switch (c) {
	case '"': buf_puts(b, "\\\""); break;
	case '\\': buf_puts(b, "\\\\"); break;
	case '\n': buf_puts(b, "\\n"); break;
	case '\r': buf_puts(b, "\\r"); break;
	case '\t': buf_puts(b, "\\t"); break;
	default:
		if (c < 0x20) {
			char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};

			buf_puts(b, esc);
		} else {
			buf_putc(b, (char) c);
		}
	}
}

void
json_put_string(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	if (!s) {
		buf_puts(b, "null");
		return;
	}
	buf_putc(b, '"');
	while (*p) {
		size_t n = utf8_len(p);

		if (n == 0) {
			buf_puts(b, "\\ufffd");
			p++;
		} else if (n == 1) {
			put_escaped(b, *p++);
		} else {
			buf_append(b, p, n);
			p += n;
		}
	}
	buf_putc(b, '"');
}
