/*
 * Reading a plan file: YAML into a document (libyaml), the document into a
 * struct plan through the key tables below, then defaults and the checks that
 * span several keys. The tables are the single list of what a plan may say;
 * plans/schema.json mirrors them for editors.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "plan/object_class.h"
#include "plan/parse_ctx.h"
#include "plan/plan.h"
#include "plan/suggest.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define PF(member) offsetof(struct plan, member)

static void
f_version(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
		  const char *path)
{
	char *s = node_text(ctx, node, path);

	(void) f;
	if (!s)
		return;
	if (strcmp(s, "1") == 0)
		*(int *) dst = 1;
	else
		perr(ctx, node, "unsupported plan version \"%s\"; this pgshift reads version 1", s);
	free(s);
}

static const struct int_range name_len = {0, 55};    /* "pgshift_" + name fits NAMEDATALEN */
static const struct int_range slot_len = {0, 63};
static const struct int_range jobs_range = {1, 256};
static const struct int_range parts_range = {1, 1024};

static const char *const copy_formats[] = {"text", "binary", "auto"};
static const char *const ri_modes[] = {"fail", "full"};
static const char *const approvals[] = {"manual", "auto"};
static const char *const cleanup_whens[] = {"after_cutover", "manual"};
static const char *const ddl_modes[] = {"stop", "replicate"};
static const char *const privileges_modes[] = {"keep", "drop"};
static const char *const roles_modes[] = {"require", "create_missing", "ignore"};
static const struct enum_def copy_format_enum = {copy_formats, 3};
static const struct enum_def ri_enum = {ri_modes, 2};
static const struct enum_def approval_enum = {approvals, 2};
static const struct enum_def cleanup_when_enum = {cleanup_whens, 2};
static const struct enum_def ddl_enum = {ddl_modes, 2};
static const struct enum_def privileges_enum = {privileges_modes, 2};
static const struct enum_def roles_enum = {roles_modes, 3};

const char *
copy_format_name(enum copy_format format)
{
	return copy_formats[format];
}

/* One filters.exclude_object_classes item: a class name of object_class.h, once. */
static bool
check_object_class(struct parse_ctx *ctx, yaml_node_t *item, const char *path, const char *s)
{
	const char *hint;
	struct buf all;

	if (object_class_lookup(s) != OBJ_NONE)
		return true;
	buf_init(&all);
	for (int c = 0; c < N_OBJECT_CLASSES; c++)
		buf_printf(&all, "%s%s", c ? ", " : "", object_class_name((enum object_class) c));
	hint = suggest_word(s, object_class_names(), N_OBJECT_CLASSES);
	if (hint)
		perr(ctx, item, "%s: unknown object class \"%s\"; did you mean \"%s\"? (expected one of %s)",
			 path, s, hint, all.data);
	else
		perr(ctx, item, "%s: unknown object class \"%s\" (expected one of %s)", path, s, all.data);
	buf_free(&all);
	return false;
}

static void
f_object_classes(struct parse_ctx *ctx, const struct field *f, yaml_node_t *node, void *dst,
				 const char *path)
{
	(void) f;
	parse_list(ctx, node, dst, path, check_object_class);
}

