/*
 * catalog_diff (engine/pg/catalog_diff.c): each schema change a source can
 * make during CDC, applied to a catalog built by hand, must be named with
 * the exact text the operator reads; index oids, sizes and replica
 * identity, which move without a schema change, must not count.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/catalog.h"
#include "pg/catalog_int.h"
#include "tap.h"
#include "util/buf.h"
#include "util/xalloc.h"

static struct cat_table *
add_table(struct catalog *c, const char *schema, const char *name, const char *parent)
{
	struct cat_table *t;

	c->tables = xrealloc(c->tables, (c->ntables + 1) * sizeof(*c->tables));
	t = &c->tables[c->ntables++];
	memset(t, 0, sizeof(*t));
	t->oid = (uint32_t) (16384 + c->ntables);
	t->schema = strpool_copy(&c->strings, schema);
	t->name = strpool_copy(&c->strings, name);
	t->relkind = 'r';
	t->replident = 'd';
	if (parent) {
		t->is_partition = true;
		t->parent_schema = strpool_copy(&c->strings, schema);
		t->parent_name = strpool_copy(&c->strings, parent);
	}
	return t;
}

static void
add_col(struct catalog *c, struct cat_table *t, const char *name, const char *type)
{
	t->cols = xrealloc(t->cols, (t->ncols + 1) * sizeof(*t->cols));
	memset(&t->cols[t->ncols], 0, sizeof(*t->cols));
	t->cols[t->ncols].name = strpool_copy(&c->strings, name);
	t->cols[t->ncols].type = strpool_copy(&c->strings, type);
	t->ncols++;
}

static void
add_index(struct catalog *c, size_t table, const char *name, const char *def)
{
	struct cat_index *ix;

	c->indexes = xrealloc(c->indexes, (c->nindexes + 1) * sizeof(*c->indexes));
	ix = &c->indexes[c->nindexes++];
	memset(ix, 0, sizeof(*ix));
	ix->schema = strpool_copy(&c->strings, "app");
	ix->name = strpool_copy(&c->strings, name);
	ix->table = table;
	ix->def = strpool_copy(&c->strings, def);
	ix->parent = -1;
}

static void
add_constraint(struct catalog *c, size_t table, const char *name, const char *def)
{
	struct cat_constraint *k;

	c->constraints = xrealloc(c->constraints, (c->nconstraints + 1) * sizeof(*c->constraints));
	k = &c->constraints[c->nconstraints++];
	memset(k, 0, sizeof(*k));
	k->name = strpool_copy(&c->strings, name);
	k->table = table;
	k->type = 'c';
	k->def = strpool_copy(&c->strings, def);
	k->validated = true;
	k->index = k->ref_table = -1;
}

/* app.t (id, a, b), app.p partitioned with app.p_1, one index, one constraint, schema app. */
static void
base(struct catalog *c)
{
	struct cat_table *t;

	memset(c, 0, sizeof(*c));
	t = add_table(c, "app", "t", NULL);
	add_col(c, t, "id", "integer");
	add_col(c, t, "a", "integer");
	add_col(c, t, "b", "text");
	t = add_table(c, "app", "p", NULL);
	t->relkind = 'p';
	add_col(c, t, "id", "integer");
	add_col(c, add_table(c, "app", "p_1", "p"), "id", "integer");
	add_index(c, 0, "t_pkey", "CREATE UNIQUE INDEX t_pkey ON app.t USING btree (id)");
	add_constraint(c, 0, "t_a_check", "CHECK ((a > 0))");
	c->schemas = xcalloc(1, sizeof(char *));
	c->schemas[c->nschemas++] = strpool_copy(&c->strings, "app");
}

static void
change_type(struct catalog *c)
{
	c->tables[0].cols[1].type = strpool_copy(&c->strings, "bigint");
}

static void
drop_b(struct catalog *c)
{
	struct cat_table *t = &c->tables[0];

	t->ncols--;
}

static void
add_c(struct catalog *c)
{
	add_col(c, &c->tables[0], "c", "integer");
}

static void
new_table(struct catalog *c)
{
	add_col(c, add_table(c, "app", "newt", NULL), "id", "integer");
}

static void
attach_p_2(struct catalog *c)
{
	add_col(c, add_table(c, "app", "p_2", "p"), "id", "integer");
}

