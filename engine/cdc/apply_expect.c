/*
 * What each migrated table's Relation messages must say (cdc.ddl: stop):
 * the columns the copy read from the catalog, in order, with their type
 * oids and typmods, keyed by the table's source oid. A Relation message
 * that says anything else means the table's schema changed on the source
 * since the copy: a column added, dropped, renamed or retyped, or the table
 * renamed, or dropped and created again. Its changes cannot go to the
 * target table the copy created (an added column's values would be lost,
 * a dropped one filled with NULLs, a retyped one refused with a bare cast
 * error), so the relation is marked and its first change stops the
 * applier, naming what differs. Checking the message against the catalog,
 * not against the previous message, also catches a change made before the
 * table's first Relation message of the run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/apply_int.h"
#include "pg/conn.h"
#include "util/xalloc.h"

/* PostgreSQL's FirstNormalObjectId: oids below it are built in, the same everywhere. */
#define FIRST_NORMAL_OID 16384

static int
cmp_oid(const void *x, const void *y)
{
	uint32_t a = ((const struct apply_expect *) x)->oid, b = ((const struct apply_expect *) y)->oid;

	return a < b ? -1 : a > b;
}

static void
expect_table(struct apply_expect *e, const struct cat_table *t)
{
	e->oid = t->oid;
	e->schema = xstrdup(t->schema);
	e->name = xstrdup(t->name);
	e->cols = xcalloc(t->ncols + 1, sizeof(*e->cols));
	for (size_t c = 0; c < t->ncols; c++) {
		/* pgoutput leaves generated columns out of its Relation messages */
		if (t->cols[c].generated)
			continue;
		e->cols[e->ncols].name = xstrdup(t->cols[c].name);
		e->cols[e->ncols].type = xstrdup(t->cols[c].type);
		e->cols[e->ncols].type_oid = t->cols[c].type_oid;
		e->cols[e->ncols].typmod = t->cols[c].typmod;
		e->ncols++;
	}
}

void
apply_expect_load(struct cdc_applier *a, const struct catalog *cat)
{
	a->expect = xcalloc(cat->ntables + 1, sizeof(*a->expect));
	for (size_t i = 0; i < cat->ntables; i++)
		if (cat_table_copies_data(&cat->tables[i]))
			expect_table(&a->expect[a->nexpect++], &cat->tables[i]);
	qsort(a->expect, a->nexpect, sizeof(*a->expect), cmp_oid);
}

void
apply_expect_free(struct cdc_applier *a)
{
	for (size_t i = 0; i < a->nexpect; i++) {
		for (size_t c = 0; c < a->expect[i].ncols; c++) {
			free(a->expect[i].cols[c].name);
			free(a->expect[i].cols[c].type);
		}
		free(a->expect[i].cols);
		free(a->expect[i].schema);
		free(a->expect[i].name);
	}
	free(a->expect);
	a->expect = NULL;
	a->nexpect = 0;
}

const struct apply_expect *
apply_expect_find(const struct cdc_applier *a, uint32_t oid)
{
	struct apply_expect key = {.oid = oid};

	return a->nexpect ? bsearch(&key, a->expect, a->nexpect, sizeof(key), cmp_oid) : NULL;
}

/*
 * format_type() of a built-in type, asked of the target in a session of
 * its own (the applier's is in pipeline mode): built-in oids are the same
 * on every server. Only on the way to an error.
 */
