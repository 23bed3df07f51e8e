/*
 * verify level count: exact row counts of every copied table, source
 * against target, in one REPEATABLE READ transaction per side so the
 * counts of all tables describe one moment.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "verify/verify.h"

bool
verify_count_table(PGconn *conn, const char *schema, const char *table, long long *count,
				   struct pgs_error *err)
{
	char *qname = pg_quote_qualified(conn, schema, table);
	char *sql = xasprintf("SELECT count(*) FROM ONLY %s", qname);
	PGresult *res = pg_query(conn, sql, 0, NULL, err);

	free(sql);
	free(qname);
	if (!res) {
		pgs_error_prefix(err, "could not count rows of \"%s.%s\"", schema, table);
		return false;
	}
	*count = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return true;
}

static bool
count_all(struct run *run, PGconn *src, PGconn *dst, struct buf *diffs, size_t *ndiff,
		  struct pgs_error *err)
{
	for (size_t t = 0; t < run->cat->ntables; t++) {
		const struct cat_table *tab = &run->cat->tables[t];
		long long a, b;

		if (!cat_table_copies_data(tab))
			continue;
		if (!verify_count_table(src, tab->schema, tab->name, &a, err) ||
			!verify_count_table(dst, tab->schema, tab->name, &b, err))
			return false;
		if (a != b) {
			buf_printf(diffs, "%s%s.%s (source %lld, target %lld)", *ndiff ? ", " : "",
					   tab->schema, tab->name, a, b);
			(*ndiff)++;
		}
	}
	return true;
}

static bool
verify_counts(struct run *run, struct pgs_error *err)
{
	PGconn *src = run_connect_source(run, "verify", err);
	PGconn *dst = src ? run_connect_target(run, "verify", err) : NULL;
	const char *begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
	struct buf diffs;
	size_t ndiff = 0;
	bool ok = false;

	buf_init(&diffs);
	if (dst && pg_exec(src, begin, 0, NULL, err) && pg_exec(dst, begin, 0, NULL, err) &&
		count_all(run, src, dst, &diffs, &ndiff, err)) {
		ok = ndiff == 0;
		if (!ok)
			pgs_fail(err, "verify count: %zu table(s) differ: %s", ndiff, diffs.data);
		else
			log_info("verify count: every copied table has the same row count on both servers");
	}
	buf_free(&diffs);
	PQfinish(src);
	PQfinish(dst);
	return ok;
}

bool
cutover_verify(struct run *run, const struct cutover_step *cs, struct pgs_error *err)
{
	if (cs->level != VERIFY_COUNT)
		return pgs_fail(err, "verify level %s is not available in this build of pgshift; "
						"use level: count", verify_level_name(cs->level));
	return verify_counts(run, err);
}