static const struct field source_fields[] = {
	{"uri", f_uri, PF(source_uri), NULL, true},
	{"connect_timeout", f_duration, PF(source_conn.connect_timeout_ms), NULL, false},
	{"keepalives_idle", f_duration, PF(source_conn.keepalives_idle_ms), NULL, false},
};
static const struct field target_fields[] = {
	{"uri", f_uri, PF(target_uri), NULL, true},
	{"connect_timeout", f_duration, PF(target_conn.connect_timeout_ms), NULL, false},
	{"keepalives_idle", f_duration, PF(target_conn.keepalives_idle_ms), NULL, false},
};
static const struct field filter_fields[] = {
	{"include_schemas", f_schema_globs, PF(filters.include_schemas), NULL, false},
	{"exclude_schemas", f_schema_globs, PF(filters.exclude_schemas), NULL, false},
	{"include_tables", f_table_globs, PF(filters.include_tables), NULL, false},
	{"exclude_tables", f_table_globs, PF(filters.exclude_tables), NULL, false},
	{"exclude_table_data", f_table_globs, PF(filters.exclude_table_data), NULL, false},
	{"exclude_extensions", f_schema_globs, PF(filters.exclude_extensions), NULL, false},
	{"exclude_object_classes", f_object_classes, PF(filters.exclude_object_classes), NULL, false},
};
static const struct field schema_fields[] = {
	{"owners", f_owners, PF(schema.owners), NULL, false},
	{"privileges", f_enum, PF(schema.privileges), &privileges_enum, false},
	{"roles", f_enum, PF(schema.roles), &roles_enum, false},
	{"copy_passwords", f_bool, PF(schema.copy_passwords), NULL, false},
};
static const struct field copy_fields[] = {
	{"table_jobs", f_int, PF(copy.table_jobs), &jobs_range, false},
	{"index_jobs", f_int, PF(copy.index_jobs), &jobs_range, false},
	{"split_tables_larger_than", f_size, PF(copy.split_tables_larger_than), NULL, false},
	{"split_max_parts", f_int, PF(copy.split_max_parts), &parts_range, false},
	{"format", f_enum, PF(copy.format), &copy_format_enum, false},
	{"vacuum_analyze", f_bool, PF(copy.vacuum_analyze), NULL, false},
	{"require_empty_target", f_bool, PF(copy.require_empty_target), NULL, false},
};
static const struct field cdc_fields[] = {
	{"enabled", f_bool, PF(cdc.enabled), NULL, false},
	{"slot", f_ident, PF(cdc.slot), &slot_len, false},
	{"publication", f_ident, PF(cdc.publication), &slot_len, false},
	{"replica_identity", f_enum, PF(cdc.replica_identity), &ri_enum, false},
	{"spool_dir", f_path, PF(cdc.spool_dir), NULL, false},
	{"max_lag", f_duration, PF(cdc.max_lag_ms), NULL, false},
	{"ddl", f_enum, PF(cdc.ddl), &ddl_enum, false},
	{"reconnect_for", f_duration, PF(cdc.reconnect_for_ms), NULL, false},
};
static const struct field cutover_fields[] = {
	{"approval", f_enum, PF(cutover.approval), &approval_enum, false},
	{"steps", f_cutover_steps, PF(cutover.steps), NULL, false},
};
static const struct field cleanup_fields[] = {
	{"when", f_enum, PF(cleanup.when), &cleanup_when_enum, false},
	{"drop_slot", f_bool, PF(cleanup.drop_slot), NULL, false},
	{"drop_publication", f_bool, PF(cleanup.drop_publication), NULL, false},
	{"keep_state", f_bool, PF(cleanup.keep_state), NULL, false},
};
static const struct field rollback_fields[] = {
	{"enabled", f_bool, PF(rollback.enabled), NULL, false},
	{"keep_for", f_duration, PF(rollback.keep_for_ms), NULL, false},
};
static const struct field hooks_fields[] = {
	{"allow_shell", f_bool, PF(hooks.allow_shell), NULL, false},
	{"timeout", f_duration, PF(hooks.timeout_ms), NULL, false},
	{"lua", f_lua_hooks, PF(hooks.lua), NULL, false},
};

/* Sections parse into the plan itself: their offsets are plan offsets. */
static const struct section source_sec = {source_fields, N(source_fields)};
static const struct section target_sec = {target_fields, N(target_fields)};
static const struct section filter_sec = {filter_fields, N(filter_fields)};
static const struct section schema_sec = {schema_fields, N(schema_fields)};
static const struct section copy_sec = {copy_fields, N(copy_fields)};
static const struct section cdc_sec = {cdc_fields, N(cdc_fields)};
static const struct section cutover_sec = {cutover_fields, N(cutover_fields)};
static const struct section cleanup_sec = {cleanup_fields, N(cleanup_fields)};
static const struct section rollback_sec = {rollback_fields, N(rollback_fields)};
static const struct section hooks_sec = {hooks_fields, N(hooks_fields)};

