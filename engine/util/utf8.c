/* See utf8.h. */
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
