/*
 * Internal to engine/plan: the state of one plan-file parse and the
 * table-driven field parsers that turn YAML nodes into struct plan fields.
 * A field parser reports problems to the diag list and keeps going, so one
 * run finds every error of the file.
 */
#ifndef PGSHIFT_PLAN_PARSE_CTX_H
#define PGSHIFT_PLAN_PARSE_CTX_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#include "plan/diag.h"
#include "plan/plan.h"

struct parse_ctx {
	struct diag_list *dl;
	yaml_document_t *doc;
	struct plan *plan;
};

struct field;
typedef void (*field_fn)(struct parse_ctx *ctx, const struct field *f,
						 yaml_node_t *node, void *dst, const char *path);

struct field {
	const char *key;
	field_fn parse;
	size_t offset;          /* of the destination inside the section's struct */
	const void *arg;        /* parser-specific: section, enum, range */
	bool required;
};

struct section {
	const struct field *fields;
	size_t n;
};

struct enum_def {
	const char *const *names;
	size_t n;
};

struct int_range {
	int64_t min, max;
};

#define NODE_LINE(node) ((int) (node)->start_mark.line + 1)
#define NODE_COL(node) ((int) (node)->start_mark.column + 1)

void perr(struct parse_ctx *ctx, yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pwarn(struct parse_ctx *ctx, yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A null node ("key:" or "key: ~") means "not set". */
bool node_is_null(yaml_node_t *node);
/* The expanded text of a scalar node, or NULL after reporting why. */
char *node_text(struct parse_ctx *ctx, yaml_node_t *node, const char *path);
const char *node_kind(yaml_node_t *node);

/* Walks a mapping: unknown keys (with suggestions), duplicates, required keys. */
void parse_mapping(struct parse_ctx *ctx, yaml_node_t *node, const struct section *sec,
				   void *base, const char *path);

/* Parses a list of scalars into dst; check (may be NULL) vets each item. */
void parse_list(struct parse_ctx *ctx, yaml_node_t *node, struct strlist *dst, const char *path,
				bool (*check)(struct parse_ctx *, yaml_node_t *, const char *, const char *));

/* Field parsers; dst points at the field. */
void f_section(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_string(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_ident(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_uri(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_path(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_int(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_int64(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_bool(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_size(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_duration(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_enum(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_strlist(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_schema_globs(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_table_globs(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_event_globs(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_cutover_steps(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_lua_hooks(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_notify(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);
void f_owners(struct parse_ctx *, const struct field *, yaml_node_t *, void *, const char *);

/* Absolute form of a path relative to the plan file's directory (new string). */
char *plan_resolve_path(const struct plan *plan, const char *path);

#endif
