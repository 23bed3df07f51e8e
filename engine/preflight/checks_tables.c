/*
 * Checks of what the catalog selected: tables CDC cannot replicate (no usable
 * replica identity, UNLOGGED), extensions
 * the target cannot create, target tables that already hold rows, and filter
 * patterns that matched nothing (a typo in include_tables would otherwise
 * migrate less than the operator thinks).
 */
#include <stdlib.h>
#include <string.h>

#include "cdc/identity.h"
#include "pg/conn.h"
#include "preflight/preflight_int.h"
#include "util/xalloc.h"

static char *
table_name(const struct cat_table *t)
{
	return xasprintf("%s.%s", t->schema, t->name);
}

/* "public.t (no primary key): ALTER TABLE "public"."t" REPLICA IDENTITY FULL;" */
static void
append_identity_fix(struct pf_ctx *c, struct buf *b, const struct cat_table *t,
					enum identity_fix fix, size_t i, size_t n)
{
	char *sql = identity_alter_sql(c->src, t->schema, t->name, (char) fix,
								   fix == IDENTITY_INDEX ? t->identity_candidate : NULL);
	char *item = xasprintf("%s.%s (%s): %s;", t->schema, t->name, identity_problem(t), sql);

	pf_list_append(b, i, n, item);
	free(item);
	free(sql);
}

/*
 * Once published, a table without a usable replica identity refuses every
 * UPDATE and DELETE of the application (cdc/identity.h holds the rule the
 * snapshot step applies). Tables whose data is not copied are not published.
 */
static void
check_replica_identity(struct pf_ctx *c)
{
	const struct catalog *cat = c->cat;
	size_t n = 0, i = 0;
	struct buf b;
	bool full = c->plan->cdc.replica_identity == REPLICA_IDENTITY_FULL;

	for (size_t k = 0; k < cat->ntables; k++)
		n += identity_needed(&cat->tables[k]) != IDENTITY_KEEP;
	buf_init(&b);
	if (n == 0)
		buf_puts(&b, "none");
	for (size_t k = 0; k < cat->ntables; k++) {
		enum identity_fix fix = identity_needed(&cat->tables[k]);

		if (fix != IDENTITY_KEEP)
			append_identity_fix(c, &b, &cat->tables[k], fix, i++, n);
	}
	if (n > 0 && full)
		pf_add_cdc(c, "replica_identity", CHECK_WARN, buf_steal(&b),
				   "pgshift will set these replica identities before the publication exists, "
				   "recorded on the target; `pgshift cleanup --restore-identity` puts the old identities back");
	else
		pf_add_cdc(c, "replica_identity", n > 0 ? CHECK_FAIL : CHECK_PASS, buf_steal(&b),
				   "run the statement shown for each table on the source (or add a primary key), "
				   "or set cdc.replica_identity: full to let pgshift run them");
}

/*
 * Rows CDC cannot carry: an UNLOGGED table is not written to WAL and no
 * publication accepts it, so the snapshot step would fail after schema.pre.
 */
static void
check_unlogged(struct pf_ctx *c)
{
	const struct catalog *cat = c->cat;
	size_t n = 0, i = 0;
	struct buf b;

	for (size_t k = 0; k < cat->ntables; k++)
		n += cat_table_copies_data(&cat->tables[k]) && cat->tables[k].unlogged;
	buf_init(&b);
	if (n == 0)
		buf_puts(&b, "none");
	for (size_t k = 0; k < cat->ntables; k++) {
		const struct cat_table *t = &cat->tables[k];
		char *name;

		if (!cat_table_copies_data(t) || !t->unlogged)
			continue;
		name = table_name(t);
		pf_list_append(&b, i++, n, name);
		free(name);
	}
	pf_add_cdc(c, "unlogged_tables", n > 0 ? CHECK_FAIL : CHECK_PASS, buf_steal(&b),
			   "CDC cannot carry their rows: list them in filters.exclude_table_data (the table "
			   "moves, its rows do not), or ALTER TABLE ... SET LOGGED on the source");
}

static bool
available(const PGresult *res, const char *name)
{
	for (int r = 0; r < PQntuples(res); r++)
		if (strcmp(PQgetvalue(res, r, 0), name) == 0)
			return true;
	return false;
}

