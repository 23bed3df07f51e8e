/*
 * verify level checksum: per table, count(*) and the sum of the first 64
 * bits of md5 of every row's text form (as UTF-8), on both servers. A sum
 * does not depend on row order, so physical layout and copy order do not matter;
 * the row is built from the source's column list by name, so a column
 * order that differs on the target does not either. Sessions come from
 * pg_connect, which fixes every setting that changes a value's text form.
 *
 * Tables larger than copy.split_tables_larger_than with a one-column
 * integer primary key are cut into copy.split_max_parts key ranges (ctid
 * ranges would not match: the two servers lay rows out differently).
 * Tasks (a table or a range) go to copy.table_jobs threads, each with its
 * own source and target session; a task sends its query to both servers
 * at once and compares the answers.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "util/buf.h"
#include "util/xalloc.h"
#include "verify/verify.h"

struct task {
	size_t table;
	char *where;                /* owned; "" for the whole table */
	char *range;                /* owned; how the report names the range, NULL when whole */
};

struct checksum_job {
	const struct plan *plan;
	const struct catalog *cat;
	struct verify_report *r;
	struct task *tasks;         /* owned */
	size_t ntasks;
	atomic_size_t next;
	atomic_bool failed;
	pthread_mutex_t err_lock;   /* guards err */
	struct pgs_error err;       /* the first failure */
};

/* The integer PK column of a table worth splitting, or NULL. */
static char *
split_key(PGconn *src, const struct cat_table *t, struct pgs_error *err)
{
	static const char sql[] =
		"SELECT a.attname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a"
		" ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
		" WHERE i.indrelid = $1::pg_catalog.regclass AND i.indisprimary AND i.indnkeyatts = 1"
		" AND a.atttypid IN ('int2'::pg_catalog.regtype, 'int4'::pg_catalog.regtype,"
		" 'int8'::pg_catalog.regtype)";
	char *q = pg_quote_qualified(src, t->schema, t->name);
	const char *params[1] = {q};
	PGresult *res = pg_query(src, sql, 1, params, err);
	char *key = res && PQntuples(res) == 1 ? xstrdup(PQgetvalue(res, 0, 0)) : NULL;

	PQclear(res);
	free(q);
	return key;
}

static void
add_task(struct checksum_job *j, size_t *cap, size_t table, char *where, char *range)
{
	if (j->ntasks == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		j->tasks = xrealloc(j->tasks, *cap * sizeof(*j->tasks));
	}
	j->tasks[j->ntasks++] = (struct task) {table, where, range};
}

/* Key ranges [lo + k*step, ...) with open first and last ranges. */
static bool
add_ranges(struct checksum_job *j, size_t *cap, PGconn *src, size_t t, const char *key,
		   struct pgs_error *err)
{
	const struct cat_table *tab = &j->cat->tables[t];
	char *q = pg_quote_qualified(src, tab->schema, tab->name), *k = pg_quote_ident(src, key);
	char *sql = xasprintf("SELECT min(%s), max(%s) FROM ONLY %s", k, k, q);
	PGresult *res = pg_query(src, sql, 0, NULL, err);
	long long lo = 0, hi = 0, span, step, parts = j->plan->copy.split_max_parts;
	bool ok = res != NULL;

	if (ok && !PQgetisnull(res, 0, 0)) {
		lo = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		hi = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	}
	/* a span beyond long long (keys at both ends of int8) is checked whole */
	if (ok && parts > 1 && hi > lo && !__builtin_sub_overflow(hi, lo, &span) &&
		span / parts < LLONG_MAX / parts - 1) {
		step = span / parts + 1;
		for (long long p = 0; p < parts; p++) {
			long long a = lo + p * step, b = a + step;
			char *w = p == 0 ? xasprintf(" WHERE %s < %lld", k, b) :
				p == parts - 1 ? xasprintf(" WHERE %s >= %lld", k, a) :
				xasprintf(" WHERE %s >= %lld AND %s < %lld", k, a, k, b);

			add_task(j, cap, t, w, xasprintf("%s in [%lld, %lld)", key, a, b));
		}
	} else if (ok)
		add_task(j, cap, t, xstrdup(""), NULL);
	PQclear(res);
	free(sql);
	free(k);
	free(q);
	return ok;
}

static bool
plan_tasks(struct checksum_job *j, PGconn *src, struct pgs_error *err)
{
	size_t cap = 0;

	for (size_t t = 0; t < j->cat->ntables; t++) {
		const struct cat_table *tab = &j->cat->tables[t];
		char *key = NULL;
		bool ok = true;

		if (!cat_table_copies_data(tab) || j->r->entries[t].missing)
			continue;
		if (tab->bytes > j->plan->copy.split_tables_larger_than)
			key = split_key(src, tab, err);
		if (key)
			ok = add_ranges(j, &cap, src, t, key, err);
		else
			add_task(j, &cap, t, xstrdup(""), NULL);
		free(key);
		if (!ok)
			return false;
	}
	return true;
}

