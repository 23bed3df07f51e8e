/*
 * Password masking for libpq connection strings. Written by hand rather than
 * with PQconninfoParse because the operator should see the string they wrote,
 * in its own form, only without the secret. Values are delimited the way
 * libpq's own parser delimits them.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/redact.h"
#include "util/xalloc.h"

static const char MASK[] = "***";

static bool
is_uri(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

/* Records the first password seen into *pw (when asked) and masks it. */
static void
put_secret(struct buf *out, const char *secret, size_t len, char **pw)
{
	if (pw && !*pw)
		*pw = xstrndup(secret, len);
	buf_puts(out, MASK);
}

static void
redact_uri_query(struct buf *out, const char *q, char **pw)
{
	while (*q) {
		size_t len = strcspn(q, "&");

		if (len >= 9 && strncasecmp(q, "password=", 9) == 0) {
			buf_puts(out, "password=");
			put_secret(out, q + 9, len - 9, pw);
		} else {
			buf_append(out, q, len);
		}
		q += len;
		if (*q == '&')
			buf_putc(out, *q++);
	}
}

static void
redact_uri(const char *uri, struct buf *out, char **pw)
{
	const char *auth = strstr(uri, "://") + 3;
	size_t auth_len = strcspn(auth, "/?");
	const char *at = NULL;
	const char *query;

	for (const char *p = auth; p < auth + auth_len; p++)
		if (*p == '@')
			at = p;
	buf_append(out, uri, (size_t) (auth - uri));
	if (at) {
		const char *colon = memchr(auth, ':', (size_t) (at - auth));

		if (colon) {
			buf_append(out, auth, (size_t) (colon - auth) + 1);
			put_secret(out, colon + 1, (size_t) (at - colon - 1), pw);
		} else {
			buf_append(out, auth, (size_t) (at - auth));
		}
		auth = at;
	}
	query = strchr(auth, '?');
	if (!query) {
		buf_puts(out, auth);
		return;
	}
	buf_append(out, auth, (size_t) (query - auth) + 1);
	redact_uri_query(out, query + 1, pw);
}

/* End of one key=value value (single-quoted or bare) starting at p. */
static const char *
conninfo_value_end(const char *p)
{
	if (*p == '\'') {
		for (p++; *p && *p != '\''; p++)
			if (*p == '\\' && p[1])
				p++;
		return *p ? p + 1 : p;
	}
	while (*p && !isspace((unsigned char) *p))
		p++;
	return p;
}

static void
redact_keyvalue(const char *s, struct buf *out, char **pw)
{
	const char *p = s;

	while (*p) {
		const char *key, *eq, *val, *end;

		while (isspace((unsigned char) *p))
			buf_putc(out, *p++);
		key = p;
		while (*p && *p != '=' && !isspace((unsigned char) *p))
			p++;
		eq = p;
		while (isspace((unsigned char) *p))
			p++;
		if (*p != '=') {
			buf_append(out, key, (size_t) (p - key));
			continue;
		}
		p++;
		while (isspace((unsigned char) *p))
			p++;
		val = p;
		end = conninfo_value_end(val);
		buf_append(out, key, (size_t) (val - key));
		if ((size_t) (eq - key) == 8 && strncmp(key, "password", 8) == 0)
			put_secret(out, val, (size_t) (end - val), pw);
		else
			buf_append(out, val, (size_t) (end - val));
		p = end;
	}
}

static void
redact_into(const char *conninfo, struct buf *out, char **pw)
{
	if (is_uri(conninfo))
		redact_uri(conninfo, out, pw);
	else
		redact_keyvalue(conninfo, out, pw);
}

char *
redact_conninfo(const char *conninfo)
{
	struct buf out;

	buf_init(&out);
	if (conninfo)
		redact_into(conninfo, &out, NULL);
	return buf_steal(&out);
}

char *
conninfo_password(const char *conninfo)
{
	struct buf out;
	char *pw = NULL;

	if (!conninfo)
		return NULL;
	buf_init(&out);
	redact_into(conninfo, &out, &pw);
	buf_free(&out);
	return pw;
}