static void
check_extensions(struct pf_ctx *c)
{
	const struct catalog *cat = c->cat;
	PGresult *res;
	struct buf b;
	size_t missing = 0, i = 0;

	if (!c->dst) {
		pf_no_target(c, "extensions");
		return;
	}
	res = pf_query(c->dst, "SELECT name FROM pg_available_extensions", 0, NULL);
	if (!res) {
		pf_query_failed(c, "extensions", c->dst, NULL);
		return;
	}
	for (size_t k = 0; k < cat->nextensions; k++)
		missing += !available(res, cat->extensions[k].name);
	buf_init(&b);
	if (missing == 0)
		buf_printf(&b, "all %zu available on the target", cat->nextensions);
	else
		buf_puts(&b, "not available on the target: ");
	for (size_t k = 0; k < cat->nextensions && missing > 0; k++)
		if (!available(res, cat->extensions[k].name))
			pf_list_append(&b, i++, missing, cat->extensions[k].name);
	PQclear(res);
	pf_add_owned(c, "extensions", missing > 0 ? CHECK_FAIL : CHECK_PASS, buf_steal(&b),
				 "install the packages that provide them on the target, "
				 "or list them in filters.exclude_extensions");
}

/* The target's tables, sorted by (schema, name), so each catalog table is one bsearch. */
struct qname {
	const char *schema, *name;
};

static int
qname_cmp(const void *a, const void *b)
{
	const struct qname *x = a, *y = b;
	int d = strcmp(x->schema, y->schema);

	return d ? d : strcmp(x->name, y->name);
}

enum row_state { ROWS_NONE, ROWS_SOME, ROWS_UNREADABLE };

/*
 * One table on its own (when its batch failed, this tells which table it
 * was). Cheap: stops at the first row, and ONLY keeps a parent from
 * counting its partitions.
 */
static enum row_state
table_rows(PGconn *dst, const struct cat_table *t)
{
	char *qualified = pg_quote_qualified(dst, t->schema, t->name);
	char *sql = xasprintf("SELECT EXISTS (SELECT 1 FROM ONLY %s LIMIT 1)", qualified);
	PGresult *res = pf_query(dst, sql, 0, NULL);
	enum row_state st = ROWS_UNREADABLE;

	if (res)
		st = strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? ROWS_SOME : ROWS_NONE;
	PQclear(res);
	free(sql);
	free(qualified);
	return st;
}

/* Table names (owned) found with rows, and those the target role could not read. */
struct nonempty {
	char **some, **unreadable;
	size_t nsome, nunreadable;
};

static void
push_name(char ***list, size_t *n, char *name)
{
	*list = xrealloc(*list, (*n + 1) * sizeof(**list));
	(*list)[(*n)++] = name;
}

static void
render_names(struct buf *b, char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pf_list_append(b, i, n, list[i]);
}

