/*
 * The plan's lists of records: cutover steps (one-key mappings such as
 * "- wait_for_catchup: { timeout: 5m }"), Lua hooks and notification targets.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events/event_names.h"
#include "plan/parse_ctx.h"
#include "plan/suggest.h"
#include "util/glob.h"
#include "util/webhook_secret.h"
#include "util/webhook_url.h"
#include "util/xalloc.h"

static const char *const cutover_kinds[] = {
	"lua", "fence_writes", "wait_for_catchup", "sync_sequences", "verify",
};
#define N_CUTOVER_KINDS (sizeof(cutover_kinds) / sizeof(cutover_kinds[0]))

static const char *const verify_levels[] = {"schema", "count", "checksum"};
static const struct enum_def verify_level_enum = {verify_levels, 3};
static const struct int_range margin_range = {0, INT64_C(1000000000000)};

static const struct field fence_fields[] = {
	{"roles", f_strlist, offsetof(struct cutover_step, roles), NULL, false},
};
static const struct field catchup_fields[] = {
	{"timeout", f_duration, offsetof(struct cutover_step, timeout_ms), NULL, false},
};
static const struct field sequences_fields[] = {
	{"margin", f_int64, offsetof(struct cutover_step, margin), &margin_range, false},
};
static const struct field verify_fields[] = {
	{"level", f_enum, offsetof(struct cutover_step, level), &verify_level_enum, false},
};
static const struct section cutover_sections[] = {
	[CUTOVER_LUA] = {NULL, 0},
	[CUTOVER_FENCE_WRITES] = {fence_fields, 1},
	[CUTOVER_WAIT_FOR_CATCHUP] = {catchup_fields, 1},
	[CUTOVER_SYNC_SEQUENCES] = {sequences_fields, 1},
	[CUTOVER_VERIFY] = {verify_fields, 1},
};

const char *
cutover_kind_name(enum cutover_kind kind)
{
	return cutover_kinds[kind];
}

const char *
verify_level_name(enum verify_level level)
{
	return verify_levels[level];
}

static void
cutover_step_defaults(struct cutover_step *st)
{
	st->timeout_ms = 5 * 60 * 1000;
	st->margin = 0;
	st->level = VERIFY_COUNT;
}

static void
check_hook_file(struct parse_ctx *ctx, yaml_node_t *node, const char *path, const char *file)
{
	if (file && access(file, R_OK) != 0)
		perr(ctx, node, "%s: hook file \"%s\" does not exist or cannot be read", path, file);
}

static bool
lookup_cutover_kind(struct parse_ctx *ctx, yaml_node_t *knode, const char *path,
					enum cutover_kind *kind)
{
	const char *key = (const char *) knode->data.scalar.value;
	const char *hint;

	for (size_t k = 0; k < N_CUTOVER_KINDS; k++) {
		if (strcmp(key, cutover_kinds[k]) == 0) {
			*kind = (enum cutover_kind) k;
			return true;
		}
	}
	hint = suggest_word(key, cutover_kinds, N_CUTOVER_KINDS);
	if (hint)
		perr(ctx, knode, "%s: unknown cutover step \"%s\"; did you mean \"%s\"?", path, key, hint);
	else
		perr(ctx, knode, "%s: unknown cutover step \"%s\" (expected lua, fence_writes, "
			 "wait_for_catchup, sync_sequences or verify)", path, key);
	return false;
}

static bool
parse_cutover_step(struct parse_ctx *ctx, yaml_node_t *item, struct cutover_step *st,
				   const char *path)
{
	yaml_node_pair_t *pair;
	yaml_node_t *knode, *vnode;

	if (item->type != YAML_MAPPING_NODE ||
		item->data.mapping.pairs.top - item->data.mapping.pairs.start != 1) {
		perr(ctx, item, "%s: each cutover step is a mapping with one key, "
			 "e.g. \"- wait_for_catchup: { timeout: 5m }\"", path);
		return false;
	}
	pair = item->data.mapping.pairs.start;
	knode = yaml_document_get_node(ctx->doc, pair->key);
	vnode = yaml_document_get_node(ctx->doc, pair->value);
	if (knode->type != YAML_SCALAR_NODE || !lookup_cutover_kind(ctx, knode, path, &st->kind))
		return false;
	cutover_step_defaults(st);
	st->line = NODE_LINE(item);
	if (st->kind == CUTOVER_LUA) {
		char *file = NULL;
		static const struct field lua_field = {"lua", f_path, 0, NULL, true};

		if (node_is_null(vnode)) {
			perr(ctx, vnode, "%s: lua needs the path of a hook file", path);
			return false;
		}
		f_path(ctx, &lua_field, vnode, &file, path);
		check_hook_file(ctx, vnode, path, file);
		st->lua_file = file;
		return file != NULL;
	}
	if (!node_is_null(vnode))
		parse_mapping(ctx, vnode, &cutover_sections[st->kind], st, path);
	return true;
}

void
f_cutover_steps(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
				const char *path)
{
	struct cutover_step **steps = dst;
	size_t *nsteps = &ctx->plan->cutover.nsteps;
	size_t count;

	(void) f;
	if (node->type != YAML_SEQUENCE_NODE) {
		perr(ctx, node, "%s: expected a list of steps, found %s", path, node_kind(node));
		return;
	}
	count = (size_t) (node->data.sequence.items.top - node->data.sequence.items.start);
	*steps = xcalloc(count, sizeof(struct cutover_step));
	*nsteps = 0;
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *item = yaml_document_get_node(ctx->doc, node->data.sequence.items.start[i]);
		char *ipath = xasprintf("%s[%zu]", path, i + 1);

		if (parse_cutover_step(ctx, item, &(*steps)[*nsteps], ipath)) {
			/* steps that failed to parse are dropped; later checks still name the place */
			(*steps)[*nsteps].pos = i + 1;
			(*nsteps)++;
		}
		free(ipath);
	}
}

