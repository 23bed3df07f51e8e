/*
 * verify level count: exact row counts of every copied table, source
 * against target, in one REPEATABLE READ transaction per side so the
 * counts of all tables describe one moment on each server.
 */
#include <stdlib.h>

#include "pg/conn.h"
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
count_all(const struct catalog *cat, PGconn *src, PGconn *dst, struct verify_report *r,
		  struct pgs_error *err)
{
	for (size_t t = 0; t < cat->ntables; t++) {
		const struct cat_table *tab = &cat->tables[t];
		struct verify_entry *e = &r->entries[t];

		if (!cat_table_copies_data(tab) || e->missing)
			continue;
		if (!verify_count_table(src, tab->schema, tab->name, &e->src_rows, err) ||
			!verify_count_table(dst, tab->schema, tab->name, &e->dst_rows, err))
			return false;
		if (e->src_rows != e->dst_rows)
			verify_note(r, t, VS_FAIL, "row count differs (%s %lld, %s %lld)", r->src_side,
						e->src_rows, r->dst_side, e->dst_rows);
	}
	return true;
}

bool
verify_counts(const struct catalog *cat, PGconn *src, PGconn *dst, struct verify_report *r,
			  struct pgs_error *err)
{
	const char *begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
	bool ok = pg_exec(src, begin, 0, NULL, err) && pg_exec(dst, begin, 0, NULL, err) &&
		count_all(cat, src, dst, r, err);
	struct pgs_error ignored;

	pgs_error_clear(&ignored);
	pg_exec(src, "ROLLBACK", 0, NULL, &ignored);
	pg_exec(dst, "ROLLBACK", 0, NULL, &ignored);
	return ok;
}
