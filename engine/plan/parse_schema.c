/*
 * The schema section's one structured value: schema.owners is a word
 * (keep, target_role) or a mapping {map: {SOURCE_ROLE: TARGET_ROLE, ...}}.
 * Role names are PostgreSQL identifiers of any spelling, so they are only
 * checked for what PostgreSQL itself refuses: empty, longer than 63 bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "plan/parse_ctx.h"
#include "util/xalloc.h"

#define ROLE_NAME_MAX 63

static const char *const owner_words[] = {"keep", "target_role"};
static const struct enum_def owner_enum = {owner_words, 2};

static char *
role_name(struct parse_ctx *ctx, yaml_node_t *node, const char *path)
{
	char *s = node_text(ctx, node, path);

	if (!s)
		return NULL;
	if (!*s || strlen(s) > ROLE_NAME_MAX) {
		perr(ctx, node, "%s: \"%s\" is not a role name (1 to %d bytes)", path, s, ROLE_NAME_MAX);
		free(s);
		return NULL;
	}
	return s;
}

static bool
mapped_before(const struct plan *p, const char *src)
{
	for (size_t i = 0; i < p->schema.nmap; i++)
		if (strcmp(p->schema.map[i].source, src) == 0)
			return true;
	return false;
}

static void
parse_map(struct parse_ctx *ctx, yaml_node_t *node, const char *path)
{
	struct plan *p = ctx->plan;
	size_t n;

	if (node->type != YAML_MAPPING_NODE) {
		perr(ctx, node, "%s: expected a mapping of source role: target role, found %s", path,
			 node_kind(node));
		return;
	}
	n = (size_t) (node->data.mapping.pairs.top - node->data.mapping.pairs.start);
	if (n == 0) {
		perr(ctx, node, "%s: the map is empty; use owners: keep to keep the source's owners", path);
		return;
	}
	p->schema.map = xcalloc(n, sizeof(struct role_pair));
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
		 pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(ctx->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(ctx->doc, pair->value);
		char *src = role_name(ctx, k, path), *tgt;

		if (!src)
			continue;
		if (mapped_before(p, src)) {
			perr(ctx, k, "%s: role \"%s\" is mapped twice", path, src);
			free(src);
			continue;
		}
		tgt = role_name(ctx, v, path);
		if (!tgt) {
			free(src);
			continue;
		}
		p->schema.map[p->schema.nmap++] = (struct role_pair) {src, tgt};
	}
}

void
f_owners(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
		 const char *path)
{
	yaml_node_pair_t *pair;
	yaml_node_t *k;
	char *mpath;

	(void) f;
	if (node->type == YAML_SCALAR_NODE) {
		struct field words = {"owners", f_enum, 0, &owner_enum, false};

		f_enum(ctx, &words, node, dst, path);
		return;
	}
	pair = node->type == YAML_MAPPING_NODE ? node->data.mapping.pairs.start : NULL;
	if (!pair || node->data.mapping.pairs.top - pair != 1 ||
		(k = yaml_document_get_node(ctx->doc, pair->key))->type != YAML_SCALAR_NODE ||
		strcmp((const char *) k->data.scalar.value, "map") != 0) {
		perr(ctx, node, "%s: expected keep, target_role or {map: {SOURCE_ROLE: TARGET_ROLE}}",
			 path);
		return;
	}
	*(int *) dst = OWNERS_MAP;
	mpath = xasprintf("%s.map", path);
	parse_map(ctx, yaml_document_get_node(ctx->doc, pair->value), mpath);
	free(mpath);
}

const char *
plan_map_role(const struct plan *plan, const char *src)
{
	for (size_t i = 0; i < plan->schema.nmap; i++)
		if (strcmp(plan->schema.map[i].source, src) == 0)
			return plan->schema.map[i].target;
	return src;
}
