/*
 * catalog_load on a real source prepared by tests/integration/catalog.t:
 * each section of the catalog is rendered as text and compared whole, so a
 * failure shows exactly which table, index or constraint differs. The
 * session is read-only throughout, as in `pgshift plan`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgtest.h"
#include "tap.h"
#include "test_catalog_expected.h"
#include "pg/catalog.h"
#include "pg/conn.h"
#include "plan/plan.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* Excludes only: partitions follow their root, patterns that match nothing are listed. */
static const char plan_a[] =
	"version: 1\n"
	"name: catalog_a\n"
	"source: { uri: \"${SOURCE_URI}\" }\n"
	"target: { uri: \"postgresql://nobody@127.0.0.1:1/unused\" }\n"
	"filters:\n"
	"  exclude_schemas: [scratch, nosuch_schema]\n"
	"  exclude_tables: [\"app.tmp_*\", app.metrics_b, app.nothing_here]\n"
	"  exclude_table_data: [app.sessions, app.events_default]\n"
	"  exclude_extensions: [plpgsql, nosuch_ext]\n";

/* Includes: only the named roots (with their partitions) and their owned sequences. */
static const char plan_b[] =
	"version: 1\n"
	"name: catalog_b\n"
	"source: { uri: \"${SOURCE_URI}\" }\n"
	"target: { uri: \"postgresql://nobody@127.0.0.1:1/unused\" }\n"
	"filters:\n"
	"  include_schemas: [app, \"nosuch*\"]\n"
	"  include_tables: [app.events, app.orders, app.events_2023, app.log_2024, \"app.nosuch*\"]\n"
	"  exclude_table_data: [app.events_2024]\n";

static char *
render_tables(const struct catalog *cat)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < cat->ntables; i++) {
		const struct cat_table *t = &cat->tables[i];

		buf_printf(&b, "%s.%s %c", t->schema, t->name, t->relkind);
		if (t->is_partition)
			buf_printf(&b, " of %s.%s", t->parent_schema, t->parent_name);
		buf_printf(&b, " ri=%c pk=%c%s\n", t->replident, t->has_pk ? 't' : 'f',
				   t->exclude_data ? " nodata" : "");
	}
	return buf_steal(&b);
}

static const struct cat_table *
find_table(const struct catalog *cat, const char *schema, const char *name)
{
	for (size_t i = 0; i < cat->ntables; i++)
		if (strcmp(cat->tables[i].schema, schema) == 0 && strcmp(cat->tables[i].name, name) == 0)
			return &cat->tables[i];
	return NULL;
}

static char *
render_columns(const struct catalog *cat, const char *schema, const char *name)
{
	const struct cat_table *t = find_table(cat, schema, name);
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; t && i < t->ncols; i++) {
		const struct cat_column *c = &t->cols[i];

		buf_printf(&b, "%d %s %s%s%s", c->attnum, c->name, c->type,
				   c->not_null ? " not null" : "", c->generated ? " generated" : "");
		if (c->identity)
			buf_printf(&b, " identity=%c", c->identity);
		buf_putc(&b, '\n');
	}
	return buf_steal(&b);
}

static char *
render_indexes(const struct catalog *cat)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < cat->nindexes; i++) {
		const struct cat_index *ix = &cat->indexes[i];
		const struct cat_table *t = &cat->tables[ix->table];

		buf_printf(&b, "%s.%s on %s.%s%s%s%s", ix->schema, ix->name, t->schema, t->name,
				   ix->is_primary ? " primary" : "", ix->is_unique ? " unique" : "",
				   ix->backs_constraint ? " constraint" : "");
		if (ix->parent >= 0)
			buf_printf(&b, " parent=%s", cat->indexes[ix->parent].name);
		buf_printf(&b, ": %s\n", ix->def);
	}
	return buf_steal(&b);
}

static void
render_fk_target(struct buf *b, const struct catalog *cat, const struct cat_constraint *k)
{
	buf_printf(b, " -> %s.%s", k->ref_schema, k->ref_name);
	if (k->ref_table < 0)
		buf_puts(b, " [-1]");
	else
		buf_printf(b, " [%s.%s]", cat->tables[k->ref_table].schema,
				   cat->tables[k->ref_table].name);
}

