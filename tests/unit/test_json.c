/*
 * JSON strings for logs, reports and webhook bodies: escapes per RFC 8259,
 * UTF-8 kept byte for byte when well-formed, and any ill-formed byte (a
 * value cut mid-character, LATIN1 text, overlongs, surrogates) replaced by
 * U+FFFD so the document stays valid JSON.
 */
#include <stdio.h>

#include "util/json.h"
#include "util/utf8.h"
#include "tap.h"

static const struct {
	const char *in, *out, *name;
} cases[] = {
	{"plain", "\"plain\"", "ASCII as is"},
	{"a\"b\\c", "\"a\\\"b\\\\c\"", "quote and backslash escaped"},
	{"\n\r\t\x01\x1f", "\"\\n\\r\\t\\u0001\\u001f\"", "control characters escaped"},
	{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x98", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x98\"", "2-, 3- and 4-byte UTF-8 kept"},
	{"caf\xe9", "\"caf\\ufffd\"", "a LATIN1 byte replaced"},
	{"\xe2\x82", "\"\\ufffd\\ufffd\"", "a character cut at the end replaced byte by byte"},
	{"\xe2\x82x", "\"\\ufffd\\ufffdx\"", "a character cut before ASCII"},
	{"\xc0\xaf", "\"\\ufffd\\ufffd\"", "overlong 2-byte form refused"},
	{"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"", "overlong 3-byte form refused"},
	{"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"", "UTF-16 surrogate refused"},
	{"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "above U+10FFFF refused"},
	{"\x80\xbf", "\"\\ufffd\\ufffd\"", "lone continuation bytes"},
	{"\xff", "\"\\ufffd\"", "0xff"},
};

int
main(void)
{
	struct buf b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&b);
		json_put_string(&b, cases[i].in);
		is_str(b.data, cases[i].out, cases[i].name);
		buf_free(&b);
	}
	/* "aé€" is 61 C3 A9 E2 82 AC */
	is_int(utf8_cut("a\xc3\xa9\xe2\x82\xac", 6, 2), 1, "a cut inside é backs up to before it");
	is_int(utf8_cut("a\xc3\xa9\xe2\x82\xac", 6, 3), 3, "a cut after é keeps it");
	is_int(utf8_chars("a\xc3\xa9\xe2\x82\xac", 6), 3, "a, é and € are three characters");
	is_int(utf8_prefix("a\xc3\xa9\xe2\x82\xac", 6, 2), 3, "the first two characters are a and é");
	is_int(utf8_prefix("ab", 2, 5), 2, "a prefix longer than the text is the text");
	{
		char out[64];

		utf8_ellipsize_middle("constraint:public.orders.orders_customer_fkey", 24, out, sizeof(out));
		is_str(out, "constraint:...tomer_fkey", "a long step id keeps its head and tail");
		utf8_ellipsize_middle("copy:public.t", 24, out, sizeof(out));
		is_str(out, "copy:public.t", "a step id that fits is left whole");
		utf8_ellipsize_middle("copy:\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 7, out, sizeof(out));
		is_str(out, "co...\xc3\xa9\xc3\xa9", "characters, not bytes, are counted");
	}
	is_int(utf8_cut("a\xc3\xa9\xe2\x82\xac", 6, 5), 3, "a cut inside the euro sign drops all of it");
	is_int(utf8_cut("abc", 3, 64), 3, "short text is kept whole");
	buf_init(&b);
	json_put_string(&b, NULL);
	is_str(b.data, "null", "NULL is null");
	buf_free(&b);
	return done_testing();
}
