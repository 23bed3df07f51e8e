/*
 * Schema restore batches (schema_batches.h): cutting the archive's entries
 * into lock-bounded batches and running each batch's pg_restore SQL in one
 * transaction with its marker row.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "state/state.h"
#include "steps/schema_batches.h"
#include "steps/steps_int.h"
#include "util/log.h"
#include "util/test_crash.h"
#include "util/xalloc.h"

static const char lock_table_sql[] =
	"SELECT pg_catalog.current_setting('max_locks_per_transaction')::bigint"
	" * (pg_catalog.current_setting('max_connections')::bigint"
	" + pg_catalog.current_setting('max_prepared_transactions')::bigint)";

bool
restore_lock_budget(PGconn *tgt, long *units, struct pgs_error *err)
{
	PGresult *res = pg_query(tgt, lock_table_sql, 0, NULL, err);

	if (!res) {
		pgs_error_prefix(err, "could not read the target's lock table size");
		return false;
	}
	*units = strtol(PQgetvalue(res, 0, 0), NULL, 10) / 4;
	if (*units < 3)
		*units = 3;
	PQclear(res);
	return true;
}

static long
entry_locks(const struct toc_entry *e)
{
	return e->desc && strcmp(e->desc, "TABLE") == 0 ? 3 : 1;
}

void
restore_batches_split(struct restore_batches *b, const struct toc *toc, const bool *counted,
					  long budget)
{
	size_t cap = 8;
	long units = 0;

	b->start = xcalloc(cap, sizeof(size_t));
	b->n = 0;
	for (size_t i = 0; i < toc->n; i++) {
		long w = counted[i] ? entry_locks(&toc->items[i]) : 0;

		if (units > 0 && units + w > budget) {
			if (b->n + 2 > cap) {
				cap *= 2;
				b->start = xrealloc(b->start, cap * sizeof(size_t));
			}
			b->start[++b->n] = i;
			units = 0;
		}
		units += w;
	}
	b->start[++b->n] = toc->n;
}

void
restore_batches_free(struct restore_batches *b)
{
	free(b->start);
	memset(b, 0, sizeof(*b));
}

/* Writes batch bi's kept entries as pg_restore's list; *entries says how many. */
static bool
write_batch_list(const struct restore_job *rj, const struct restore_batches *b, size_t bi,
				 size_t *entries, struct pgs_error *err)
{
	bool *in = xcalloc(rj->toc->n ? rj->toc->n : 1, sizeof(bool));
	bool ok;

	*entries = 0;
	for (size_t i = b->start[bi]; i < b->start[bi + 1]; i++)
		if (rj->keep[i]) {
			in[i] = true;
			(*entries)++;
		}
	ok = *entries == 0 || toc_write_kept(rj->toc, in, rj->list, err);
	free(in);
	return ok;
}

static bool
write_batch_sql(const struct restore_job *rj, struct pgs_error *err)
{
	struct pgtool_cmd cmd;
	bool ok;

	pgtool_init(&cmd, "pg_restore");
	restore_script_args(&cmd);
	if (rj->clean) {
		pgtool_arg(&cmd, "--clean");
		pgtool_arg(&cmd, "--if-exists");
	}
	pgtool_argf(&cmd, "--use-list=%s", rj->list);
	pgtool_argf(&cmd, "--file=%s", rj->script);
	pgtool_arg(&cmd, rj->dump);
	ok = pgtool_run(&cmd, "pg_restore could not write the schema's SQL", err);
	pgtool_free(&cmd);
	return ok;
}

/*
 * The SQL with the psql meta-commands pg_restore (15.14 and later) writes
 * around it, \restrict after the header comments and \unrestrict on the
 * last line, turned into comments: the SQL goes to the server, not psql.
 */
static char *
sql_body(char *text)
{
	char *line = text, *last;
	size_t len = strlen(text);

	while (*line == '\n' || strncmp(line, "--", 2) == 0) {
		char *nl = strchr(line, '\n');

		if (!nl)
			break;
		line = nl + 1;
	}
	if (strncmp(line, "\\restrict ", 10) == 0)
		memcpy(line, "--", 2);
	while (len > 0 && text[len - 1] == '\n')
		len--;
	for (last = text + len; last > text && last[-1] != '\n'; last--)
		;
	if (strncmp(last, "\\unrestrict ", 12) == 0)
		memcpy(last, "--", 2);
	return text;
}

static bool
exec_batch(PGconn *conn, const struct restore_job *rj, size_t bi, size_t entries,
		   struct pgs_error *err)
{
	char *text = read_file_text(rj->script, err);
	PGresult *res;
	bool ok;

	if (!text)
		return false;
	ok = pg_exec(conn, "BEGIN", 0, NULL, err);
	if (ok) {
		res = PQexec(conn, sql_body(text));
		ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
		if (!ok)
			pg_fail_result(err, res, "the target refused pg_restore's SQL");
		PQclear(res);
	}
	ok = ok && (!rj->resumable || !rj->run->state ||
				(state_mark_batch(conn, rj->run->plan->name, rj->step_id, bi, entries, err) &&
				 state_manifest_record_on(conn, rj->run->plan->name, err)));
	ok = ok && pg_exec(conn, "COMMIT", 0, NULL, err);
	if (!ok)
		PQclear(PQexec(conn, "ROLLBACK"));
	free(text);
	return ok;
}

static bool
run_batch(PGconn *conn, const struct restore_job *rj, const struct restore_batches *b,
		  size_t bi, struct pgs_error *err)
{
	size_t entries;

	if (!write_batch_list(rj, b, bi, &entries, err))
		return false;
	if (entries == 0)
		return true;
	if (write_batch_sql(rj, err) && exec_batch(conn, rj, bi, entries, err)) {
		log_debug("%s: restore batch %zu of %zu committed (%zu entries)", rj->step_id, bi + 1,
				  b->n, entries);
		return true;
	}
	pgs_error_prefix(err, "restore batch %zu of %zu (%zu archive entries) failed and was rolled "
					 "back", bi + 1, b->n, entries);
	if (!err->hint[0])
		pgs_error_hint(err, "the batches before it are committed; fix the cause and run apply "
					   "again: it resumes at this batch");
	return false;
}

bool
restore_in_batches(const struct restore_job *rj, const struct restore_batches *b,
				   struct pgs_error *err)
{
	bool *done = xcalloc(b->n, sizeof(bool));
	PGconn *conn = NULL;
	size_t skipped = 0, marked;
	bool ok = true;

	if (rj->resumable && rj->run->state)
		ok = state_batches_done(rj->run->state, rj->step_id, done, b->n, &marked, err);
	for (size_t bi = 0; ok && bi < b->n; bi++)
		skipped += done[bi];
	if (ok && skipped > 0)
		log_info("%s: %zu of %zu restore batches committed before the last run stopped; "
				 "restoring the other %zu", rj->step_id, skipped, b->n, b->n - skipped);
	if (ok)
		ok = (conn = run_connect_target(rj->run, rj->step_id, err)) != NULL;
	for (size_t bi = 0; ok && bi < b->n; bi++) {
		if (done[bi])
			continue;
		ok = run_batch(conn, rj, b, bi, err);
		if (ok && bi + 1 < b->n)
			test_crash_point("schema.batch", rj->step_id);
	}
	PQfinish(conn);
	free(done);
	return ok;
}