static char *
render_constraints(const struct catalog *cat)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < cat->nconstraints; i++) {
		const struct cat_constraint *k = &cat->constraints[i];
		const struct cat_table *t = &cat->tables[k->table];

		buf_printf(&b, "%s.%s %s %c", t->schema, t->name, k->name, k->type);
		if (k->type == 'f')
			render_fk_target(&b, cat, k);
		if (k->index >= 0)
			buf_printf(&b, " index=%s", cat->indexes[k->index].name);
		buf_printf(&b, "%s%s: %s\n", k->validated ? "" : " NOT VALID",
				   k->inherited ? " inherited" : "", k->def);
	}
	return buf_steal(&b);
}

static char *
render_objects(const struct catalog *cat)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < cat->nsequences; i++) {
		const struct cat_sequence *s = &cat->sequences[i];

		buf_printf(&b, "sequence %s.%s", s->schema, s->name);
		if (s->owner_table)
			buf_printf(&b, " owned by %s.%s.%s", s->owner_schema, s->owner_table,
					   s->owner_column);
		buf_putc(&b, '\n');
	}
	for (size_t i = 0; i < cat->nviews; i++)
		buf_printf(&b, "%s %s.%s\n", cat->views[i].materialized ? "matview" : "view",
				   cat->views[i].schema, cat->views[i].name);
	for (size_t i = 0; i < cat->nschemas; i++)
		buf_printf(&b, "schema %s\n", cat->schemas[i]);
	return buf_steal(&b);
}

static char *
render_unmatched(const struct catalog *cat)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < cat->nunmatched; i++)
		buf_printf(&b, "%s %s %s\n", cat->unmatched[i].key, cat->unmatched[i].pattern,
				   cat->unmatched[i].is_include ? "include" : "exclude");
	return buf_steal(&b);
}

static char *
render_extensions(const struct catalog *cat)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < cat->nextensions; i++)
		buf_printf(&b, "%s@%s ", cat->extensions[i].name, cat->extensions[i].schema);
	return buf_steal(&b);
}

/* is_str on a rendered section; frees it. */
static void
check_text(char *got, const char *want, const char *name)
{
	is_str(got, want, name);
	free(got);
}

static bool
load(PGconn *conn, const struct plan *plan, struct catalog *cat, const char *what)
{
	struct pgs_error err;

	pgs_error_clear(&err);
	if (!ok(catalog_load(conn, plan, cat, &err), what)) {
		printf("#   %s\n#   hint: %s\n", err.message, err.hint);
		return false;
	}
	return true;
}

static void
test_read_only(PGconn *ro)
{
	PGresult *res = PQexec(ro, "SHOW default_transaction_read_only");
	struct pgs_error err;

	is_str(PQgetvalue(res, 0, 0), "on", "the session is read-only (default_transaction_read_only)");
	PQclear(res);
	pgs_error_clear(&err);
	ok(!pg_exec(ro, "CREATE TABLE app.must_fail (id integer)", 0, NULL, &err),
	   "a write on that session is refused");
	is_str(err.sqlstate, "25006", "with read_only_sql_transaction");
}

static void
test_plan_a_sections(const struct catalog *cat)
{
	check_text(render_tables(cat), expect_a_tables, "plan A: tables, partitions, replica identity, PK, data");
	check_text(render_columns(cat, "app", "orders"), expect_a_orders_cols,
			   "app.orders columns: identity, generated, types");
	check_text(render_columns(cat, "app", "we\"ird table"), expect_a_weird_cols,
			   "odd identifiers come back unquoted");
	check_text(render_indexes(cat), expect_a_indexes, "plan A: indexes of kept tables");
	check_text(render_constraints(cat), expect_a_constraints,
			   "plan A: constraints, FK targets, NOT VALID, inherited clones");
	check_text(render_objects(cat), expect_a_objects, "plan A: sequences with owners, views, schemas");
	check_text(render_unmatched(cat), expect_a_unmatched, "plan A: patterns that match nothing");
}

