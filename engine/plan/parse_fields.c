/*
 * The generic half of the plan parser: walking mappings against a table of
 * known keys, and one parser per value type (string, int, size, enum, ...).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "plan/expand.h"
#include "plan/parse_ctx.h"
#include "plan/suggest.h"
#include "util/buf.h"
#include "util/glob.h"
#include "util/redact.h"
#include "util/units.h"
#include "util/xalloc.h"

static void
vreport(struct parse_ctx *ctx, enum diag_severity sev, yaml_node_t *node,
		const char *fmt, va_list ap)
{
	struct buf msg;

	buf_init(&msg);
	buf_vprintf(&msg, fmt, ap);
	diag_add(ctx->dl, sev, node ? NODE_LINE(node) : 0, node ? NODE_COL(node) : 0,
			 "%s", msg.data);
	buf_free(&msg);
}

void
perr(struct parse_ctx *ctx, yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ctx, DIAG_ERROR, node, fmt, ap);
	va_end(ap);
}

void
pwarn(struct parse_ctx *ctx, yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ctx, DIAG_WARNING, node, fmt, ap);
	va_end(ap);
}

bool
node_is_null(yaml_node_t *node)
{
	const char *v;

	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *) node->data.scalar.value;
	return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0;
}

const char *
node_kind(yaml_node_t *node)
{
	switch (node->type) {
	case YAML_MAPPING_NODE: return "a mapping";
	case YAML_SEQUENCE_NODE: return "a list";
	default: return "a scalar";
	}
}

char *
node_text(struct parse_ctx *ctx, yaml_node_t *node, const char *path)
{
	char *out, *err;

	if (node->type != YAML_SCALAR_NODE) {
		perr(ctx, node, "%s: expected a single value, found %s", path, node_kind(node));
		return NULL;
	}
	if (!expand_env((const char *) node->data.scalar.value, &out, &err)) {
		perr(ctx, node, "%s: %s", path, err);
		free(err);
		return NULL;
	}
	return out;
}

static char *
join_path(const char *path, const char *key)
{
	return *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
}

static const struct field *
find_field(const struct section *sec, const char *key)
{
	for (size_t i = 0; i < sec->n; i++)
		if (strcmp(sec->fields[i].key, key) == 0)
			return &sec->fields[i];
	return NULL;
}

static void
report_unknown_key(struct parse_ctx *ctx, yaml_node_t *knode, const struct section *sec,
				   const char *key, const char *path)
{
	const char *names[64];
	size_t n = sec->n < 64 ? sec->n : 64;
	const char *hint;

	for (size_t i = 0; i < n; i++)
		names[i] = sec->fields[i].key;
	hint = suggest_word(key, names, n);
	if (hint)
		perr(ctx, knode, "unknown key \"%s\" in %s; did you mean \"%s\"?", key,
			 *path ? path : "the plan", hint);
	else
		perr(ctx, knode, "unknown key \"%s\" in %s", key, *path ? path : "the plan");
}

void
parse_mapping(struct parse_ctx *ctx, yaml_node_t *node, const struct section *sec,
			  void *base, const char *path)
{
	bool seen[64] = {false};

	if (node->type != YAML_MAPPING_NODE) {
		perr(ctx, node, "%s: expected a mapping of keys, found %s", *path ? path : "plan",
			 node_kind(node));
		return;
	}
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
		 pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *knode = yaml_document_get_node(ctx->doc, pair->key);
		yaml_node_t *vnode = yaml_document_get_node(ctx->doc, pair->value);
		const struct field *f;
		const char *key;
		char *fpath;

		if (knode->type != YAML_SCALAR_NODE) {
			perr(ctx, knode, "%s: keys must be plain words, found %s", *path ? path : "plan",
				 node_kind(knode));
			continue;
		}
		key = (const char *) knode->data.scalar.value;
		f = find_field(sec, key);
		if (!f) {
			report_unknown_key(ctx, knode, sec, key, path);
			continue;
		}
		fpath = join_path(path, key);
		if (seen[f - sec->fields]) {
			perr(ctx, knode, "duplicate key \"%s\"", fpath);
		} else {
			seen[f - sec->fields] = true;
			/* a required section left empty ("source:") is as missing as its keys */
			if (!node_is_null(vnode))
				f->parse(ctx, f, vnode, (char *) base + f->offset, fpath);
			else if (f->required)
				perr(ctx, vnode, "%s: a value is required", fpath);
		}
		free(fpath);
	}
	for (size_t i = 0; i < sec->n; i++) {
		if (sec->fields[i].required && !seen[i])
			perr(ctx, node, "missing required key \"%s\" in %s", sec->fields[i].key,
				 *path ? path : "the plan");
	}
}

