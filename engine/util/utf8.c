/* See utf8.h. */
#include <stdio.h>
#include <string.h>

#include "util/utf8.h"

size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	size_t cut;

	if (len <= max)
		return len;
	cut = max;
	/* s[cut] is the first byte left out: back up while it continues a character */
	while (cut > 0 && ((unsigned char) s[cut] & 0xC0) == 0x80)
		cut--;
	return cut;
}

size_t
utf8_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char) s[i] & 0xC0) != 0x80;
	return n;
}

size_t
utf8_prefix(const char *s, size_t len, size_t n)
{
	size_t i = 0;

	for (size_t seen = 0; i < len; i++) {
		if (((unsigned char) s[i] & 0xC0) != 0x80 && seen++ == n)
			break;
	}
	return i;
}

void
utf8_ellipsize_middle(const char *s, size_t cols, char *out, size_t size)
{
	size_t len = strlen(s), chars = utf8_chars(s, len), head, tail_chars, tail;

	if (chars <= cols || cols < 5) {
		snprintf(out, size, "%.*s", (int) utf8_prefix(s, len, cols), s);
		return;
	}
	head = utf8_prefix(s, len, (cols - 3 + 1) / 2);
	tail_chars = (cols - 3) / 2;
	tail = utf8_prefix(s, len, chars - tail_chars);
	snprintf(out, size, "%.*s...%s", (int) head, s, s + tail);
}
