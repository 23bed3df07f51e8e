/*
 * catalog_diff: what changed on the source between two reads of its
 * catalog with the same filters, by name, for the operator: the catalog the
 * run was compiled from (and the copy used) and one read now. A
 * fingerprint says only that something differs; a migration stopped for a
 * schema change must say which table, column, index or constraint it was.
 * Sizes, row estimates, index oids (REINDEX CONCURRENTLY) and replica
 * identity are left out: they move without a schema change, and pgshift
 * itself sets REPLICA IDENTITY FULL on the source. A table's oid changes
 * only when it is dropped and created again.
 */
#include <string.h>

#include "pg/catalog.h"
#include "util/buf.h"

static bool
same(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static const struct cat_table *
find_table(const struct catalog *c, const char *schema, const char *name)
{
	for (size_t i = 0; i < c->ntables; i++)
		if (same(c->tables[i].schema, schema) && same(c->tables[i].name, name))
			return &c->tables[i];
	return NULL;
}

static const struct cat_column *
find_column(const struct cat_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (same(t->cols[i].name, name))
			return &t->cols[i];
	return NULL;
}

static void
note(struct buf *out, size_t *n)
{
	if (out->len)
		buf_puts(out, "; ");
	(*n)++;
}

static void
diff_columns(const struct cat_table *was, const struct cat_table *now, struct buf *out, size_t *n)
{
	for (size_t i = 0; i < was->ncols; i++) {
		const struct cat_column *a = &was->cols[i], *b = find_column(now, a->name);

		if (!b) {
			note(out, n);
			buf_printf(out, "column %s.%s.%s (%s) was dropped", now->schema, now->name, a->name,
					   a->type);
		} else if (!same(a->type, b->type)) {
			note(out, n);
			buf_printf(out, "column %s.%s.%s changed type: %s -> %s", now->schema, now->name,
					   a->name, a->type, b->type);
		} else if (a->not_null != b->not_null || a->generated != b->generated ||
				   a->identity != b->identity) {
			note(out, n);
			buf_printf(out, "column %s.%s.%s changed its NOT NULL, identity or generated "
					   "property", now->schema, now->name, a->name);
		}
	}
	for (size_t i = 0; i < now->ncols; i++)
		if (!find_column(was, now->cols[i].name)) {
			note(out, n);
			buf_printf(out, "column %s.%s.%s (%s) was added", now->schema, now->name,
					   now->cols[i].name, now->cols[i].type);
		}
}

static void
diff_partition(const struct cat_table *was, const struct cat_table *now, struct buf *out,
			   size_t *n)
{
	if (was->is_partition == now->is_partition && same(was->parent_schema, now->parent_schema) &&
		same(was->parent_name, now->parent_name))
		return;
	note(out, n);
	if (was->is_partition && now->is_partition)
		buf_printf(out, "partition %s.%s moved from %s.%s to %s.%s", now->schema, now->name,
				   was->parent_schema, was->parent_name, now->parent_schema, now->parent_name);
	else if (was->is_partition)
		buf_printf(out, "partition %s.%s was detached from %s.%s", now->schema, now->name,
				   was->parent_schema, was->parent_name);
	else
		buf_printf(out, "table %s.%s was attached as a partition of %s.%s", now->schema,
				   now->name, now->parent_schema, now->parent_name);
}

static void
diff_tables(const struct catalog *was, const struct catalog *now, struct buf *out, size_t *n)
{
	for (size_t i = 0; i < now->ntables; i++) {
		const struct cat_table *b = &now->tables[i], *a = find_table(was, b->schema, b->name);

		if (a && a->oid && b->oid && a->oid != b->oid) {
			/* not in the publication, which lists tables by oid: its rows never come */
			note(out, n);
			buf_printf(out, "table %s.%s was dropped and created again (oid %u, the copy read "
					   "oid %u)", b->schema, b->name, b->oid, a->oid);
			continue;
		}
		if (a) {
			diff_partition(a, b, out, n);
			diff_columns(a, b, out, n);
			continue;
		}
		note(out, n);
		if (b->is_partition)
			buf_printf(out, "new partition %s.%s of %s.%s", b->schema, b->name, b->parent_schema,
					   b->parent_name);
		else
			buf_printf(out, "new table %s.%s", b->schema, b->name);
	}
	for (size_t i = 0; i < was->ntables; i++)
		if (!find_table(now, was->tables[i].schema, was->tables[i].name)) {
			note(out, n);
			buf_printf(out, "table %s.%s was dropped (or renamed)", was->tables[i].schema,
					   was->tables[i].name);
		}
}

static const struct cat_index *
find_index(const struct catalog *c, const char *schema, const char *name)
{
	for (size_t i = 0; i < c->nindexes; i++)
		if (same(c->indexes[i].schema, schema) && same(c->indexes[i].name, name))
			return &c->indexes[i];
	return NULL;
}

static void
diff_indexes(const struct catalog *was, const struct catalog *now, struct buf *out, size_t *n)
{
	for (size_t i = 0; i < now->nindexes; i++) {
		const struct cat_index *b = &now->indexes[i], *a = find_index(was, b->schema, b->name);

		if (a && same(a->def, b->def))
			continue;
		note(out, n);
		buf_printf(out, "%s index %s.%s: %s", a ? "changed" : "new", b->schema, b->name, b->def);
	}
	for (size_t i = 0; i < was->nindexes; i++)
		if (!find_index(now, was->indexes[i].schema, was->indexes[i].name)) {
			note(out, n);
			buf_printf(out, "index %s.%s was dropped", was->indexes[i].schema,
					   was->indexes[i].name);
		}
}

static const struct cat_constraint *
find_constraint(const struct catalog *c, const struct catalog *in, const struct cat_constraint *k)
{
	const struct cat_table *t = &in->tables[k->table];

	for (size_t i = 0; i < c->nconstraints; i++) {
		const struct cat_table *u = &c->tables[c->constraints[i].table];

		if (same(c->constraints[i].name, k->name) && same(u->schema, t->schema) &&
			same(u->name, t->name))
			return &c->constraints[i];
	}
	return NULL;
}

static void
diff_constraints(const struct catalog *was, const struct catalog *now, struct buf *out,
				 size_t *n)
{
	for (size_t i = 0; i < now->nconstraints; i++) {
		const struct cat_constraint *b = &now->constraints[i];
		const struct cat_constraint *a = find_constraint(was, now, b);
		const struct cat_table *t = &now->tables[b->table];

		if (a && same(a->def, b->def) && a->validated == b->validated)
			continue;
		note(out, n);
		buf_printf(out, "%s constraint %s on %s.%s: %s%s", a ? "changed" : "new", b->name,
				   t->schema, t->name, b->def, b->validated ? "" : " NOT VALID");
	}
	for (size_t i = 0; i < was->nconstraints; i++)
		if (!find_constraint(now, was, &was->constraints[i])) {
			const struct cat_table *t = &was->tables[was->constraints[i].table];

			note(out, n);
			buf_printf(out, "constraint %s on %s.%s was dropped", was->constraints[i].name,
					   t->schema, t->name);
		}
}

/* The objects known only by kind and name: sequences, views, schemas, extensions. */
struct named {
	const char *kind;
	const char *(*schema)(const struct catalog *, size_t);
	const char *(*name)(const struct catalog *, size_t);
	size_t (*count)(const struct catalog *);
};

static const char *seq_schema(const struct catalog *c, size_t i) { return c->sequences[i].schema; }
static const char *seq_name(const struct catalog *c, size_t i) { return c->sequences[i].name; }
static size_t seq_count(const struct catalog *c) { return c->nsequences; }
static const char *view_schema(const struct catalog *c, size_t i) { return c->views[i].schema; }
static const char *view_name(const struct catalog *c, size_t i) { return c->views[i].name; }
static size_t view_count(const struct catalog *c) { return c->nviews; }
static const char *schema_name(const struct catalog *c, size_t i) { return c->schemas[i]; }
static size_t schema_count(const struct catalog *c) { return c->nschemas; }
static const char *ext_name(const struct catalog *c, size_t i) { return c->extensions[i].name; }
static size_t ext_count(const struct catalog *c) { return c->nextensions; }

static const struct named named_kinds[] = {
	{"sequence", seq_schema, seq_name, seq_count},
	{"view", view_schema, view_name, view_count},
	{"schema", NULL, schema_name, schema_count},
	{"extension", NULL, ext_name, ext_count},
};

static bool
has_named(const struct named *k, const struct catalog *c, const char *schema, const char *name)
{
	for (size_t i = 0; i < k->count(c); i++)
		if ((!k->schema || same(k->schema(c, i), schema)) && same(k->name(c, i), name))
			return true;
	return false;
}

static void
diff_named_one(const struct named *k, const struct catalog *from, const struct catalog *to,
			   const char *fmt_prefix, const char *fmt_suffix, struct buf *out, size_t *n)
{
	for (size_t i = 0; i < k->count(from); i++) {
		const char *schema = k->schema ? k->schema(from, i) : NULL;

		if (has_named(k, to, schema, k->name(from, i)))
			continue;
		note(out, n);
		buf_printf(out, "%s%s %s%s%s%s", fmt_prefix, k->kind, schema ? schema : "",
				   schema ? "." : "", k->name(from, i), fmt_suffix);
	}
}

static void
diff_named(const struct catalog *was, const struct catalog *now, struct buf *out, size_t *n)
{
	for (size_t k = 0; k < sizeof(named_kinds) / sizeof(named_kinds[0]); k++) {
		diff_named_one(&named_kinds[k], now, was, "new ", "", out, n);
		diff_named_one(&named_kinds[k], was, now, "", " was dropped", out, n);
	}
}

size_t
catalog_diff(const struct catalog *was, const struct catalog *now, struct buf *out)
{
	size_t n = 0;

	diff_tables(was, now, out, &n);
	diff_indexes(was, now, out, &n);
	diff_constraints(was, now, out, &n);
	diff_named(was, now, out, &n);
	return n;
}
