/*
 * Copy steps (DESIGN.md §4): one table, or one ctid range of a split table,
 * streamed from a source COPY TO STDOUT into a target COPY FROM STDIN. The
 * source side imports the run's exported snapshot, so every worker reads
 * exactly the snapshot's rows. The target side runs with
 * session_replication_role = replica, so triggers and FK actions the source
 * already ran do not run again; an unsplit table is emptied in the same
 * transaction as its COPY, so a failed or interrupted copy leaves the
 * target table as it was.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "pg/copy_stream.h"
#include "steps/steps.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/test_crash.h"
#include "util/xalloc.h"

/* Highest block number a tid can hold. */
#define MAX_BLOCK 4294967295LL

struct copy_job {
	struct run *run;
	const struct step *st;              /* NULL in copy_prepare_split_table */
	const struct cat_table *t;
	PGconn *src, *dst;                  /* owned; closed by job_end */
	char *qname;                        /* owned; "schema"."table" */
	char *cols;                         /* owned; "a", "B c", ...; empty for no column */
	char *collist;                      /* owned; (cols) for COPY, empty for no column */
	bool binary;
};

static bool
source_begin(struct copy_job *job, struct pgs_error *err)
{
	const char *id = job->run->snapshot;
	char *lit;
	char *sql;
	bool ok;

	if (!pg_exec(job->src, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, err))
		return false;
	/* SET TRANSACTION SNAPSHOT takes no parameter: the server's own id, still quoted */
	lit = PQescapeLiteral(job->src, id, strlen(id));
	if (!lit)
		return pgs_fail(err, "could not quote the snapshot id \"%s\"", id);
	sql = xasprintf("SET TRANSACTION SNAPSHOT %s", lit);
	PQfreemem(lit);
	ok = pg_exec(job->src, sql, 0, NULL, err);
	free(sql);
	if (!ok)
		pgs_error_hint(err, "the exported snapshot is gone: the session that held it ended; "
					   "run apply again to copy on a new snapshot");
	return ok;
}

/*
 * ctid ranges only line up across parts when the table keeps its storage
 * between the snapshot and the part: VACUUM FULL, CLUSTER, TRUNCATE or a
 * rewriting ALTER TABLE gives it a new relfilenode (and new ctids). The lock
 * keeps it from changing while this part reads; pg_class as the snapshot
 * sees it tells whether it changed before.
 */
static bool
check_storage(struct copy_job *job, struct pgs_error *err)
{
	char oid[16];
	const char *params[1] = {oid};
	char *sql = xasprintf("LOCK TABLE ONLY %s IN ACCESS SHARE MODE", job->qname);
	PGresult *res;
	bool same;

	snprintf(oid, sizeof(oid), "%" PRIu32, job->t->oid);
	if (!pg_exec(job->src, sql, 0, NULL, err)) {
		free(sql);
		return false;
	}
	free(sql);
	res = pg_query(job->src, "SELECT c.relfilenode = pg_relation_filenode(c.oid)"
				   " FROM pg_class c WHERE c.oid = $1::oid", 1, params, err);
	if (!res)
		return false;
	same = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!same) {
		pgs_fail(err, "the table was rewritten or truncated after the snapshot, so its parts "
				 "no longer cover the same rows");
		pgs_error_hint(err, "run apply again; avoid VACUUM FULL, CLUSTER, TRUNCATE and "
					   "rewriting ALTER TABLE on the source during the copy");
	}
	return same;
}

/*
 * Part K of N reads pages [(K-1)*P, K*P), the last part everything from
 * (N-1)*P on. P comes from the catalog's size of the table's heap, a number
 * fixed for the whole run: each part reading the table's current size
 * instead would cut different boundaries on a growing table and lose or
 * repeat the rows between them. Only the last part's open end has to be
 * right, and it is; a stale size only makes the parts uneven. The heap's
 * size, not pg_table_size: ctids number heap pages only, and a TOAST-heavy
 * table counted with its TOAST would put nearly every row in the first part.
 */
static bool
part_bounds(struct copy_job *job, long long *lo, long long *hi, struct pgs_error *err)
{
	PGresult *res = pg_query(job->src, "SELECT current_setting('block_size')", 0, NULL, err);
	long long block, pages, per;
	char *end;

	if (!res)
		return false;
	block = strtoll(PQgetvalue(res, 0, 0), &end, 10);
	if (*end != '\0')
		block = 0;
	PQclear(res);
	if (block <= 0)
		return pgs_fail(err, "the source reports an unusable block_size");
	pages = (job->t->heap_bytes + block - 1) / block;
	per = (pages + job->st->nparts - 1) / job->st->nparts;
	if (per < 1)
		per = 1;
	*lo = per * (job->st->part - 1);
	*hi = job->st->part == job->st->nparts ? -1 : per * job->st->part;
	if (*lo > MAX_BLOCK)
		*lo = MAX_BLOCK;
	if (*hi > MAX_BLOCK)
		*hi = MAX_BLOCK;
	return true;
}