static bool
check_event_glob(struct parse_ctx *ctx, yaml_node_t *item, const char *path, const char *s)
{
	const char *why;

	if (!glob_check(s, false, &why)) {
		perr(ctx, item, "%s: bad pattern \"%s\": %s", path, s, why);
		return false;
	}
	if (!event_glob_matches_any(s)) {
		const char *hint = suggest_word(s, event_names, event_names_count);

		if (hint)
			pwarn(ctx, item, "%s: pattern \"%s\" matches no event; did you mean \"%s\"?",
				  path, s, hint);
		else
			pwarn(ctx, item, "%s: pattern \"%s\" matches no event", path, s);
	}
	return true;
}

void
f_event_globs(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
			  const char *path)
{
	(void) f;
	parse_list(ctx, node, dst, path, check_event_glob);
}

/*
 * A list of records (mappings): allocates the array, and calls each() on
 * every item with its element and its path ("notify[2]"). *n counts them.
 */
static void *
parse_records(struct parse_ctx *ctx, yaml_node_t *node, const char *path, const char *shape,
			  size_t elem_size, size_t *n,
			  void (*each)(struct parse_ctx *, yaml_node_t *, void *, const char *))
{
	size_t count;
	char *items;

	if (node->type != YAML_SEQUENCE_NODE) {
		perr(ctx, node, "%s: expected a list of %s entries, found %s", path, shape,
			 node_kind(node));
		return NULL;
	}
	count = (size_t) (node->data.sequence.items.top - node->data.sequence.items.start);
	items = xcalloc(count, elem_size);
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *item = yaml_document_get_node(ctx->doc, node->data.sequence.items.start[i]);
		char *ipath = xasprintf("%s[%zu]", path, i + 1);

		each(ctx, item, items + (*n) * elem_size, ipath);
		(*n)++;
		free(ipath);
	}
	return items;
}

static void
default_on(struct strlist *on)
{
	if (on->n == 0 && !on->items) {
		on->items = xcalloc(1, sizeof(char *));
		on->items[0] = xstrdup("*");
		on->n = 1;
	}
}

