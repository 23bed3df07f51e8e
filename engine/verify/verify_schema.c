/*
 * verify level schema: the target's catalog, read with the plan's filters,
 * compared with the source's by name. Something of the source missing or
 * different on the target is a FAIL; something only on the target (an
 * extra index, column or table) or a NOT VALID state or an extension
 * version that differs is a WARN: the migrated data is not affected
 * (a rollback's verify makes an extra table or column a FAIL too).
 */
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "verify/verify.h"

static bool
same(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static long
find_table(const struct catalog *c, const char *schema, const char *name)
{
	for (size_t i = 0; i < c->ntables; i++)
		if (same(c->tables[i].schema, schema) && same(c->tables[i].name, name))
			return (long) i;
	return -1;
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
compare_column(struct verify_report *r, size_t e, const struct cat_column *a,
			   const struct cat_column *b)
{
	if (!b) {
		verify_note(r, e, VS_FAIL, "column %s missing on the %s", a->name, r->dst_side);
		return;
	}
	if (!same(a->type, b->type))
		verify_note(r, e, VS_FAIL, "column %s is %s on the %s, %s on the %s", a->name, a->type,
					r->src_side, b->type, r->dst_side);
	if (a->not_null != b->not_null)
		verify_note(r, e, VS_FAIL, "column %s is %sNOT NULL on the %s", a->name,
					b->not_null ? "" : "not ", r->dst_side);
	if (a->identity != b->identity || a->generated != b->generated)
		verify_note(r, e, VS_FAIL, "column %s: identity or generated differs", a->name);
}

static void
compare_tables(const struct catalog *s, const struct catalog *d, struct verify_report *r)
{
	for (size_t t = 0; t < s->ntables; t++) {
		const struct cat_table *a = &s->tables[t];
		long k = find_table(d, a->schema, a->name);

		if (k < 0) {
			r->entries[t].missing = true;
			verify_note(r, t, VS_FAIL, "table missing on the %s", r->dst_side);
			continue;
		}
		for (size_t c = 0; c < a->ncols; c++)
			compare_column(r, t, &a->cols[c], find_column(&d->tables[k], a->cols[c].name));
		for (size_t c = 0; c < d->tables[k].ncols; c++)
			if (!find_column(a, d->tables[k].cols[c].name))
				verify_note(r, t, r->extra_fails ? VS_FAIL : VS_WARN, "column %s only on the %s",
							d->tables[k].cols[c].name, r->dst_side);
	}
	for (size_t k = 0; k < d->ntables; k++)
		if (find_table(s, d->tables[k].schema, d->tables[k].name) < 0)
			verify_note(r, verify_report_add(r, "table", d->tables[k].schema, d->tables[k].name),
						r->extra_fails ? VS_FAIL : VS_WARN, "table only on the %s", r->dst_side);
}

static long
find_index(const struct catalog *c, const char *schema, const char *name)
{
	for (size_t i = 0; i < c->nindexes; i++)
		if (same(c->indexes[i].schema, schema) && same(c->indexes[i].name, name))
			return (long) i;
	return -1;
}

static void
compare_indexes(const struct catalog *s, const struct catalog *d, struct verify_report *r)
{
	for (size_t i = 0; i < s->nindexes; i++) {
		const struct cat_index *a = &s->indexes[i];
		long k = find_index(d, a->schema, a->name);

		if (k < 0)
			verify_note(r, a->table, VS_FAIL, "index %s missing on the %s", a->name, r->dst_side);
		else if (!same(a->def, d->indexes[k].def))
			verify_note(r, a->table, VS_FAIL, "index %s differs: %s on the %s", a->name,
						d->indexes[k].def, r->dst_side);
	}
	for (size_t k = 0; k < d->nindexes; k++) {
		const struct cat_index *b = &d->indexes[k];
		const struct cat_table *bt = &d->tables[b->table];
		long t = find_table(s, bt->schema, bt->name);

		if (t >= 0 && find_index(s, b->schema, b->name) < 0)
			verify_note(r, (size_t) t, VS_WARN, "index %s only on the %s", b->name, r->dst_side);
	}
}

static bool
same_table(const struct catalog *c, const struct cat_constraint *k, const struct cat_table *t)
{
	const struct cat_table *ct = &c->tables[k->table];

	return same(ct->schema, t->schema) && same(ct->name, t->name);
}

static long
find_constraint(const struct catalog *c, const struct cat_table *t, const char *name)
{
	for (size_t i = 0; i < c->nconstraints; i++)
		if (same(c->constraints[i].name, name) && same_table(c, &c->constraints[i], t))
			return (long) i;
	return -1;
}

/*
 * PostgreSQL names a partition's clone of its parent's constraint itself
 * (fk_a_fkey on the source may be fk1_a_fkey on the target, the name
 * pg_restore's ATTACH gave it), so a clone is found by its table, type and
 * definition among the target's clones no other constraint matched.
 */
static long
find_clone(const struct catalog *d, const struct cat_table *t, const struct cat_constraint *a,
		   const bool *used)
{
	for (size_t i = 0; i < d->nconstraints; i++) {
		const struct cat_constraint *b = &d->constraints[i];

		if (!used[i] && b->inherited && b->type == a->type && same(a->def, b->def) &&
			same_table(d, b, t))
			return (long) i;
	}
	return -1;
}

static void
note_constraint(const struct catalog *d, const struct cat_constraint *a, long b,
				struct verify_report *r)
{
	if (b < 0)
		verify_note(r, a->table, VS_FAIL, "constraint %s missing on the %s", a->name, r->dst_side);
	else if (!same(a->def, d->constraints[b].def))
		verify_note(r, a->table, VS_FAIL, "constraint %s differs: %s on the %s", a->name,
					d->constraints[b].def, r->dst_side);
	else if (a->validated != d->constraints[b].validated)
		verify_note(r, a->table, VS_WARN, "constraint %s is %s on the %s", a->name,
					d->constraints[b].validated ? "validated" : "NOT VALID", r->dst_side);
}

static void
compare_constraints(const struct catalog *s, const struct catalog *d, struct verify_report *r)
{
	bool *used = xcalloc(d->nconstraints + 1, sizeof(bool));
	long *match = xcalloc(s->nconstraints + 1, sizeof(long));

	for (size_t i = 0; i < s->nconstraints; i++) {
		const struct cat_constraint *a = &s->constraints[i];

		match[i] = find_constraint(d, &s->tables[a->table], a->name);
		if (match[i] >= 0 && same(a->def, d->constraints[match[i]].def))
			used[match[i]] = true;
	}
	for (size_t i = 0; i < s->nconstraints; i++) {
		const struct cat_constraint *a = &s->constraints[i];
		long clone = -1;

		if (r->entries[a->table].missing)
			continue;
		if (a->inherited && (match[i] < 0 || !same(a->def, d->constraints[match[i]].def)))
			clone = find_clone(d, &s->tables[a->table], a, used);
		if (clone >= 0) {
			used[clone] = true;
			match[i] = clone;
		}
		note_constraint(d, a, match[i], r);
	}
	free(match);
	free(used);
}

static void
compare_others(const struct catalog *s, const struct catalog *d, struct verify_report *r)
{
	for (size_t i = 0; i < s->nsequences; i++) {
		const struct cat_sequence *a = &s->sequences[i];
		bool found = false;

		for (size_t k = 0; !found && k < d->nsequences; k++)
			found = same(a->schema, d->sequences[k].schema) && same(a->name, d->sequences[k].name);
		if (!found)
			verify_note(r, verify_report_add(r, "sequence", a->schema, a->name), VS_FAIL,
						"sequence missing on the %s", r->dst_side);
	}
	for (size_t i = 0; i < s->nviews; i++) {
		bool found = false;

		for (size_t k = 0; !found && k < d->nviews; k++)
			found = same(s->views[i].schema, d->views[k].schema) &&
				same(s->views[i].name, d->views[k].name);
		if (!found)
			verify_note(r, verify_report_add(r, "view", s->views[i].schema, s->views[i].name),
						VS_FAIL, "view missing on the %s", r->dst_side);
	}
	for (size_t i = 0; i < s->nextensions; i++) {
		const struct cat_extension *a = &s->extensions[i];
		const struct cat_extension *b = NULL;

		for (size_t k = 0; !b && k < d->nextensions; k++)
			b = same(a->name, d->extensions[k].name) ? &d->extensions[k] : NULL;
		if (!b)
			verify_note(r, verify_report_add(r, "extension", NULL, a->name), VS_FAIL,
						"extension missing on the %s", r->dst_side);
		else if (!same(a->version, b->version))
			verify_note(r, verify_report_add(r, "extension", NULL, a->name), VS_WARN,
						"version %s on the %s, %s on the %s", a->version, r->src_side, b->version,
						r->dst_side);
	}
}

/*
 * The objects outside any schema, publications included, but the classes
 * the plan leaves out. A user mapping with a password is WARN: pgshift does
 * not copy it (preflight said so), the operator creates it.
 */
static void
compare_globals(const struct catalog *s, const struct catalog *d, struct verify_report *r)
{
	for (size_t i = 0; i < s->nglobals; i++) {
		const struct cat_global *a = &s->globals[i], *b = NULL;

		if (a->excluded)
			continue;
		for (size_t k = 0; !b && k < d->nglobals; k++)
			if (same(a->kind, d->globals[k].kind) && same(a->name, d->globals[k].name))
				b = &d->globals[k];
		if (b && !same(a->def ? a->def : "", b->def ? b->def : ""))
			verify_note(r, verify_report_add(r, a->kind, NULL, a->name), VS_FAIL,
						"differs: %s on the %s, %s on the %s", a->def ? a->def : "none",
						r->src_side, b->def ? b->def : "none", r->dst_side);
		if (b)
			continue;
		if (a->has_password)
			verify_note(r, verify_report_add(r, a->kind, NULL, a->name), VS_WARN,
						"missing on the %s: it holds a password, which pgshift does not copy; create "
						"it there", r->dst_side);
		else
			verify_note(r, verify_report_add(r, a->kind, NULL, a->name), VS_FAIL,
						"%s missing on the %s", a->kind, r->dst_side);
	}
}

bool
verify_schema(const struct plan *plan, const struct catalog *cat, PGconn *dst,
			  struct verify_report *r, struct pgs_error *err)
{
	struct catalog tcat;

	if (!catalog_load(dst, plan, &tcat, err)) {
		pgs_error_prefix(err, "could not read the target's catalog");
		return false;
	}
	compare_tables(cat, &tcat, r);
	compare_indexes(cat, &tcat, r);
	compare_constraints(cat, &tcat, r);
	compare_others(cat, &tcat, r);
	compare_globals(cat, &tcat, r);
	catalog_free(&tcat);
	return true;
}
