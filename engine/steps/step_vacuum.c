/*
 * vacuum:SCHEMA.TABLE — VACUUM (ANALYZE) of one copied table on the target:
 * freshly copied rows have no visibility map and no statistics, so the
 * first queries after cutover would read every page and plan blind. After
 * a COPY FREEZE (an unsplit table) on PostgreSQL 14+ the heap's visibility
 * map is set already and VACUUM skips every heap page; without CDC nothing
 * else wrote the table since, so ANALYZE alone (which also records the
 * all-visible page count) leaves it as VACUUM would, without VACUUM's own
 * passes over the indexes and the catalog. VACUUM cannot run inside a
 * transaction block; the step's own session is in autocommit. Repeating it
 * is harmless.
 */
#include <stdlib.h>

#include "pg/conn.h"
#include "steps/steps.h"
#include "steps/steps_int.h"
#include "util/xalloc.h"

/*
 * COPY FREEZE wrote the table's TOAST rows frozen too, but PostgreSQL (15
 * at least) sets no visibility map bit for them: a VACUUM that processes
 * the TOAST table reads every TOAST page and dirties it only to set its
 * all-visible flag, on the critical path right before cutover (0.45 s of
 * the 0.55 s vacuum of issue 20's 1 GB TOAST-heavy table). Those bits only
 * let a later VACUUM skip pages; the table's inserts count towards
 * autovacuum's insert threshold, so autovacuum sets them in the background
 * soon after the copy. PROCESS_TOAST is PostgreSQL 14+. A split table's
 * parts could not freeze, and a copy into tables emptied beforehand
 * (copy_pretruncated) did not either: their TOAST is vacuumed as before.
 */
static bool
copied_frozen(const struct run *run, size_t step)
{
	const struct step *st = &run->dag->steps[step];

	for (uint32_t k = 0; k < st->ndeps; k++) {
		const struct step *dep = &run->dag->steps[step_deps(run->dag, st)[k]];

		if (dep->kind == STEP_COPY && !step_copy_freezes(run, dep))
			return false;
	}
	return true;
}

bool
step_vacuum(struct run *run, size_t step, struct pgs_error *err)
{
	long t = run->dag->steps[step].table;
	const struct cat_table *tab;
	PGconn *conn;
	char *q, *sql;
	bool frozen, ok;

	if (t < 0)
		return true;
	tab = &run->cat->tables[t];
	conn = run_connect_target(run, run->dag->steps[step].id, err);
	if (!conn)
		return step_failed(run, step, err);
	q = pg_quote_qualified(conn, tab->schema, tab->name);
	frozen = PQserverVersion(conn) >= 140000 && copied_frozen(run, step);
	if (frozen && !run->plan->cdc.enabled)
		sql = xasprintf("ANALYZE %s", q);
	else if (frozen)
		sql = xasprintf("VACUUM (ANALYZE, PROCESS_TOAST false) %s", q);
	else
		sql = xasprintf("VACUUM (ANALYZE) %s", q);
	ok = steps_ddl_session(run, conn, err) && pg_exec(conn, sql, 0, NULL, err);
	if (!ok)
		pgs_error_prefix(err, "could not vacuum \"%s\".\"%s\"", tab->schema, tab->name);
	free(sql);
	free(q);
	PQfinish(conn);
	return ok || step_failed(run, step, err);
}