static const struct field top_fields[] = {
	{"version", f_version, PF(version), NULL, true},
	{"name", f_ident, PF(name), &name_len, true},
	{"source", f_section, 0, &source_sec, true},
	{"target", f_section, 0, &target_sec, true},
	{"filters", f_section, 0, &filter_sec, false},
	{"schema", f_section, 0, &schema_sec, false},
	{"copy", f_section, 0, &copy_sec, false},
	{"cdc", f_section, 0, &cdc_sec, false},
	{"cutover", f_section, 0, &cutover_sec, false},
	{"cleanup", f_section, 0, &cleanup_sec, false},
	{"rollback", f_section, 0, &rollback_sec, false},
	{"hooks", f_section, 0, &hooks_sec, false},
	{"notify", f_notify, PF(notify), NULL, false},
};
static const struct section top_sec = {top_fields, N(top_fields)};

static void
plan_defaults(struct plan *p)
{
	p->schema.owners = OWNERS_KEEP;
	p->schema.privileges = PRIVILEGES_KEEP;
	p->schema.roles = ROLES_REQUIRE;
	p->copy.table_jobs = 4;
	p->copy.index_jobs = 4;
	p->copy.split_tables_larger_than = INT64_C(10) * 1024 * 1024 * 1024;
	p->copy.split_max_parts = 8;
	p->copy.format = COPY_FORMAT_AUTO;
	p->copy.vacuum_analyze = true;
	p->copy.require_empty_target = true;
	p->cdc.enabled = true;
	p->cdc.replica_identity = REPLICA_IDENTITY_FAIL;
	p->cdc.max_lag_ms = 1000;
	p->cdc.ddl = DDL_STOP;
	p->cdc.reconnect_for_ms = 10 * 60 * 1000;
	p->source_conn = p->target_conn = (struct conn_settings) {30 * 1000, 30 * 1000};
	p->cutover.approval = APPROVAL_MANUAL;
	p->cleanup.when = CLEANUP_AFTER_CUTOVER;
	p->cleanup.drop_slot = true;
	p->cleanup.drop_publication = true;
	p->hooks.timeout_ms = 60 * 1000;
	p->rollback.keep_for_ms = INT64_C(72) * 3600 * 1000;
}

static void
add_default_step(struct plan *p, enum cutover_kind kind)
{
	struct cutover_step *st = &p->cutover.steps[p->cutover.nsteps++];

	memset(st, 0, sizeof(*st));
	st->kind = kind;
	st->timeout_ms = 5 * 60 * 1000;
	st->level = VERIFY_COUNT;
}

/*
 * Fills what the file left out. Without cutover.steps, a run still ends with
 * the source's last changes applied, sequences moved and counts compared:
 * an operator who forgot the list should not get a target with stale
 * sequences.
 */
static void
plan_finish_defaults(struct plan *p, bool steps_given)
{
	if (p->name && !p->cdc.slot)
		p->cdc.slot = xasprintf("pgshift_%s", p->name);
	if (p->name && !p->cdc.publication)
		p->cdc.publication = xasprintf("pgshift_%s", p->name);
	if (!p->cdc.spool_dir)
		p->cdc.spool_dir = plan_default_spool_dir(p);
	if (p->name) {
		p->rollback.slot = xasprintf("pgshift_rb_%s", p->name);
		p->rollback.publication = xasprintf("pgshift_rb_%s", p->name);
	}
	p->rollback.spool_dir = xasprintf("%s-rollback", p->cdc.spool_dir);
	if (!steps_given) {
		p->cutover.steps = xcalloc(3, sizeof(struct cutover_step));
		if (p->cdc.enabled)
			add_default_step(p, CUTOVER_WAIT_FOR_CATCHUP);
		add_default_step(p, CUTOVER_SYNC_SEQUENCES);
		add_default_step(p, CUTOVER_VERIFY);
	}
}