static void
test_plan_a_facts(const struct catalog *cat)
{
	const struct cat_table *customers = find_table(cat, "app", "customers");
	const struct cat_table *nopk = find_table(cat, "app", "nopk");
	const struct cat_table *events = find_table(cat, "app", "events");
	char *ext = render_extensions(cat);
	int64_t sum = 0;

	ok(cat->server_version_num >= 150000, "server_version_num read");
	is_str(cat->database, "postgres", "database name read");
	ok(!cat->has_large_objects, "no large objects on the source");
	is_int(customers ? customers->est_rows : -2, 3, "est_rows from reltuples after ANALYZE");
	is_int(nopk ? nopk->est_rows : -2, -1, "est_rows -1 for a never-analyzed table");
	ok(customers && customers->bytes > 0, "bytes from the heap and TOAST sizes");
	for (size_t i = 0; i < cat->ntables; i++)
		sum += cat->tables[i].bytes;
	is_int(cat->total_bytes, sum, "total_bytes is the sum over kept tables");
	ok(events && !cat_table_copies_data(events), "a partitioned parent copies no data itself");
	ok(customers && cat_table_copies_data(customers), "a plain table copies its data");
	if (getenv("HAVE_PGCRYPTO") && strcmp(getenv("HAVE_PGCRYPTO"), "1") == 0)
		is_str(ext, "pgcrypto@public ", "extensions after exclude_extensions");
	else
		printf("ok %d # skip pgcrypto is not available on this server\n", ++tap_count);
	free(ext);
}

static void
test_plan_b(PGconn *ro, const struct plan *plan)
{
	struct catalog cat;

	if (!load(ro, plan, &cat, "catalog_load with include filters"))
		return;
	check_text(render_tables(&cat), expect_b_tables, "plan B: included roots with all their partitions");
	check_text(render_constraints(&cat), expect_b_constraints,
			   "plan B: an FK to a table not migrated has ref_table -1");
	check_text(render_objects(&cat), expect_b_objects,
			   "plan B: only owned sequences of kept tables; only schemas holding them");
	check_text(render_unmatched(&cat), expect_b_unmatched,
			   "plan B: include patterns without effect are listed");
	catalog_free(&cat);
}

/* Without a plan only system, extension and pgshift's own objects are left out. */
static void
test_no_plan(PGconn *ro)
{
	struct catalog cat;
	char *tables, *objects;

	if (!load(ro, NULL, &cat, "catalog_load without a plan"))
		return;
	tables = render_tables(&cat);
	objects = render_objects(&cat);
	ok(strstr(tables, "scratch.junk r") && strstr(tables, "app.tmp_scratch r"),
	   "no plan: every user table is there");
	ok(!strstr(tables, "pgshift.") && !strstr(objects, "schema pgshift"),
	   "no plan: pgshift's own schema is never part of the catalog");
	ok(!strstr(tables, "ext_owned"), "no plan: a table owned by an extension is left out");
	ok(!strstr(objects, "pg_catalog") && !strstr(objects, "information_schema") &&
	   !strstr(objects, "pg_toast"), "no plan: no system schema");
	is_int(cat.nunmatched, 0, "no plan: nothing unmatched");
	free(tables);
	free(objects);
	catalog_free(&cat);
}

static char *
fingerprint(PGconn *ro, const struct plan *plan, const char *what)
{
	struct catalog cat;
	char *fp;

	if (!load(ro, plan, &cat, what))
		return xstrdup("(load failed)");
	fp = catalog_fingerprint(&cat);
	catalog_free(&cat);
	return fp ? fp : xstrdup("(no fingerprint)");
}

static void
test_fingerprint(PGconn *ro, PGconn *rw, const struct plan *plan)
{
	char *first = fingerprint(ro, plan, "first load for the fingerprint");
	char *second = fingerprint(ro, plan, "second load");
	char *after_data, *after_ddl;
	struct pgs_error err;

	is_int(strlen(first), 64, "fingerprint is sha256 hex");
	is_str(second, first, "fingerprint is stable across loads");
	pgs_error_clear(&err);
	ok(pg_exec(rw, "INSERT INTO app.nopk SELECT g, 'x' FROM generate_series(1, 500) g; "
				   "ANALYZE app.nopk", 0, NULL, &err), "rows written on the source");
	after_data = fingerprint(ro, plan, "load after new rows");
	is_str(after_data, first, "rows and statistics do not change the fingerprint");
	ok(pg_exec(rw, "ALTER TABLE app.nopk ADD COLUMN c integer", 0, NULL, &err),
	   "ALTER TABLE ... ADD COLUMN on the source");
	after_ddl = fingerprint(ro, plan, "load after ALTER TABLE");
	ok(strcmp(after_ddl, first) != 0, "a new column changes the fingerprint");
	free(first);
	free(second);
	free(after_data);
	free(after_ddl);
}

/*
 * Each index definition in turn replaces app.orders_lower_note: the
 * fingerprint (which reads the index's catalog columns, not its
 * pg_get_indexdef text) must change at each one, except where the same
 * definition is only spelled differently, and come back to the first value
 * when the first definition does.
 */
