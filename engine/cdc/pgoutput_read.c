/*
 * The bounds-checked cursor under the pgoutput decoder. The protocol is in
 * network byte order; values are assembled with explicit shifts so the code
 * is the same on any host and never reads an unaligned word.
 */
#include <string.h>

#include "cdc/pgoutput_int.h"

/* Checks that n bytes are left; the error says what was expected where. */
bool
pgo_need(struct pgo_cursor *c, const char *what, size_t n)
{
	size_t left = c->len - c->pos;

	if (n <= left)
		return true;
	return pgs_fail(c->err, "truncated %s message: expected %zu byte%s of %s at offset %zu, %zu left",
					c->msgname, n, n == 1 ? "" : "s", what, c->pos, left);
}

static uint64_t
take_be(struct pgo_cursor *c, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | c->buf[c->pos + i];
	c->pos += n;
	return v;
}

bool
pgo_read_u8(struct pgo_cursor *c, const char *what, uint8_t *out)
{
	if (!pgo_need(c, what, 1))
		return false;
	*out = (uint8_t) take_be(c, 1);
	return true;
}

bool
pgo_read_u16(struct pgo_cursor *c, const char *what, uint16_t *out)
{
	if (!pgo_need(c, what, 2))
		return false;
	*out = (uint16_t) take_be(c, 2);
	return true;
}

bool
pgo_read_u32(struct pgo_cursor *c, const char *what, uint32_t *out)
{
	if (!pgo_need(c, what, 4))
		return false;
	*out = (uint32_t) take_be(c, 4);
	return true;
}

bool
pgo_read_u64(struct pgo_cursor *c, const char *what, uint64_t *out)
{
	if (!pgo_need(c, what, 8))
		return false;
	*out = take_be(c, 8);
	return true;
}

bool
pgo_read_i64(struct pgo_cursor *c, const char *what, int64_t *out)
{
	uint64_t u;

	if (!pgo_read_u64(c, what, &u))
		return false;
	/* two's complement on every platform we build for; memcpy avoids the
	 * implementation-defined conversion of a value above INT64_MAX */
	memcpy(out, &u, sizeof(*out));
	return true;
}

bool
pgo_read_i32(struct pgo_cursor *c, const char *what, int32_t *out)
{
	uint32_t u;

	if (!pgo_read_u32(c, what, &u))
		return false;
	memcpy(out, &u, sizeof(*out));      /* as in pgo_read_i64 */
	return true;
}

bool
pgo_read_count16(struct pgo_cursor *c, const char *what, uint16_t *out)
{
	size_t at = c->pos;
	uint16_t u;

	if (!pgo_read_u16(c, what, &u))
		return false;
	/* an int16 on the wire: the top bit means negative */
	if (u & 0x8000)
		return pgs_fail(c->err, "invalid %s message: negative %s %d at offset %zu",
						c->msgname, what, (int) u - 65536, at);
	*out = u;
	return true;
}

bool
pgo_read_len(struct pgo_cursor *c, const char *what, uint32_t *out)
{
	size_t at = c->pos;
	uint32_t u;

	if (!pgo_read_u32(c, what, &u))
		return false;
	/* the server writes these as signed int32: the top bit means negative */
	if (u & UINT32_C(0x80000000))
		return pgs_fail(c->err, "invalid %s message: negative %s %lld at offset %zu",
						c->msgname, what, (long long) u - (1LL << 32), at);
	*out = u;
	return true;
}

bool
pgo_read_bytes(struct pgo_cursor *c, const char *what, size_t n, const uint8_t **out)
{
	if (!pgo_need(c, what, n))
		return false;
	*out = c->buf + c->pos;
	c->pos += n;
	return true;
}

bool
pgo_read_string(struct pgo_cursor *c, const char *what, const char **out)
{
	const uint8_t *start = c->buf + c->pos;
	const uint8_t *nul = memchr(start, '\0', c->len - c->pos);

	if (nul == NULL)
		return pgs_fail(c->err, "truncated %s message: no NUL byte ends the %s that starts at offset %zu",
						c->msgname, what, c->pos);
	*out = (const char *) start;
	c->pos += (size_t) (nul - start) + 1;
	return true;
}

bool
pgo_read_end(struct pgo_cursor *c)
{
	size_t left = c->len - c->pos;

	if (left == 0)
		return true;
	return pgs_fail(c->err, "invalid %s message: %zu unexpected byte%s after the last field at offset %zu",
					c->msgname, left, left == 1 ? "" : "s", c->pos);
}