/*
 * Every column but generated ones (the target computes those), in attnum
 * order. A table without columns still has rows: COPY and SELECT then take
 * no list at all.
 */
static void
column_list(struct copy_job *job, PGconn *conn)
{
	const struct cat_table *t = job->t;
	struct buf b;
	bool first = true;

	buf_init(&b);
	for (size_t i = 0; i < t->ncols; i++) {
		char *q;

		if (t->cols[i].generated)
			continue;
		q = pg_quote_ident(conn, t->cols[i].name);
		buf_printf(&b, "%s%s", first ? "" : ", ", q);
		free(q);
		first = false;
	}
	job->collist = first ? xstrdup("") : xasprintf("(%s)", b.data);
	job->cols = buf_steal(&b);
}

static char *
source_sql(struct copy_job *job, struct pgs_error *err)
{
	const char *with = job->binary ? " WITH (FORMAT binary)" : "";
	struct buf b;
	long long lo = 0, hi = -1;

	/* an unsplit table: COPY of a table never includes its inheritance children */
	if (job->st->nparts == 0)
		return xasprintf("COPY %s %s TO STDOUT%s", job->qname, job->collist, with);
	if (!check_storage(job, err) || !part_bounds(job, &lo, &hi, err))
		return NULL;
	buf_init(&b);
	buf_printf(&b, "COPY (SELECT %s FROM ONLY %s WHERE ctid >= '(%lld,0)'::tid",
			   job->cols, job->qname, lo);
	if (hi >= 0)
		buf_printf(&b, " AND ctid < '(%lld,0)'::tid", hi);
	buf_printf(&b, ") TO STDOUT%s", with);
	return buf_steal(&b);
}

/* Starts a COPY on conn; true when the server entered the expected COPY state. */
static bool
start_copy(PGconn *conn, const char *sql, ExecStatusType want, const char *side,
		   struct pgs_error *err)
{
	PGresult *res = PQexec(conn, sql);
	bool ok = PQresultStatus(res) == want;

	if (!ok) {
		char what[64];

		snprintf(what, sizeof(what), "could not start COPY on the %s", side);
		pg_fail_result(err, res, what);
	}
	PQclear(res);
	return ok;
}

/* Target transaction: triggers, rules and FK actions off; empty the table unless split. */
static bool
target_begin(struct copy_job *job, bool truncate, struct pgs_error *err)
{
	char *sql;
	bool ok;

	if (!pg_exec(job->dst, "BEGIN", 0, NULL, err) ||
		!pg_exec(job->dst, "SET LOCAL session_replication_role = replica", 0, NULL, err))
		return false;
	if (!truncate)
		return true;
	sql = xasprintf("TRUNCATE ONLY %s", job->qname);
	ok = pg_exec(job->dst, sql, 0, NULL, err);
	free(sql);
	return ok;
}

/*
 * The target's COPY. FREEZE when the table was emptied in this transaction:
 * its rows are then written frozen and all-visible (PostgreSQL 14+ also sets
 * the visibility map), so the vacuum step that follows skips every page
 * instead of rewriting the whole table's hint bits, and no anti-wraparound
 * vacuum comes for them later.
 */
static char *
target_sql(const struct copy_job *job, bool truncated)
{
	const char *with = job->binary ? (truncated ? " WITH (FORMAT binary, FREEZE)" :
									  " WITH (FORMAT binary)") :
		(truncated ? " WITH (FREEZE)" : "");

	return xasprintf("COPY %s %s FROM STDIN%s", job->qname, job->collist, with);
}

static bool
stream(struct copy_job *job, size_t step, bool truncated, struct pgs_error *err)
{
	struct step_progress *pr = job->run->progress ? &job->run->progress[step] : NULL;
	struct copy_pump pump = {pr ? &pr->bytes : NULL, &job->run->cancel, pr ? &pr->rows : NULL,
							 test_copy_chunk_delay_us(),
							 test_copy_hold_path(job->st ? job->st->id : NULL)};
	char *out = source_sql(job, err);
	char *in;
	int64_t rows, bytes;
	bool ok;

	if (!out)
		return false;
	in = target_sql(job, truncated);
	ok = start_copy(job->src, out, PGRES_COPY_OUT, "source", err) &&
		start_copy(job->dst, in, PGRES_COPY_IN, "target", err) &&
		pg_copy_pump(job->src, job->dst, &pump, &rows, &bytes, err);
	if (ok)
		test_crash_point("copy.mid", job->st->id);
	ok = ok && pg_exec(job->dst, "COMMIT", 0, NULL, err);
	free(out);
	free(in);
	if (ok && pr)
		atomic_store(&pr->rows, rows);
	return ok;
}