static const struct index_case {
	const char *def;            /* after CREATE [UNIQUE] INDEX orders_lower_note ON app.orders */
	bool same_as_before;
} index_cases[] = {
	{"INDEX orders_lower_note ON app.orders (  lower(  note ) )", true},
	{"INDEX orders_lower_note ON app.orders (upper(note))", false},
	{"INDEX orders_lower_note ON app.orders (note)", false},
	{"INDEX orders_lower_note ON app.orders (note DESC)", false},
	{"INDEX orders_lower_note ON app.orders (note DESC NULLS LAST)", false},
	{"INDEX orders_lower_note ON app.orders (note) WHERE qty > 1", false},
	{"INDEX orders_lower_note ON app.orders (note) WHERE qty > 2", false},
	{"INDEX orders_lower_note ON app.orders (note COLLATE \"C\") WHERE qty > 2", false},
	{"INDEX orders_lower_note ON app.orders (note text_pattern_ops) WHERE qty > 2", false},
	{"INDEX orders_lower_note ON app.orders (note, qty)", false},
	{"INDEX orders_lower_note ON app.orders (note) INCLUDE (qty)", false},
	{"INDEX orders_lower_note ON app.orders (qty) INCLUDE (note)", false},
	{"INDEX orders_lower_note ON app.orders USING hash (qty)", false},
	{"INDEX orders_lower_note ON app.orders USING hash (qty) WITH (fillfactor = 50)", false},
	{"UNIQUE INDEX orders_lower_note ON app.orders (id, note)", false},
	{"UNIQUE INDEX orders_lower_note ON app.orders (id, note) NULLS NOT DISTINCT", false},
	{"INDEX orders_lower_note ON app.orders (id, note)", false},
	{"INDEX orders_lower_note ON app.orders (lower(note))", false},
};

static void
test_fingerprint_indexes(PGconn *ro, PGconn *rw, const struct plan *plan)
{
	char *first = fingerprint(ro, plan, "load before the index changes");
	char *before = xstrdup(first), *now = NULL;
	struct pgs_error err;

	for (size_t i = 0; i < sizeof(index_cases) / sizeof(index_cases[0]); i++) {
		const struct index_case *c = &index_cases[i];
		char *sql = xasprintf("DROP INDEX app.orders_lower_note; CREATE %s", c->def);
		char *name = xasprintf("CREATE %s: the fingerprint %s", c->def,
							   c->same_as_before ? "stays" : "changes");

		pgs_error_clear(&err);
		if (!pg_exec(rw, sql, 0, NULL, &err))
			printf("#   %s: %s\n", sql, err.message);
		now = fingerprint(ro, plan, "load after an index change");
		ok(c->same_as_before == (strcmp(now, before) == 0), name);
		free(name);
		free(sql);
		free(before);
		before = now;
	}
	is_str(now, first, "the first definition again: the first fingerprint again");
	free(first);
	free(now);
}

/* Every section as text, the fingerprint and the sizes: what two loads must agree on. */
static char *
render_all(const struct catalog *cat)
{
	char *parts[4] = {render_tables(cat), render_indexes(cat), render_constraints(cat),
					  render_objects(cat)};
	char *fp = catalog_fingerprint(cat);
	char *all = xasprintf("%s\n%s\n%s\n%s\nfingerprint %s\nbytes %lld\n", parts[0], parts[1],
						  parts[2], parts[3], fp ? fp : "-", (long long) cat->total_bytes);

	for (int i = 0; i < 4; i++)
		free(parts[i]);
	free(fp);
	return all;
}

/*
 * plan reads no index definitions: its catalog must fingerprint as apply's
 * (read with them) does, or every `apply --expect` would see drift.
 */
static void
test_parallel_shapes(PGconn *ro, const struct pg_session *s, const struct plan *plan,
					 const struct catalog *with_defs)
{
	struct catalog cat;
	struct pgs_error err;
	size_t ndefs = 0;
	char *a, *b;

	pgs_error_clear(&err);
	if (!ok(catalog_load_parallel(ro, s, plan, false, &cat, &err),
			"catalog_load_parallel without definitions")) {
		printf("#   %s\n", err.message);
		return;
	}
	for (size_t i = 0; i < cat.nindexes; i++)
		ndefs += cat.indexes[i].def != NULL;
	is_int(cat.nindexes, with_defs->nindexes, "without definitions: the same indexes");
	is_int(ndefs, 0, "without definitions: no index definition read");
	a = catalog_fingerprint(with_defs);
	b = catalog_fingerprint(&cat);
	is_str(b, a, "without definitions: the fingerprint of the catalog read with them");
	free(a);
	free(b);
	catalog_free(&cat);
}

