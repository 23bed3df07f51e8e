/*
 * A small JSON reader for the one object shape of ddl_message.h: strings
 * (with every escape, \u surrogate pairs to UTF-8), numbers, true, false,
 * null, arrays and objects; unknown keys are read and ignored, so the
 * capture function may send more than this version reads. Depth is bounded:
 * the content comes from the source database, not from pgshift.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cdc/ddl_message.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define MAX_DEPTH 32

struct jr {
	const uint8_t *p;
	size_t len, pos;
	struct pgs_error *err;
};

static bool
bad(struct jr *r, const char *what)
{
	return pgs_fail(r->err, "invalid pgshift.ddl message: %s at offset %zu", what, r->pos);
}

static void
blanks(struct jr *r)
{
	while (r->pos < r->len && strchr(" \t\r\n", r->p[r->pos]) && r->p[r->pos])
		r->pos++;
}

static bool
eat(struct jr *r, char c)
{
	blanks(r);
	if (r->pos < r->len && r->p[r->pos] == (uint8_t) c) {
		r->pos++;
		return true;
	}
	return false;
}

static bool
hex4(struct jr *r, unsigned *out)
{
	*out = 0;
	if (r->len - r->pos < 4)
		return bad(r, "a short \\u escape");
	for (int i = 0; i < 4; i++) {
		int c = r->p[r->pos++];

		if (!isxdigit(c))
			return bad(r, "a bad \\u escape");
		*out = *out * 16 + (unsigned) (isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
	}
	return true;
}

static void
put_utf8(struct buf *b, unsigned cp)
{
	if (cp < 0x80) {
		buf_putc(b, (char) cp);
	} else if (cp < 0x800) {
		buf_putc(b, (char) (0xC0 | cp >> 6));
		buf_putc(b, (char) (0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		buf_putc(b, (char) (0xE0 | cp >> 12));
		buf_putc(b, (char) (0x80 | ((cp >> 6) & 0x3F)));
		buf_putc(b, (char) (0x80 | (cp & 0x3F)));
	} else {
		buf_putc(b, (char) (0xF0 | cp >> 18));
		buf_putc(b, (char) (0x80 | ((cp >> 12) & 0x3F)));
		buf_putc(b, (char) (0x80 | ((cp >> 6) & 0x3F)));
		buf_putc(b, (char) (0x80 | (cp & 0x3F)));
	}
}

static bool
unicode_escape(struct jr *r, struct buf *b)
{
	unsigned cp, lo;

	if (!hex4(r, &cp))
		return false;
	if (cp >= 0xD800 && cp < 0xDC00) {
		if (r->len - r->pos < 2 || r->p[r->pos] != '\\' || r->p[r->pos + 1] != 'u')
			return bad(r, "a lone high surrogate");
		r->pos += 2;
		if (!hex4(r, &lo))
			return false;
		if (lo < 0xDC00 || lo > 0xDFFF)
			return bad(r, "a bad low surrogate");
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
		return bad(r, "a lone low surrogate");
	}
	if (cp == 0)
		return bad(r, "a NUL character");
	put_utf8(b, cp);
	return true;
}

static bool
escape(struct jr *r, struct buf *b)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *k;

	if (r->pos >= r->len)
		return bad(r, "an unterminated string");
	if (r->p[r->pos] == 'u') {
		r->pos++;
		return unicode_escape(r, b);
	}
	k = r->p[r->pos] ? strchr(from, r->p[r->pos]) : NULL;
	if (!k)
		return bad(r, "an unknown escape");
	buf_putc(b, to[k - from]);
	r->pos++;
	return true;
}

/* A string into *out (malloc'd); the cursor is at its opening quote. */
static bool
string(struct jr *r, char **out)
{
	struct buf b;

	*out = NULL;
	if (!eat(r, '"'))
		return bad(r, "expected a string");
	buf_init(&b);
	while (r->pos < r->len && r->p[r->pos] != '"') {
		uint8_t c = r->p[r->pos++];

		if (c < 0x20 || (c == '\\' && !escape(r, &b))) {
			if (c < 0x20)
				bad(r, "a control character in a string");
			buf_free(&b);
			return false;
		}
		if (c != '\\')
			buf_putc(&b, (char) c);
	}
	if (r->pos >= r->len) {
		buf_free(&b);
		return bad(r, "an unterminated string");
	}
	r->pos++;
	*out = buf_steal(&b);
	return true;
}