static bool
builtin_name(const struct cdc_applier *a, const struct pgo_column *col, struct buf *out)
{
	struct pg_session s = {"target", "pgshift cdc.catchup", true, false, false, false};
	struct pgs_error err;
	char oid[16], typmod[16];
	const char *params[] = {oid, typmod};
	PGconn *conn;
	PGresult *res;
	bool ok;

	if (col->type_oid >= FIRST_NORMAL_OID)
		return false;
	conn = pg_connect(a->conninfo, &s, &err);
	snprintf(oid, sizeof(oid), "%u", col->type_oid);
	snprintf(typmod, sizeof(typmod), "%d", (int) col->typmod);
	res = conn ? pg_query(conn, "SELECT pg_catalog.format_type($1::oid, $2::integer)", 2, params,
						  &err) : NULL;
	ok = res && PQntuples(res) == 1;
	if (ok)
		buf_puts(out, PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return ok;
}

/*
 * The name of a type the source sent by oid: the copy's text for it when a
 * migrated column has that type (oids are the source's), a built-in's
 * name, else the oid.
 */
static void
type_name(const struct cdc_applier *a, const struct pgo_column *col, struct buf *out)
{
	for (size_t i = 0; i < a->nexpect; i++)
		for (size_t c = 0; c < a->expect[i].ncols; c++)
			if (a->expect[i].cols[c].type_oid == col->type_oid &&
				a->expect[i].cols[c].typmod == col->typmod) {
				buf_puts(out, a->expect[i].cols[c].type);
				return;
			}
	if (!builtin_name(a, col, out))
		buf_printf(out, "type oid %u typmod %d", col->type_oid, (int) col->typmod);
}

static const struct apply_expect_col *
find_col(const struct apply_expect *e, const char *name)
{
	for (size_t c = 0; c < e->ncols; c++)
		if (strcmp(e->cols[c].name, name) == 0)
			return &e->cols[c];
	return NULL;
}

static const struct pgo_column *
find_sent(const struct pgo_relation *rel, const char *name)
{
	for (uint16_t c = 0; c < rel->ncols; c++)
		if (strcmp(rel->cols[c].name, name) == 0)
			return &rel->cols[c];
	return NULL;
}

static void
sep(struct buf *out)
{
	if (out->len)
		buf_puts(out, "; ");
}

static void
diff_columns(const struct cdc_applier *a, const struct apply_expect *e,
			 const struct pgo_relation *rel, struct buf *out)
{
	for (size_t c = 0; c < e->ncols; c++) {
		const struct pgo_column *now = find_sent(rel, e->cols[c].name);

		if (!now) {
			sep(out);
			buf_printf(out, "column \"%s\" (%s) was dropped or renamed", e->cols[c].name,
					   e->cols[c].type);
		} else if (now->type_oid != e->cols[c].type_oid || now->typmod != e->cols[c].typmod) {
			sep(out);
			buf_printf(out, "column \"%s\" changed type: %s -> ", e->cols[c].name, e->cols[c].type);
			type_name(a, now, out);
		}
	}
	for (uint16_t c = 0; c < rel->ncols; c++)
		if (!find_col(e, rel->cols[c].name)) {
			sep(out);
			buf_printf(out, "column \"%s\" (", rel->cols[c].name);
			type_name(a, &rel->cols[c], out);
			buf_puts(out, ") was added");
		}
}

/* Same names and types but another order (a column dropped and added again). */
static void
diff_order(const struct apply_expect *e, const struct pgo_relation *rel, struct buf *out)
{
	for (size_t c = 0; c < e->ncols && c < rel->ncols; c++)
		if (strcmp(e->cols[c].name, rel->cols[c].name) != 0) {
			buf_printf(out, "column \"%s\" is now at position %zu, where the copy had \"%s\"",
					   rel->cols[c].name, c + 1, e->cols[c].name);
			return;
		}
}

char *
apply_expect_check(const struct cdc_applier *a, const struct pgo_relation *rel, bool *migrated)
{
	const struct apply_expect *e = apply_expect_find(a, rel->relid);
	struct buf why;

	*migrated = e != NULL;
	if (!e)
		return NULL;
	buf_init(&why);
	if (strcmp(e->schema, rel->nspname) != 0 || strcmp(e->name, rel->relname) != 0)
		buf_printf(&why, "the table was renamed to \"%s.%s\"", rel->nspname, rel->relname);
	diff_columns(a, e, rel, &why);
	if (!why.len)
		diff_order(e, rel, &why);
	if (!why.len) {
		buf_free(&why);
		return NULL;
	}
	return buf_steal(&why);
}