/*
 * With CAT_PARALLEL_MIN_TABLES tables, catalog_load_parallel reads on
 * CAT_SESSIONS sessions, parts of the indexes and sizes on each: the
 * catalog must be the one catalog_load reads on one session, to the byte.
 */
static void
test_parallel(PGconn *ro, PGconn *rw, const struct plan *plan)
{
	struct pg_session s = {"source", "pgshift test", true, false, false, true};
	struct catalog one, many;
	struct pgs_error err;
	bool made = true;

	pgs_error_clear(&err);
	/* in batches: the server's lock table has room for about 6,400 locks */
	made = pg_exec(rw, "CREATE SCHEMA bulk", 0, NULL, &err);
	for (int from = 1; made && from <= CAT_PARALLEL_MIN_TABLES + 100; from += 200) {
		char *sql = xasprintf("DO $$ BEGIN FOR i IN %d..%d LOOP EXECUTE format("
							  "'CREATE TABLE bulk.t%%s (id int PRIMARY KEY, v text); "
							  "CREATE INDEX ON bulk.t%%s (v); "
							  "INSERT INTO bulk.t%%s SELECT g, g::text FROM generate_series(1, %%s) g',"
							  " i, i, i, i * 37 %% 400); END LOOP; END $$", from, from + 199);

		made = pg_exec(rw, sql, 0, NULL, &err);
		free(sql);
	}
	if (!ok(made, "1,200 more tables on the source"))
		printf("#   %s\n", err.message);
	if (load(ro, plan, &one, "catalog_load of the bulk source")) {
		pgs_error_clear(&err);
		if (ok(catalog_load_parallel(ro, &s, plan, true, &many, &err), "catalog_load_parallel")) {
			char *a = render_all(&one), *b = render_all(&many);

			is_int(one.read_sessions, 1, "catalog_load reads on one session");
			is_int(many.read_sessions, CAT_SESSIONS, "catalog_load_parallel on CAT_SESSIONS");
			ok(many.ntables > CAT_PARALLEL_MIN_TABLES, "enough tables for the parallel read");
			is_str(b, a, "the same catalog, index order, sizes and fingerprint");
			free(a);
			free(b);
			catalog_free(&many);
		} else
			printf("#   %s\n", err.message);
		test_parallel_shapes(ro, &s, plan, &one);
		catalog_free(&one);
	}
	for (int from = 1; made && from <= CAT_PARALLEL_MIN_TABLES + 100; from += 200) {
		char *sql = xasprintf("DO $$ BEGIN FOR i IN %d..%d LOOP"
							  " EXECUTE format('DROP TABLE bulk.t%%s', i); END LOOP; END $$",
							  from, from + 199);

		made = pg_exec(rw, sql, 0, NULL, &err);
		free(sql);
	}
	ok(made && pg_exec(rw, "DROP SCHEMA bulk", 0, NULL, &err), "bulk tables dropped");
}

static void
run(PGconn *ro, PGconn *rw, struct plan *a, struct plan *b)
{
	struct catalog cat;

	test_read_only(ro);
	if (load(ro, a, &cat, "catalog_load on a read-only session")) {
		test_plan_a_sections(&cat);
		test_plan_a_facts(&cat);
		catalog_free(&cat);
	}
	test_plan_b(ro, b);
	test_no_plan(ro);
	test_fingerprint(ro, rw, a);
	test_fingerprint_indexes(ro, rw, a);
	test_parallel(ro, rw, a);
}

int
main(void)
{
	const char *uri = getenv("SOURCE_URI");
	struct plan *a, *b;
	PGconn *ro, *rw;

	if (!uri) {
		printf("1..0 # SKIP SOURCE_URI is not set (run tests/integration/catalog.t)\n");
		return 0;
	}
	a = pgtest_load_plan(plan_a);
	b = pgtest_load_plan(plan_b);
	ro = pgtest_connect(uri, "source", true);
	rw = ro ? pgtest_connect(uri, "source", false) : NULL;
	if (!a || !b || !ro || !rw) {
		printf("Bail out! setup failed (see above)\n");
		return 1;
	}
	run(ro, rw, a, b);
	PQfinish(ro);
	PQfinish(rw);
	plan_free(a);
	plan_free(b);
	return done_testing();
}