/*
 * copy.format auto: binary COPY where it moves the same values as text and
 * costs less to produce and parse — every copied column of a built-in type
 * with binary I/O (a user type's binary form may embed OIDs or change with
 * its extension), both servers of one major version (binary formats are
 * only promised within one) and one server encoding (binary text values
 * are not converted, text COPY's are).
 */
static bool
binary_fits(const struct copy_job *job)
{
	const char *se = PQparameterStatus(job->src, "server_encoding");
	const char *te = PQparameterStatus(job->dst, "server_encoding");

	if (PQserverVersion(job->src) / 10000 != PQserverVersion(job->dst) / 10000 || !se || !te ||
		strcmp(se, te) != 0)
		return false;
	for (size_t c = 0; c < job->t->ncols; c++)
		if (!job->t->cols[c].generated && !job->t->cols[c].binary_io)
			return false;
	return true;
}

static void
job_end(struct copy_job *job)
{
	/* a failed job's sessions may be mid-COPY: closing them rolls both back */
	PQfinish(job->src);
	PQfinish(job->dst);
	free(job->qname);
	free(job->cols);
	free(job->collist);
}

static void
name_table(struct copy_job *job, struct pgs_error *err)
{
	const struct step *st = job->st;

	if (st && st->nparts > 0)
		pgs_error_prefix(err, "could not copy part %d of %d of table \"%s.%s\"", st->part,
						 st->nparts, job->t->schema, job->t->name);
	else
		pgs_error_prefix(err, "could not copy table \"%s.%s\"", job->t->schema, job->t->name);
	if (st)
		snprintf(err->step, sizeof(err->step), "%s", st->id);
}

bool
step_copy_freezes(const struct run *run, const struct step *copy)
{
	return copy->nparts == 0 && !run->copy_pretruncated;
}

bool
step_copy(struct run *run, size_t step, struct pgs_error *err)
{
	const struct step *st = &run->dag->steps[step];
	struct copy_job job = {run, st, &run->cat->tables[st->table], NULL, NULL, NULL, NULL, NULL,
						   run->plan->copy.format == COPY_FORMAT_BINARY};
	bool ok = false, truncate;

	if (run->progress) {
		atomic_store(&run->progress[step].bytes, 0);
		atomic_store(&run->progress[step].rows, 0);
		atomic_store(&run->progress[step].total_bytes, st->est_bytes);
	}
	if (run->snapshot[0] == '\0') {
		pgs_fail(err, "no exported snapshot to copy on");
		goto out;
	}
	job.src = run_connect_source(run, st->id, err);
	job.dst = job.src ? run_connect_target_rows(run, st->id, err) : NULL;
	if (!job.dst)
		goto out;
	job.qname = pg_quote_qualified(job.src, job.t->schema, job.t->name);
	column_list(&job, job.src);
	if (run->plan->copy.format == COPY_FORMAT_AUTO)
		job.binary = binary_fits(&job);
	log_debug("%s: %s COPY", st->id, job.binary ? "binary" : "text");
	truncate = step_copy_freezes(run, st);
	ok = source_begin(&job, err) && target_begin(&job, truncate, err) &&
		stream(&job, step, truncate, err);
	/* read-only: ending it only releases the snapshot and the lock sooner */
	if (ok)
		PQclear(PQexec(job.src, "COMMIT"));
out:
	if (!ok)
		name_table(&job, err);
	job_end(&job);
	return ok;
}

bool
copy_prepare_split_table(struct run *run, long table, struct pgs_error *err)
{
	struct copy_job job = {run, NULL, &run->cat->tables[table], NULL, NULL, NULL, NULL, NULL, false};
	char *app = xasprintf("copy:%s.%s prepare", job.t->schema, job.t->name);
	bool ok = false;

	job.dst = run_connect_target_rows(run, app, err);
	free(app);
	if (job.dst) {
		job.qname = pg_quote_qualified(job.dst, job.t->schema, job.t->name);
		ok = target_begin(&job, true, err) && pg_exec(job.dst, "COMMIT", 0, NULL, err);
	}
	if (!ok)
		pgs_error_prefix(err, "could not empty split table \"%s.%s\" before its parts",
						 job.t->schema, job.t->name);
	job_end(&job);
	return ok;
}