void
f_section(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
		  const char *path)
{
	if (node_is_null(node))
		return;
	parse_mapping(ctx, node, f->arg, dst, path);
}

static void
set_string(char **dst, char *value)
{
	free(*dst);
	*dst = value;
}

void
f_string(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
		 const char *path)
{
	char *s = node_text(ctx, node, path);

	(void) f;
	if (s)
		set_string(dst, s);
}

/* Names that become parts of slot, publication and lock names. */
void
f_ident(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
		const char *path)
{
	char *s = node_text(ctx, node, path);
	size_t maxlen = f->arg ? (size_t) ((const struct int_range *) f->arg)->max : 63;

	if (!s)
		return;
	if (!*s || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(s))
		perr(ctx, node, "%s: \"%s\" is not a valid name; use lowercase letters, digits and _ only",
			 path, s);
	else if (strlen(s) > maxlen)
		perr(ctx, node, "%s: \"%s\" is longer than %zu characters", path, s, maxlen);
	set_string(dst, s);
}

/*
 * Replaces every ${VAR} with \x01 so a literal password can be told apart.
 * ${VAR:-default} becomes its default: that text is written in the plan, so
 * a password there is as literal as one outside a reference.
 */
static char *
mask_references(const char *raw)
{
	struct buf b;

	buf_init(&b);
	for (const char *p = raw; *p; p++) {
		const char *close, *dflt;

		if (p[0] == '$' && p[1] == '{' && (close = strchr(p, '}'))) {
			dflt = strstr(p, ":-");
			if (dflt && dflt < close)
				buf_append(&b, dflt + 2, (size_t) (close - dflt - 2));
			else
				buf_putc(&b, '\x01');
			p = close;
		} else {
			buf_putc(&b, *p);
		}
	}
	return buf_steal(&b);
}

static bool
has_literal_secret(const char *raw)
{
	char *masked = mask_references(raw);
	char *pw = conninfo_password(masked);
	/* password='${PW}' quotes a reference (for spaces in it); the quotes hold no secret */
	bool literal = pw && pw[strspn(pw, "\x01'")] != '\0';

	free(pw);
	free(masked);
	return literal;
}

void
f_uri(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
	  const char *path)
{
	char *s = node_text(ctx, node, path);

	(void) f;
	if (!s)
		return;
	if (!*s)
		perr(ctx, node, "%s: the connection string is empty", path);
	if (has_literal_secret((const char *) node->data.scalar.value))
		pwarn(ctx, node, "%s holds a literal password; take it from the environment "
			  "(${VAR}), a ~/.pgpass file or PGPASSWORD instead", path);
	set_string(dst, s);
}

void
f_path(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
	   const char *path)
{
	char *s = node_text(ctx, node, path);

	(void) f;
	if (!s)
		return;
	if (!*s) {
		perr(ctx, node, "%s: the path is empty", path);
		free(s);
		return;
	}
	set_string(dst, plan_resolve_path(ctx->plan, s));
	free(s);
}

static bool
int_in_range(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node,
			 const char *path, int64_t *out)
{
	const struct int_range *r = f->arg;
	char *s = node_text(ctx, node, path);
	bool ok;

	if (!s)
		return false;
	ok = parse_int(s, r->min, r->max, out);
	if (!ok)
		perr(ctx, node, "%s: expected a whole number from %lld to %lld, found \"%s\"", path,
			 (long long) r->min, (long long) r->max, s);
	free(s);
	return ok;
}

void
f_int(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
	  const char *path)
{
	int64_t v;

	if (int_in_range(ctx, f, node, path, &v))
		*(int *) dst = (int) v;
}

void
f_int64(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
		const char *path)
{
	int64_t v;

	if (int_in_range(ctx, f, node, path, &v))
		*(int64_t *) dst = v;
}