static void
free_names(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static void
note_rows(struct nonempty *ne, const struct cat_table *t, enum row_state st)
{
	if (st == ROWS_SOME)
		push_name(&ne->some, &ne->nsome, table_name(t));
	else if (st == ROWS_UNREADABLE)
		push_name(&ne->unreadable, &ne->nunreadable, table_name(t));
}

/*
 * One query per EXISTS_BATCH tables, one EXISTS column each: a round trip
 * and a plan per table made a 10,000-table target take seconds. Small
 * enough that the locks one statement takes (a table and its indexes each)
 * stay far below max_locks_per_transaction's shared table. A batch that
 * fails (a table the role may not read, or one dropped meanwhile) is asked
 * again table by table, so each table gets its own answer.
 */
enum { EXISTS_BATCH = 100 };

static void
check_batch(struct pf_ctx *c, const struct cat_table **ts, size_t n, struct nonempty *ne)
{
	struct buf sql;
	PGresult *res;

	buf_init(&sql);
	buf_puts(&sql, "SELECT ");
	for (size_t i = 0; i < n; i++) {
		char *qualified = pg_quote_qualified(c->dst, ts[i]->schema, ts[i]->name);

		buf_printf(&sql, "%sEXISTS (SELECT 1 FROM ONLY %s LIMIT 1)", i ? ", " : "", qualified);
		free(qualified);
	}
	res = pf_query(c->dst, sql.data, 0, NULL);
	buf_free(&sql);
	for (size_t i = 0; i < n; i++)
		note_rows(ne, ts[i], !res ? table_rows(c->dst, ts[i])
				  : strcmp(PQgetvalue(res, 0, (int) i), "t") == 0 ? ROWS_SOME : ROWS_NONE);
	PQclear(res);
}

static void
scan_target_tables(struct pf_ctx *c, const PGresult *res, struct nonempty *ne)
{
	size_t ntarget = (size_t) PQntuples(res), n = 0;
	struct qname *names = xcalloc(ntarget ? ntarget : 1, sizeof(*names));
	const struct cat_table **found;

	for (size_t r = 0; r < ntarget; r++) {
		names[r].schema = PQgetvalue(res, (int) r, 0);
		names[r].name = PQgetvalue(res, (int) r, 1);
	}
	qsort(names, ntarget, sizeof(*names), qname_cmp);
	found = xcalloc(c->cat->ntables + 1, sizeof(*found));
	for (size_t k = 0; k < c->cat->ntables; k++) {
		const struct cat_table *t = &c->cat->tables[k];
		struct qname key = {t->schema, t->name};

		if (cat_table_copies_data(t) && bsearch(&key, names, ntarget, sizeof(*names), qname_cmp))
			found[n++] = t;
	}
	for (size_t k = 0; k < n; k += EXISTS_BATCH)
		check_batch(c, found + k, n - k < EXISTS_BATCH ? n - k : EXISTS_BATCH, ne);
	free(found);
	free(names);
}

static void
report_nonempty(struct pf_ctx *c, struct nonempty *ne)
{
	/* resuming: the rows are this plan's own, and unfinished copies start over */
	bool require = c->plan->copy.require_empty_target && !c->resuming;
	enum check_status st = ne->nsome > 0 ? (require ? CHECK_FAIL : c->resuming ? CHECK_PASS : CHECK_WARN)
		: ne->nunreadable > 0 ? CHECK_WARN : CHECK_PASS;
	struct buf b;

	buf_init(&b);
	if (ne->nsome == 0 && ne->nunreadable == 0)
		buf_puts(&b, "none");
	if (ne->nsome > 0) {
		buf_printf(&b, "%zu with rows: ", ne->nsome);
		render_names(&b, ne->some, ne->nsome);
	}
	if (ne->nunreadable > 0) {
		buf_printf(&b, "%scould not read %zu: ", b.len ? "; " : "", ne->nunreadable);
		render_names(&b, ne->unreadable, ne->nunreadable);
	}
	if (c->resuming && ne->nsome > 0)
		buf_puts(&b, " (resuming: rows of the earlier attempt)");
	pf_add_owned(c, "target_tables_empty", st, buf_steal(&b),
				 ne->nsome == 0 ? "grant SELECT on them to the target role"
				 : require ? "empty (TRUNCATE) or drop them on the target, "
				 "or set copy.require_empty_target: false"
				 : "their rows will be replaced: each is truncated before its copy");
}

static void
check_target_empty(struct pf_ctx *c)
{
	struct nonempty ne = {0};
	PGresult *res;

	if (!c->dst) {
		pf_no_target(c, "target_tables_empty");
		return;
	}
	res = pf_query(c->dst,
				   "SELECT n.nspname, c.relname FROM pg_class c"
				   " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r'",
				   0, NULL);
	if (!res) {
		pf_query_failed(c, "target_tables_empty", c->dst, NULL);
		return;
	}
	scan_target_tables(c, res, &ne);
	PQclear(res);
	report_nonempty(c, &ne);
	free_names(ne.some, ne.nsome);
	free_names(ne.unreadable, ne.nunreadable);
}

/*
 * An exclude of schemas or extensions that are absent is what a ready plan
 * for a provider is made of (rds-aurora.yaml excludes rdsadmin on every
 * source): said, not warned about. An unmatched table exclude is more
 * likely a typo that lets data through: WARN. An unmatched include: FAIL.
 */
static bool
absence_is_fine(const struct cat_unmatched *u)
{
	return !u->is_include && (strcmp(u->key, "filters.exclude_schemas") == 0 ||
							  strcmp(u->key, "filters.exclude_extensions") == 0);
}

static void
check_filters(struct pf_ctx *c)
{
	const struct catalog *cat = c->cat;
	bool any_include = false, any_warn = false;
	struct buf b, absent;

	buf_init(&b);
	buf_init(&absent);
	for (size_t k = 0; k < cat->nunmatched; k++) {
		const struct cat_unmatched *u = &cat->unmatched[k];
		bool fine = absence_is_fine(u);
		struct buf *into = fine ? &absent : &b;

		any_include |= u->is_include;
		any_warn |= !fine;
		buf_printf(into, "%s%s \"%s\"", into->len ? "; " : "", u->key, u->pattern);
		if (!fine)
			buf_puts(into, " matched nothing");
	}
	if (b.len == 0)
		buf_puts(&b, "every pattern matched");
	if (absent.len > 0)
		buf_printf(&b, " (not on this source, nothing to exclude: %s)", absent.data);
	buf_free(&absent);
	pf_add_owned(c, "filters",
				 any_include ? CHECK_FAIL : any_warn ? CHECK_WARN : CHECK_PASS,
				 buf_steal(&b),
				 any_include ? "fix or remove the include pattern: as written it selects nothing"
				 : "remove the exclude pattern or fix its spelling");
}

void
pf_checks_tables(struct pf_ctx *c)
{
	check_replica_identity(c);
	check_unlogged(c);
	check_extensions(c);
	check_target_empty(c);
	check_filters(c);
}
