/*
 * CLUSTER ON marks of the migrated tables, source to target (ddl_cluster.h).
 * Both sides list every plain table with its marked index ("" for none) in
 * one byte order, so one merge walk finds the tables whose mark differs.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/catalog.h"
#include "pg/conn.h"
#include "run/ddl_cluster.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

static const char marks_sql[] =
	"SELECT n.nspname, c.relname, coalesce(i.relname, '') FROM pg_catalog.pg_class c"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" LEFT JOIN pg_catalog.pg_index x ON x.indrelid = c.oid AND x.indisclustered"
	" LEFT JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid"
	" WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgshift')"
	" AND n.nspname NOT LIKE 'pg\\_%'"
	" ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"";

static int
cmp_row(const PGresult *a, int i, const PGresult *b, int j)
{
	int c = strcmp(PQgetvalue(a, i, 0), PQgetvalue(b, j, 0));

	return c ? c : strcmp(PQgetvalue(a, i, 1), PQgetvalue(b, j, 1));
}

/* The target's mark of one table as the source's; names what changed in done. */
static bool
set_mark(PGconn *tgt, const char *schema, const char *table, const char *index,
		 struct buf *done, struct pgs_error *err)
{
	char *qt = pg_quote_qualified(tgt, schema, table);
	char *qi = *index ? pg_quote_ident(tgt, index) : NULL;
	char *sql = qi ? xasprintf("ALTER TABLE %s CLUSTER ON %s", qt, qi)
		: xasprintf("ALTER TABLE %s SET WITHOUT CLUSTER", qt);
	bool ok = pg_exec(tgt, sql, 0, NULL, err);

	if (ok)
		buf_printf(done, "%s%s.%s (%s)", done->len ? ", " : "", schema, table,
				   *index ? index : "none");
	else
		pgs_error_prefix(err, "could not set the CLUSTER ON mark of %s.%s on the target",
						 schema, table);
	free(sql);
	free(qi);
	free(qt);
	return ok;
}

bool
ddl_cluster_sync(PGconn *src, PGconn *tgt, const struct plan *plan, struct pgs_error *err)
{
	PGresult *s = pg_query(src, marks_sql, 0, NULL, err);
	PGresult *t = s ? pg_query(tgt, marks_sql, 0, NULL, err) : NULL;
	struct buf done;
	bool ok = t != NULL;
	int i = 0, j = 0;

	buf_init(&done);
	while (ok && i < PQntuples(s) && j < PQntuples(t)) {
		int c = cmp_row(s, i, t, j);
		const char *schema = PQgetvalue(s, i, 0), *table = PQgetvalue(s, i, 1);

		if (c == 0 && strcmp(PQgetvalue(s, i, 2), PQgetvalue(t, j, 2)) != 0 &&
			catalog_filter_keeps_relation(plan, schema, table))
			ok = set_mark(tgt, schema, table, PQgetvalue(s, i, 2), &done, err);
		i += c <= 0;
		j += c >= 0;
	}
	if (ok && done.len)
		log_info("cdc.ddl: CLUSTER ON marks set on the target as on the source (CLUSTER fires "
				 "no event trigger): %s", done.data);
	buf_free(&done);
	PQclear(t);
	PQclear(s);
	return ok;
}