void
f_bool(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
	   const char *path)
{
	char *s = node_text(ctx, node, path);

	(void) f;
	if (!s)
		return;
	if (strcmp(s, "true") == 0)
		*(bool *) dst = true;
	else if (strcmp(s, "false") == 0)
		*(bool *) dst = false;
	else
		perr(ctx, node, "%s: expected true or false, found \"%s\"", path, s);
	free(s);
}

void
f_size(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
	   const char *path)
{
	char *s = node_text(ctx, node, path);
	const char *why;

	(void) f;
	if (!s)
		return;
	if (!parse_size(s, dst, &why))
		perr(ctx, node, "%s: invalid size \"%s\": %s", path, s, why);
	free(s);
}

void
f_duration(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
		   const char *path)
{
	char *s = node_text(ctx, node, path);
	const char *why;

	(void) f;
	if (!s)
		return;
	if (!parse_duration(s, dst, &why))
		perr(ctx, node, "%s: invalid duration \"%s\": %s", path, s, why);
	else if (*(int64_t *) dst == 0)
		/* a zero lag, catch-up or hook timeout can never be met: always a typo */
		perr(ctx, node, "%s: the duration must be greater than zero", path);
	free(s);
}

void
f_enum(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
	   const char *path)
{
	const struct enum_def *e = f->arg;
	char *s = node_text(ctx, node, path);
	struct buf choices;
	const char *hint;

	if (!s)
		return;
	for (size_t i = 0; i < e->n; i++) {
		if (strcmp(s, e->names[i]) == 0) {
			*(int *) dst = (int) i;
			free(s);
			return;
		}
	}
	buf_init(&choices);
	for (size_t i = 0; i < e->n; i++)
		buf_printf(&choices, "%s%s", i == 0 ? "" : i + 1 == e->n ? " or " : ", ", e->names[i]);
	hint = suggest_word(s, e->names, e->n);
	if (hint)
		perr(ctx, node, "%s: unknown value \"%s\"; did you mean \"%s\"? (expected %s)", path, s,
			 hint, choices.data);
	else
		perr(ctx, node, "%s: unknown value \"%s\" (expected %s)", path, s, choices.data);
	buf_free(&choices);
	free(s);
}

void
parse_list(struct parse_ctx *ctx, yaml_node_t *node, struct strlist *dst, const char *path,
		   bool (*check)(struct parse_ctx *, yaml_node_t *, const char *, const char *))
{
	size_t n = 0;

	if (node->type != YAML_SEQUENCE_NODE) {
		perr(ctx, node, "%s: expected a list such as [a, b], found %s", path, node_kind(node));
		return;
	}
	strlist_free(dst);
	dst->items = xcalloc((size_t) (node->data.sequence.items.top - node->data.sequence.items.start),
						 sizeof(char *));
	for (yaml_node_item_t *it = node->data.sequence.items.start;
		 it < node->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(ctx->doc, *it);
		char *s = node_text(ctx, item, path);

		if (!s)
			continue;
		if (check && !check(ctx, item, path, s)) {
			free(s);
			continue;
		}
		dst->items[n++] = s;
	}
	dst->n = n;
}

void
f_strlist(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
		  const char *path)
{
	(void) f;
	parse_list(ctx, node, dst, path, NULL);
}

static bool
check_glob(struct parse_ctx *ctx, yaml_node_t *item, const char *path, const char *s,
		   bool qualified)
{
	const char *why;

	if (glob_check(s, qualified, &why))
		return true;
	perr(ctx, item, "%s: bad pattern \"%s\": %s", path, s, why);
	return false;
}

static bool
check_schema_glob(struct parse_ctx *ctx, yaml_node_t *item, const char *path, const char *s)
{
	return check_glob(ctx, item, path, s, false);
}

static bool
check_table_glob(struct parse_ctx *ctx, yaml_node_t *item, const char *path, const char *s)
{
	return check_glob(ctx, item, path, s, true);
}

void
f_schema_globs(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
			   const char *path)
{
	(void) f;
	parse_list(ctx, node, dst, path, check_schema_glob);
}

void
f_table_globs(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
			  const char *path)
{
	(void) f;
	parse_list(ctx, node, dst, path, check_table_glob);
}