static void
detach_p_1(struct catalog *c)
{
	struct cat_table *t = &c->tables[2];

	t->is_partition = false;
	t->parent_schema = t->parent_name = NULL;
}

static void
drop_p_1(struct catalog *c)
{
	free(c->tables[2].cols);
	c->ntables--;
}

static void
recreated(struct catalog *c)
{
	c->tables[0].oid += 1000;
}

static void
new_index(struct catalog *c)
{
	add_index(c, 0, "t_b_idx", "CREATE INDEX t_b_idx ON app.t USING btree (b)");
}

static void
changed_index(struct catalog *c)
{
	c->indexes[0].def = strpool_copy(&c->strings,
									 "CREATE UNIQUE INDEX t_pkey ON app.t USING btree (id, a)");
}

static void
new_constraint(struct catalog *c)
{
	add_constraint(c, 0, "t_b_check", "CHECK ((b <> ''::text))");
	c->constraints[c->nconstraints - 1].validated = false;
}

static void
drop_constraint(struct catalog *c)
{
	c->nconstraints = 0;
}

static void
new_sequence_and_view(struct catalog *c)
{
	c->sequences = xcalloc(1, sizeof(*c->sequences));
	c->sequences[0].schema = strpool_copy(&c->strings, "app");
	c->sequences[0].name = strpool_copy(&c->strings, "s");
	c->nsequences = 1;
	c->views = xcalloc(1, sizeof(*c->views));
	c->views[0].schema = strpool_copy(&c->strings, "app");
	c->views[0].name = strpool_copy(&c->strings, "v");
	c->nviews = 1;
}

/* What moves on a live source without any DDL, and what pgshift itself sets. */
static void
no_schema_change(struct catalog *c)
{
	c->indexes[0].oid += 1000;
	c->tables[0].est_rows = 123456;
	c->tables[0].bytes = 1 << 20;
	c->tables[0].replident = 'f';
}

struct diff_case {
	const char *name;
	void (*change)(struct catalog *);
	size_t n;
	const char *want;
};

static const struct diff_case cases[] = {
	{"no schema change", no_schema_change, 0, ""},
	{"ALTER COLUMN TYPE", change_type, 1, "column app.t.a changed type: integer -> bigint"},
	{"DROP COLUMN", drop_b, 1, "column app.t.b (text) was dropped"},
	{"ADD COLUMN", add_c, 1, "column app.t.c (integer) was added"},
	{"CREATE TABLE", new_table, 1, "new table app.newt"},
	{"ATTACH PARTITION of a new table", attach_p_2, 1, "new partition app.p_2 of app.p"},
	{"DETACH PARTITION", detach_p_1, 1, "partition app.p_1 was detached from app.p"},
	{"DROP TABLE and CREATE TABLE again", recreated, 1,
	 "table app.t was dropped and created again (oid 17385, the copy read oid 16385)"},
	{"DROP TABLE", drop_p_1, 1, "table app.p_1 was dropped (or renamed)"},
	{"CREATE INDEX", new_index, 1, "new index app.t_b_idx: CREATE INDEX t_b_idx ON app.t USING btree (b)"},
	{"index redefined", changed_index, 1,
	 "changed index app.t_pkey: CREATE UNIQUE INDEX t_pkey ON app.t USING btree (id, a)"},
	{"ADD CONSTRAINT NOT VALID", new_constraint, 1,
	 "new constraint t_b_check on app.t: CHECK ((b <> ''::text)) NOT VALID"},
	{"DROP CONSTRAINT", drop_constraint, 1, "constraint t_a_check on app.t was dropped"},
	{"CREATE SEQUENCE and VIEW", new_sequence_and_view, 2, "new sequence app.s; new view app.v"},
};

int
main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct catalog was, now;
		struct buf out;
		size_t n;

		base(&was);
		base(&now);
		cases[i].change(&now);
		buf_init(&out);
		n = catalog_diff(&was, &now, &out);
		is_int(n, cases[i].n, cases[i].name);
		is_str(out.len ? out.data : "", cases[i].want, cases[i].name);
		buf_free(&out);
		catalog_free(&was);
		catalog_free(&now);
	}
	return done_testing();
}
