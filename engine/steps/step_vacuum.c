/*
 * vacuum:SCHEMA.TABLE — VACUUM (ANALYZE) of one copied table on the target:
 * freshly copied rows have no visibility map and no statistics, so the
 * first queries after cutover would read every page and plan blind. After
 * a COPY FREEZE (an unsplit table) the visibility map is set already and
 * VACUUM skips every page: only ANALYZE does work. VACUUM
 * cannot run inside a transaction block; the step's own session is in
 * autocommit. Repeating it is harmless.
 */
#include <stdlib.h>

#include "pg/conn.h"
#include "steps/steps.h"
#include "steps/steps_int.h"
#include "util/xalloc.h"

bool
step_vacuum(struct run *run, size_t step, struct pgs_error *err)
{
	long t = run->dag->steps[step].table;
	const struct cat_table *tab;
	PGconn *conn;
	char *q, *sql;
	bool ok;

	if (t < 0)
		return true;
	tab = &run->cat->tables[t];
	conn = run_connect_target(run, run->dag->steps[step].id, err);
	if (!conn)
		return step_failed(run, step, err);
	q = pg_quote_qualified(conn, tab->schema, tab->name);
	sql = xasprintf("VACUUM (ANALYZE) %s", q);
	ok = steps_ddl_session(run, conn, err) && pg_exec(conn, sql, 0, NULL, err);
	if (!ok)
		pgs_error_prefix(err, "could not vacuum \"%s\".\"%s\"", tab->schema, tab->name);
	free(sql);
	free(q);
	PQfinish(conn);
	return ok || step_failed(run, step, err);
}