static yaml_node_t *
top_value(yaml_document_t *doc, const char *section, const char *key)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	yaml_node_t *found = NULL;

	if (!root || root->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);

		/* the first one, as parse_mapping reads it: a duplicate is reported, never used */
		if (k->type == YAML_SCALAR_NODE && strcmp((const char *) k->data.scalar.value, section) == 0) {
			found = yaml_document_get_node(doc, p->value);
			break;
		}
	}
	if (!found || !key || found->type != YAML_MAPPING_NODE)
		return found;
	for (yaml_node_pair_t *p = found->data.mapping.pairs.start; p < found->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);

		if (k->type == YAML_SCALAR_NODE && strcmp((const char *) k->data.scalar.value, key) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

/*
 * rollback.enabled: the reverse stream starts once the last
 * wait_for_catchup stopped the forward applier, into a source that a
 * fence_writes before it made read-only for the application; its slot and
 * publication names ("pgshift_rb_" + name) must fit NAMEDATALEN.
 */
static void
rollback_checks(struct parse_ctx *ctx)
{
	const struct plan *p = ctx->plan;
	yaml_node_t *at = top_value(ctx->doc, "rollback", "enabled");
	bool fenced = false, caught_after_fence = false;

	if (!p->rollback.enabled)
		return;
	for (size_t i = 0; i < p->cutover.nsteps; i++) {
		if (p->cutover.steps[i].kind == CUTOVER_FENCE_WRITES)
			fenced = true;
		else if (p->cutover.steps[i].kind == CUTOVER_WAIT_FOR_CATCHUP)
			caught_after_fence = fenced;
	}
	if (!p->cdc.enabled)
		perr(ctx, at, "rollback.enabled: reverse replication needs cdc.enabled: true");
	else if (!caught_after_fence)
		perr(ctx, at, "rollback.enabled: cutover.steps must fence the source (fence_writes) "
			 "before its last wait_for_catchup: the reverse stream writes into the source, "
			 "which must take no other write");
	if (p->name && strlen(p->name) > 52)
		perr(ctx, at, "rollback.enabled: the plan name \"%s\" is too long for the reverse slot "
			 "\"pgshift_rb_%s\" (names of at most 52 characters)", p->name, p->name);
}

/* Checks that span keys; each names the key that has to change. */
static void
plan_cross_checks(struct parse_ctx *ctx)
{
	struct plan *p = ctx->plan;
	yaml_node_t *steps = top_value(ctx->doc, "cutover", "steps");

	rollback_checks(ctx);

	for (size_t i = 0; i < p->cutover.nsteps; i++) {
		const struct cutover_step *st = &p->cutover.steps[i];
		size_t pos = st->pos ? st->pos : i + 1;
		yaml_node_t *item = NULL;

		/* by position, not line: a flow list holds several steps on one line */
		if (st->pos && steps && steps->type == YAML_SEQUENCE_NODE &&
			st->pos <= (size_t) (steps->data.sequence.items.top - steps->data.sequence.items.start))
			item = yaml_document_get_node(ctx->doc, steps->data.sequence.items.start[st->pos - 1]);
		if (!p->cdc.enabled && st->kind == CUTOVER_WAIT_FOR_CATCHUP)
			perr(ctx, item, "cutover.steps[%zu]: wait_for_catchup needs cdc.enabled: true "
				 "(without CDC there is nothing to catch up)", pos);
		if (st->kind == CUTOVER_FENCE_WRITES && !p->cdc.enabled)
			pwarn(ctx, item, "cutover.steps[%zu]: fence_writes without CDC only makes the "
				  "source read-only after the copy", pos);
	}
	if (!p->cdc.enabled && p->cdc.ddl == DDL_REPLICATE)
		perr(ctx, top_value(ctx->doc, "cdc", "ddl"), "cdc.ddl: replicate needs cdc.enabled: "
			 "true (without CDC no schema change is replicated)");
}

static char *
read_file(const char *path, size_t *len, struct diag_list *dl)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[65536];
	size_t n;

	if (!f) {
		diag_add(dl, DIAG_ERROR, 0, 0, "could not open plan file: %m");
		return NULL;
	}
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	if (ferror(f)) {
		diag_add(dl, DIAG_ERROR, 0, 0, "could not read plan file: %m");
		fclose(f);
		buf_free(&b);
		return NULL;
	}
	fclose(f);
	*len = b.len;
	return buf_steal(&b);
}