static const struct field hook_fields[] = {
	{"file", f_path, offsetof(struct lua_hook, file), NULL, true},
	{"on", f_event_globs, offsetof(struct lua_hook, on), NULL, false},
};
static const struct section hook_section = {hook_fields, 2};

static void
parse_hook(struct parse_ctx *ctx, yaml_node_t *item, void *elem, const char *path)
{
	struct lua_hook *h = elem;

	parse_mapping(ctx, item, &hook_section, h, path);
	check_hook_file(ctx, item, path, h->file);
	default_on(&h->on);
}

void
f_lua_hooks(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
			const char *path)
{
	(void) f;
	*(struct lua_hook **) dst = parse_records(ctx, node, path, "{file, on}",
											  sizeof(struct lua_hook), &ctx->plan->hooks.nlua,
											  parse_hook);
}

static const char *const notify_kinds[] = {"slack", "webhook"};
#define N_NOTIFY_KINDS (sizeof(notify_kinds) / sizeof(notify_kinds[0]))
static const struct enum_def notify_kind_enum = {notify_kinds, N_NOTIFY_KINDS};

static const struct field notify_fields[] = {
	{"kind", f_enum, offsetof(struct notify_target, kind), &notify_kind_enum, true},
	{"url", f_string, offsetof(struct notify_target, url), NULL, true},
	{"secret", f_string, offsetof(struct notify_target, secret), NULL, false},
	{"on", f_event_globs, offsetof(struct notify_target, on), NULL, false},
	{"include_values", f_bool, offsetof(struct notify_target, include_values), NULL, false},
};
static const struct section notify_section = {notify_fields, 5};

static yaml_node_t *
mapping_value(struct parse_ctx *ctx, yaml_node_t *map, const char *key)
{
	if (map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(ctx->doc, p->key);

		if (k->type == YAML_SCALAR_NODE && strcmp((const char *) k->data.scalar.value, key) == 0)
			return yaml_document_get_node(ctx->doc, p->value);
	}
	return NULL;
}

static void
check_notify_target(struct parse_ctx *ctx, yaml_node_t *item, struct notify_target *t,
					const char *path)
{
	yaml_node_t *url = mapping_value(ctx, item, "url");
	yaml_node_t *secret = mapping_value(ctx, item, "secret");

	const char *why;

	/* curl's own parser: what validate accepts, the notifier can send to */
	if (t->url && !webhook_url_check(t->url, &why))
		perr(ctx, url, "%s.url: %s", path, why);
	if (t->secret && t->kind == NOTIFY_WEBHOOK && !webhook_secret_check(t->secret, &why))
		perr(ctx, secret, "%s.secret: %s", path, why);
	if (secret && t->kind == NOTIFY_SLACK)
		perr(ctx, secret, "%s.secret: slack webhooks are not signed; secret is for kind webhook",
			 path);
	if (secret && secret->type == YAML_SCALAR_NODE &&
		!strstr((const char *) secret->data.scalar.value, "${"))
		pwarn(ctx, secret, "%s.secret is written in the plan; take it from the environment "
			  "(${VAR}) instead", path);
}

static void
parse_notify_target(struct parse_ctx *ctx, yaml_node_t *item, void *elem, const char *path)
{
	struct notify_target *t = elem;

	/*
	 * No kind until one parses: a missing or misspelt kind ("webhok") must
	 * not be taken for slack and draw a second, misleading error.
	 */
	t->kind = (enum notify_kind) N_NOTIFY_KINDS;
	parse_mapping(ctx, item, &notify_section, t, path);
	check_notify_target(ctx, item, t, path);
	default_on(&t->on);
}

void
f_notify(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
		 const char *path)
{
	(void) f;
	*(struct notify_target **) dst = parse_records(ctx, node, path, "{kind, url, on}",
												   sizeof(struct notify_target),
												   &ctx->plan->nnotify, parse_notify_target);
}
