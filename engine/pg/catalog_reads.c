/*
 * Runs the catalog reads that follow the tables' (catalog_int.h) on one
 * session or several. With several, each session sends its next query as
 * soon as it is free, so the server computes them side by side (the index
 * definitions and relation sizes, split in parts, at least one per session,
 * are most of the time at 10,000 tables and more), and the rows are still taken in
 * one fixed order, so the catalog does not depend on which query finished
 * first. A result waits, held, only until the reads before it are taken.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "pg/catalog_int.h"
#include "pg/conn.h"
#include "pg/retry.h"
#include "util/buf.h"
#include "util/xalloc.h"

enum cat_param { NO_PARAM, TABLE_PART, PUBLICATION };

struct cat_read {
	const char *sql;
	const char *sql_before15;   /* for PostgreSQL 14 and older, when it differs */
	enum cat_param param;
	bool definitions;           /* binds ctx->definitions as $2 */
	void (*take)(struct cat_load *ctx, const PGresult *res);
	void (*after)(struct cat_load *ctx);    /* once its last part is taken, or NULL */
};

/*
 * In the order their rows are taken: indexes before constraints (which name
 * them), sequences and views before globals (publication members of their
 * schemas). The slowest first, so that they start first.
 */
static const struct cat_read reads[] = {
	{cat_indexes_sql, cat_indexes_sql_before15, TABLE_PART, true, cat_read_indexes,
	 cat_link_indexes},
	{cat_sizes_sql, NULL, TABLE_PART, false, cat_read_sizes, NULL},
	{cat_constraints_sql, NULL, TABLE_PART, false, cat_read_constraints, cat_sort_constraints},
	{cat_columns_sql, NULL, TABLE_PART, false, cat_read_columns, cat_columns_done},
	{cat_sequences_sql, NULL, NO_PARAM, false, cat_read_sequences, NULL},
	{cat_extensions_sql, NULL, NO_PARAM, false, cat_read_extensions, NULL},
	{cat_views_sql, NULL, NO_PARAM, false, cat_read_views, NULL},
	{cat_globals_sql, NULL, PUBLICATION, false, cat_read_globals, NULL},
};

#define NREADS (sizeof(reads) / sizeof(reads[0]))

struct job {
	const struct cat_read *read;
	const char *param;          /* borrowed; NULL for none */
	bool last_part;
	PGresult *res;              /* owned once it came back, until taken */
};

struct runner {
	struct cat_load *ctx;
	PGconn *const *conns;
	size_t nconns;
	long *busy;                 /* per session: the job it runs, or -1 */
	struct job *jobs;
	size_t njobs, sent, taken;
	char **parts;               /* owned; the kept tables' oids in nparts parts */
	size_t nparts;
};

/*
 * A part is at most this many tables (and there is at least one part per
 * session): a result waits, held whole, until the reads before it are
 * taken, and at 100,000 tables one result of every column was 64 MB.
 */
#define PART_TABLES 10000

/* Round robin, so each part has big and small tables alike. */
static char **
split_tables(const struct catalog *cat, size_t nparts)
{
	struct buf *b = xcalloc(nparts, sizeof(*b));
	char **parts = xcalloc(nparts, sizeof(char *));

	for (size_t k = 0; k < nparts; k++) {
		buf_init(&b[k]);
		buf_putc(&b[k], '{');
	}
	for (size_t i = 0; i < cat->ntables; i++)
		buf_printf(&b[i % nparts], "%s%u", i < nparts ? "" : ",", cat->tables[i].oid);
	for (size_t k = 0; k < nparts; k++) {
		buf_putc(&b[k], '}');
		parts[k] = buf_steal(&b[k]);
	}
	free(b);
	return parts;
}

static void
free_parts(char **parts, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(parts[k]);
	free(parts);
}

static void
add_job(struct runner *r, const struct cat_read *read, const char *param, bool last)
{
	r->jobs[r->njobs++] = (struct job) {.read = read, .param = param, .last_part = last};
}

static void
make_jobs(struct runner *r)
{
	const struct plan *plan = r->ctx->plan;
	const char *publication = plan && plan->cdc.publication ? plan->cdc.publication : "";

	r->jobs = xcalloc(NREADS * r->nparts, sizeof(*r->jobs));
	for (size_t i = 0; i < NREADS; i++) {
		if (reads[i].param == TABLE_PART)
			for (size_t k = 0; k < r->nparts; k++)
				add_job(r, &reads[i], r->parts[k], k + 1 == r->nparts);
		else
			add_job(r, &reads[i], reads[i].param == PUBLICATION ? publication : NULL, true);
	}
}

