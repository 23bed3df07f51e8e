/* JSON string escaping; see json.h. */
#include "util/json.h"

void
json_put_string(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (!s) {
		buf_puts(b, "null");
		return;
	}
	buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
		switch (*p) {
		case '"': buf_puts(b, "\\\""); break;
		case '\\': buf_puts(b, "\\\\"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\r': buf_puts(b, "\\r"); break;
		case '\t': buf_puts(b, "\\t"); break;
		default:
			if (*p < 0x20) {
				char esc[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], 0};
				buf_puts(b, esc);
			} else {
				buf_putc(b, (char) *p);
			}
		}
	}
	buf_putc(b, '"');
}