static char *
sha256_hex(const char *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *hex;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	hex = xmalloc(mdlen * 2 + 1);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + i * 2, 3, "%02x", md[i]);
	return hex;
}

static char *
plan_directory(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *copy = slash == path ? xstrdup("/")
		: slash ? xstrndup(path, (size_t) (slash - path)) : xstrdup(".");
	char resolved[PATH_MAX];
	char *dir;

	dir = realpath(copy, resolved) ? xstrdup(resolved) : xstrdup(copy);
	free(copy);
	return dir;
}

static void
report_yaml_error(const yaml_parser_t *parser, struct diag_list *dl)
{
	diag_add(dl, DIAG_ERROR, (int) parser->problem_mark.line + 1,
			 (int) parser->problem_mark.column + 1, "invalid YAML: %s%s%s",
			 parser->problem ? parser->problem : "syntax error",
			 parser->context ? " " : "", parser->context ? parser->context : "");
}

/* Loads one YAML document; reports a syntax error at its place. */
static bool
load_yaml(const char *data, size_t len, yaml_document_t *doc, struct diag_list *dl)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	bool ok;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *) data, len);
	ok = yaml_parser_load(&parser, doc);
	if (!ok) {
		report_yaml_error(&parser, dl);
		yaml_parser_delete(&parser);
		return false;
	}
	if (!yaml_document_get_root_node(doc)) {
		diag_add(dl, DIAG_ERROR, 0, 0, "the plan file is empty; see README.md for the format");
		yaml_document_delete(doc);
		yaml_parser_delete(&parser);
		return false;
	}
	if (yaml_parser_load(&parser, &extra)) {
		yaml_node_t *root2 = yaml_document_get_root_node(&extra);

		if (root2)
			diag_add(dl, DIAG_ERROR, (int) extra.start_mark.line + 1,
					 (int) extra.start_mark.column + 1,
					 "a plan file holds one YAML document; found a second one here");
		yaml_document_delete(&extra);
	} else {
		/* text after the first document that is not even YAML must not pass unseen */
		report_yaml_error(&parser, dl);
	}
	yaml_parser_delete(&parser);
	return true;
}

struct plan *
plan_load(const char *path, struct diag_list *dl)
{
	struct plan *plan;
	yaml_document_t doc;
	struct parse_ctx ctx;
	size_t len = 0;
	char *data = read_file(path, &len, dl);

	if (!data)
		return NULL;
	if (!load_yaml(data, len, &doc, dl)) {
		free(data);
		return NULL;
	}
	plan = xcalloc(1, sizeof(*plan));
	plan->file = xstrdup(path);
	plan->dir = plan_directory(path);
	plan->sha256 = sha256_hex(data, len);
	free(data);
	plan_defaults(plan);
	ctx = (struct parse_ctx) {dl, &doc, plan};
	parse_mapping(&ctx, yaml_document_get_root_node(&doc), &top_sec, plan, "");
	/*
	 * Whether the parser filled the list, not whether some "steps:" key exists:
	 * "steps:" with no value is "not set" like every other key, and a list in a
	 * duplicate section was never read.
	 */
	plan_finish_defaults(plan, plan->cutover.steps != NULL);
	plan_cross_checks(&ctx);
	yaml_document_delete(&doc);
	if (dl->nerrors > 0) {
		plan_free(plan);
		return NULL;
	}
	return plan;
}