static bool
word(struct jr *r, const char *w)
{
	size_t n = strlen(w);

	if (r->len - r->pos < n || memcmp(r->p + r->pos, w, n) != 0)
		return false;
	r->pos += n;
	return true;
}

static bool skip_value(struct jr *r, int depth);

static bool
skip_items(struct jr *r, char close, int depth)
{
	if (eat(r, close))
		return true;
	do {
		char *key = NULL;

		if (close == '}' && (!string(r, &key) || !eat(r, ':'))) {
			free(key);
			return key ? bad(r, "expected ':'") : false;
		}
		free(key);
		if (!skip_value(r, depth + 1))
			return false;
	} while (eat(r, ','));
	return eat(r, close) || bad(r, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

static bool
skip_value(struct jr *r, int depth)
{
	char *s;

	if (depth > MAX_DEPTH)
		return bad(r, "nesting too deep");
	blanks(r);
	if (r->pos >= r->len)
		return bad(r, "a missing value");
	switch (r->p[r->pos]) {
		case '"':
			if (!string(r, &s))
				return false;
			free(s);
			return true;
		case '{':
			r->pos++;
			return skip_items(r, '}', depth);
		case '[':
			r->pos++;
			return skip_items(r, ']', depth);
		default:
			if (word(r, "true") || word(r, "false") || word(r, "null"))
				return true;
			if (r->p[r->pos] != '-' && !isdigit(r->p[r->pos]))
				return bad(r, "an unknown value");
			r->pos++;
			while (r->pos < r->len && strchr("0123456789.eE+-", r->p[r->pos]) && r->p[r->pos])
				r->pos++;
			return true;
	}
}

/* A string or null into *out (NULL for null); a second value of the key replaces the first. */
static bool
string_or_null(struct jr *r, char **out)
{
	free(*out);
	*out = NULL;
	blanks(r);
	if (word(r, "null"))
		return true;
	return string(r, out);
}

/* Calls field(r, key, arg) for each key of an object; the cursor is at '{'. */
static bool
object(struct jr *r, bool (*field)(struct jr *, const char *, void *), void *arg)
{
	if (!eat(r, '{'))
		return bad(r, "expected an object");
	if (eat(r, '}'))
		return true;
	do {
		char *key;
		bool ok;

		if (!string(r, &key))
			return false;
		ok = eat(r, ':') ? field(r, key, arg) : bad(r, "expected ':'");
		free(key);
		if (!ok)
			return false;
	} while (eat(r, ','));
	return eat(r, '}') || bad(r, "expected ',' or '}'");
}

static bool
object_field(struct jr *r, const char *key, void *arg)
{
	struct ddl_object *o = arg;

	if (strcmp(key, "type") == 0)
		return string_or_null(r, &o->type);
	if (strcmp(key, "schema") == 0)
		return string_or_null(r, &o->schema);
	if (strcmp(key, "identity") == 0)
		return string_or_null(r, &o->identity);
	if (strcmp(key, "rel_schema") == 0)
		return string_or_null(r, &o->rel_schema);
	if (strcmp(key, "rel_name") == 0)
		return string_or_null(r, &o->rel_name);
	if (strcmp(key, "rel_persistence") == 0)
		return string_or_null(r, &o->rel_persistence);
	return skip_value(r, 2);
}

static bool
objects(struct jr *r, struct ddl_message *m)
{
	if (!eat(r, '['))
		return bad(r, "expected the objects array");
	if (eat(r, ']'))
		return true;
	do {
		m->objects = xrealloc(m->objects, (m->nobjects + 1) * sizeof(*m->objects));
		memset(&m->objects[m->nobjects], 0, sizeof(*m->objects));
		if (!object(r, object_field, &m->objects[m->nobjects++]))
			return false;
	} while (eat(r, ','));
	return eat(r, ']') || bad(r, "expected ',' or ']'");
}

static bool
message_field(struct jr *r, const char *key, void *arg)
{
	struct ddl_message *m = arg;

	if (strcmp(key, "sql") == 0)
		return string_or_null(r, &m->sql);
	if (strcmp(key, "search_path") == 0)
		return string_or_null(r, &m->search_path);
	if (strcmp(key, "timezone") == 0)
		return string_or_null(r, &m->timezone);
	if (strcmp(key, "datestyle") == 0)
		return string_or_null(r, &m->datestyle);
	if (strcmp(key, "intervalstyle") == 0)
		return string_or_null(r, &m->intervalstyle);
	if (strcmp(key, "tag") == 0)
		return string_or_null(r, &m->tag);
	if (strcmp(key, "role") == 0)
		return string_or_null(r, &m->role);
	if (strcmp(key, "error") == 0)
		return string_or_null(r, &m->error);
	if (strcmp(key, "objects") == 0)
		return objects(r, m);
	if (strcmp(key, "stop") == 0) {
		blanks(r);
		m->stop = word(r, "true");
		return m->stop || word(r, "false") || word(r, "null") || bad(r, "expected true or false");
	}
	return skip_value(r, 1);
}

bool
ddl_message_parse(const uint8_t *buf, size_t len, struct ddl_message *m, struct pgs_error *err)
{
	struct jr r = {buf, len, 0, err};
	bool ok;

	memset(m, 0, sizeof(*m));
	ok = object(&r, message_field, m);
	blanks(&r);
	if (ok && r.pos != r.len)
		ok = bad(&r, "bytes after the object");
	if (ok && (!m->sql || !m->tag))
		ok = pgs_fail(err, "invalid pgshift.ddl message: no \"sql\" or no \"tag\"");
	if (!ok)
		ddl_message_free(m);
	return ok;
}

void
ddl_message_free(struct ddl_message *m)
{
	for (size_t i = 0; i < m->nobjects; i++) {
		free(m->objects[i].type);
		free(m->objects[i].schema);
		free(m->objects[i].identity);
		free(m->objects[i].rel_schema);
		free(m->objects[i].rel_name);
		free(m->objects[i].rel_persistence);
	}
	free(m->objects);
	free(m->sql);
	free(m->search_path);
	free(m->timezone);
	free(m->datestyle);
	free(m->intervalstyle);
	free(m->role);
	free(m->tag);
	free(m->error);
	memset(m, 0, sizeof(*m));
}

/* Past blanks, -- line comments and (nested) block comments. */
static const char *
skip_comments(const char *s)
{
	for (;;) {
		while (*s && isspace((unsigned char) *s))
			s++;
		if (s[0] == '-' && s[1] == '-') {
			s += strcspn(s, "\n");
		} else if (s[0] == '/' && s[1] == '*') {
			int depth = 1;

			for (s += 2; *s && depth; s++) {
				if (s[0] == '/' && s[1] == '*')
					depth++, s++;
				else if (s[0] == '*' && s[1] == '/')
					depth--, s++;
			}
		} else {
			return s;
		}
	}
}

bool
ddl_statement_is_top_level(const char *sql, const char *tag)
{
	const char *s = skip_comments(sql);
	size_t n = strcspn(tag, " ");

	return n > 0 && strncasecmp(s, tag, n) == 0 && !isalnum((unsigned char) s[n]) && s[n] != '_';
}

/* Past word w (any case) and the blanks after it; NULL when s does not start with it. */
static const char *
past_word(const char *s, const char *w)
{
	size_t n = strlen(w);

	if (strncasecmp(s, w, n) != 0 || isalnum((unsigned char) s[n]) || s[n] == '_')
		return NULL;
	for (s += n; isspace((unsigned char) *s); s++)
		;
	return s;
}

char *
ddl_without_concurrently(const char *sql, const char *tag)
{
	const char *s = skip_comments(sql), *t, *rest;
	char *out;

	if (strcmp(tag, "CREATE INDEX") == 0 && (s = past_word(s, "CREATE"))) {
		if ((t = past_word(s, "UNIQUE")))
			s = t;
	} else if (strcmp(tag, "DROP INDEX") == 0) {
		s = past_word(s, "DROP");
	} else {
		return NULL;
	}
	if (!s || !(s = past_word(s, "INDEX")) || !(rest = past_word(s, "CONCURRENTLY")))
		return NULL;
	out = xmalloc(strlen(sql) + 1);
	memcpy(out, sql, (size_t) (s - sql));
	strcpy(out + (s - sql), rest);
	return out;
}