static char *
task_sql(PGconn *conn, const struct cat_table *t, const struct task *task)
{
	char *q = pg_quote_qualified(conn, t->schema, t->name), *sql;
	struct buf row;

	buf_init(&row);
	for (size_t c = 0; c < t->ncols; c++) {
		char *col = pg_quote_ident(conn, t->cols[c].name);

		buf_printf(&row, "%st.%s", c ? ", " : "", col);
		free(col);
	}
	/*
	 * ROW(...) of one column is still a composite: "(v)". The text is
	 * hashed as UTF-8 bytes, not in the database's encoding: a LATIN1
	 * source and a UTF8 target hold the same "é" in different bytes.
	 */
	sql = xasprintf("SELECT count(*), coalesce(sum(('x' || substr(pg_catalog.md5("
					"pg_catalog.convert_to(ROW(%s)::pg_catalog.text, 'UTF8')), 1, 16))"
					"::bit(64)::bigint::numeric), 0) FROM ONLY %s t%s",
					row.len ? row.data : "", q, task->where);
	buf_free(&row);
	free(q);
	return sql;
}

static bool
send_query(PGconn *conn, const char *sql, struct pgs_error *err)
{
	if (!PQsendQuery(conn, sql))
		return pgs_fail(err, "could not send the checksum query: %s", PQerrorMessage(conn));
	return true;
}

static PGresult *
collect(PGconn *conn, struct pgs_error *err)
{
	PGresult *res = NULL, *r;

	while ((r = PQgetResult(conn)) != NULL) {
		if (res)
			PQclear(res);
		res = r;
	}
	if (res && PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_fail_result(err, res, "checksum query");
		PQclear(res);
		return NULL;
	}
	if (!res)
		pgs_fail(err, "the checksum query returned nothing");
	return res;
}

static bool
run_task(struct checksum_job *j, PGconn *src, PGconn *dst, const struct task *task,
		 struct pgs_error *err)
{
	const struct cat_table *t = &j->cat->tables[task->table];
	char *sql = task_sql(src, t, task);
	PGresult *a = NULL, *b = NULL;
	bool ok = send_query(src, sql, err) && send_query(dst, sql, err);

	a = collect(src, err);
	b = collect(dst, err);
	ok = ok && a && b;
	if (ok) {
		long long na = strtoll(PQgetvalue(a, 0, 0), NULL, 10);
		long long nb = strtoll(PQgetvalue(b, 0, 0), NULL, 10);
		struct verify_entry *e = &j->r->entries[task->table];
		const char *in = task->range ? task->range : "the table";

		pthread_mutex_lock(&j->r->lock);
		e->src_rows = (e->src_rows < 0 ? 0 : e->src_rows) + na;
		e->dst_rows = (e->dst_rows < 0 ? 0 : e->dst_rows) + nb;
		pthread_mutex_unlock(&j->r->lock);
		if (na != nb)
			verify_note(j->r, task->table, VS_FAIL, "row count differs in %s (%s %lld, %s %lld)",
						in, j->r->src_side, na, j->r->dst_side, nb);
		else if (strcmp(PQgetvalue(a, 0, 1), PQgetvalue(b, 0, 1)) != 0)
			verify_note(j->r, task->table, VS_FAIL, "checksum differs in %s: row values differ",
						in);
	} else
		pgs_error_prefix(err, "could not checksum %s.%s", t->schema, t->name);
	PQclear(a);
	PQclear(b);
	free(sql);
	return ok;
}

static void
fail_job(struct checksum_job *j, const struct pgs_error *err)
{
	pthread_mutex_lock(&j->err_lock);
	if (!atomic_exchange(&j->failed, true))
		j->err = *err;
	pthread_mutex_unlock(&j->err_lock);
}

static void *
worker(void *arg)
{
	struct checksum_job *j = arg;
	struct pgs_error err;
	PGconn *src, *dst = NULL;
	size_t i;

	pgs_error_clear(&err);
	src = verify_connect(j->plan->source_uri, "source", j->r->app_name, &err);
	dst = src ? verify_connect(j->plan->target_uri, "target", j->r->app_name, &err) : NULL;
	if (!dst)
		fail_job(j, &err);
	while (dst && !atomic_load(&j->failed) && (i = atomic_fetch_add(&j->next, 1)) < j->ntasks)
		if (!run_task(j, src, dst, &j->tasks[i], &err))
			fail_job(j, &err);
	PQfinish(src);
	PQfinish(dst);
	return NULL;
}

static bool
run_workers(struct checksum_job *j, struct pgs_error *err)
{
	size_t n = j->plan->copy.table_jobs > 0 ? (size_t) j->plan->copy.table_jobs : 1;
	pthread_t *th;
	size_t started = 0;

	if (n > j->ntasks)
		n = j->ntasks ? j->ntasks : 1;
	th = xcalloc(n, sizeof(*th));
	for (; started < n; started++)
		if (pthread_create(&th[started], NULL, worker, j) != 0)
			break;
	if (started == 0)
		worker(j);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	if (atomic_load(&j->failed))
		*err = j->err;
	return !atomic_load(&j->failed);
}

bool
verify_checksums(const struct plan *plan, const struct catalog *cat, PGconn *src,
				 struct verify_report *r, struct pgs_error *err)
{
	struct checksum_job j = {.plan = plan, .cat = cat, .r = r};
	bool ok;

	pthread_mutex_init(&j.err_lock, NULL);
	pgs_error_clear(&j.err);
	ok = plan_tasks(&j, src, err) && run_workers(&j, err);
	for (size_t i = 0; i < j.ntasks; i++) {
		free(j.tasks[i].where);
		free(j.tasks[i].range);
	}
	free(j.tasks);
	pthread_mutex_destroy(&j.err_lock);
	return ok;
}