static bool
query_failed(struct runner *r, PGconn *conn, const PGresult *res, const char *sql)
{
	char what[128];

	snprintf(what, sizeof(what), "query failed (%.60s...)", sql);
	if (res)
		pg_fail_result(r->ctx->err, res, what);
	else
		pgs_fail(r->ctx->err, "%s: %s", what, PQerrorMessage(conn));
	pg_error_mark_lost(r->ctx->err, conn);
	return false;
}

static const char *
job_sql(const struct runner *r, const struct job *job)
{
	if (job->read->sql_before15 && r->ctx->cat->server_version_num < 150000)
		return job->read->sql_before15;
	return job->read->sql;
}

static bool
send_next(struct runner *r, size_t c)
{
	struct job *job = &r->jobs[r->sent];
	const char *params[2] = {job->param, r->ctx->definitions ? "t" : "f"};
	int nparams = !job->param ? 0 : job->read->definitions ? 2 : 1;

	if (!PQsendQueryParams(r->conns[c], job_sql(r, job), nparams, NULL,
						   nparams ? params : NULL, NULL, NULL, 0))
		return query_failed(r, r->conns[c], NULL, job_sql(r, job));
	r->busy[c] = (long) r->sent++;
	return true;
}

/* Takes session c's result if it is complete; false when the query failed. */
static bool
collect(struct runner *r, size_t c)
{
	PGconn *conn = r->conns[c];
	struct job *job = &r->jobs[r->busy[c]];
	PGresult *res, *more;
	bool ok;

	if (!PQconsumeInput(conn))
		return query_failed(r, conn, NULL, job->read->sql);
	if (PQisBusy(conn))
		return true;
	res = PQgetResult(conn);
	while ((more = PQgetResult(conn)))
		PQclear(more);
	r->busy[c] = -1;
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (ok)
		job->res = res;
	else {
		query_failed(r, conn, res, job->read->sql);
		PQclear(res);
	}
	return ok;
}

static void
take_ready(struct runner *r)
{
	while (r->taken < r->njobs && r->jobs[r->taken].res) {
		struct job *job = &r->jobs[r->taken++];

		job->read->take(r->ctx, job->res);
		PQclear(job->res);
		job->res = NULL;
		if (job->last_part && job->read->after)
			job->read->after(r->ctx);
	}
}

/* Blocks until a busy session has something to read. */
static bool
wait_input(struct runner *r)
{
	struct pollfd *fds = xcalloc(r->nconns, sizeof(*fds));
	nfds_t n = 0;
	int rc;

	for (size_t c = 0; c < r->nconns; c++)
		if (r->busy[c] >= 0)
			fds[n++] = (struct pollfd) {.fd = PQsocket(r->conns[c]), .events = POLLIN};
	do
		rc = n ? poll(fds, n, -1) : 0;
	while (rc < 0 && errno == EINTR);
	free(fds);
	if (rc < 0)
		return pgs_fail(r->ctx->err, "could not wait for the catalog queries: %m");
	return true;
}

static bool
run_all(struct runner *r)
{
	while (r->taken < r->njobs) {
		for (size_t c = 0; c < r->nconns; c++)
			if (r->busy[c] < 0 && r->sent < r->njobs && !send_next(r, c))
				return false;
		for (size_t c = 0; c < r->nconns; c++)
			if (r->busy[c] >= 0 && !collect(r, c))
				return false;
		take_ready(r);
		if (r->taken < r->njobs && !wait_input(r))
			return false;
	}
	return true;
}

/* After a failure: the other sessions' queries end before their sessions are used again. */
static void
drain(struct runner *r)
{
	for (size_t c = 0; c < r->nconns; c++) {
		PGresult *res;

		if (r->busy[c] < 0)
			continue;
		while ((res = PQgetResult(r->conns[c])))
			PQclear(res);
	}
	for (size_t j = 0; j < r->njobs; j++)
		PQclear(r->jobs[j].res);
}

bool
cat_run_reads(struct cat_load *ctx, PGconn *const *conns, size_t nconns)
{
	struct runner r = {.ctx = ctx, .conns = conns, .nconns = nconns};
	bool ok;

	r.busy = xcalloc(nconns, sizeof(long));
	for (size_t c = 0; c < nconns; c++)
		r.busy[c] = -1;
	r.nparts = (ctx->cat->ntables + PART_TABLES - 1) / PART_TABLES;
	if (r.nparts < nconns)
		r.nparts = nconns;
	r.parts = split_tables(ctx->cat, r.nparts);
	make_jobs(&r);
	ok = run_all(&r);
	if (!ok)
		drain(&r);
	free_parts(r.parts, r.nparts);
	free(r.jobs);
	free(r.busy);
	return ok;
}
