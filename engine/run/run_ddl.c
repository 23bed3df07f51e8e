/*
 * Schema changes on the source during CDC (DESIGN.md §4a, cdc.ddl: stop).
 * The slot carries rows, not DDL: a table created on the source, a
 * partition attached, a column added with a default and never updated, an
 * index or a constraint never reach the target through it. So the source
 * catalog is read again, with the plan's filters, and compared by name with
 * the one the run was compiled from (the copy created the target from it).
 * The applier stops on the column changes it can see in Relation messages
 * (apply_rel.c); this check also sees what no message ever names.
 *
 * It runs every DDL_CHECK_EVERY_S while the receiver runs, so the operator
 * learns early, and once more in wait_for_catchup after the stop position
 * is read, inside the write fence, where nothing can change any more.
 *
 * With cdc.ddl: replicate the schema changes travel with the rows, so the
 * catalog the run began with says nothing: there is no check while
 * streaming, and at the stop position (everything applied) the source's
 * catalog is compared with the target's, by name, which also catches a
 * change the capture could not see; the CLUSTER ON marks, which no event
 * trigger sees, are set on the target as on the source first.
 */
#include <stdlib.h>
#include <time.h>

#include "cdc/ddl_capture.h"
#include "pg/conn.h"
#include "run/ddl_cluster.h"
#include "run/run_cdc.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#define DDL_CHECK_EVERY_S 10.0

/* The catalog and the WAL position it describes, in one snapshot. */
static bool
read_source(PGconn *src, const struct plan *plan, struct catalog *now, char *lsn, size_t size,
			struct pgs_error *err)
{
	PGresult *res;
	bool ok;

	if (!pg_exec(src, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, err))
		return false;
	res = pg_query(src, "SELECT pg_catalog.pg_current_wal_lsn()::text", 0, NULL, err);
	ok = res && PQntuples(res) == 1;
	if (ok)
		snprintf(lsn, size, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	ok = ok && catalog_load(src, plan, now, err);
	if (ok)
		ok = pg_exec(src, "COMMIT", 0, NULL, err);
	if (!ok)
		catalog_free(now);
	return ok;
}

static bool
changed(struct run *run, const struct catalog *now, const char *when, const char *lsn,
		struct pgs_error *err)
{
	struct buf what;
	size_t n;

	buf_init(&what);
	n = catalog_diff(run->cat, now, &what);
	if (n) {
		pgs_fail(err, "the source schema changed during CDC (%zu change%s, seen %s at source "
				 "LSN %s): %s", n, n == 1 ? "" : "s", when, lsn, what.data);
		pgs_error_detail(err, "the replication slot carries rows, not schema changes: the "
						 "target still has the schema the copy created from the catalog read "
						 "when the run started, so rows in the new shape would be lost or "
						 "refused (cdc.ddl: stop)");
		pgs_error_hint(err, "make the same change on the target (the same DDL, in the same "
					   "schema), then run pgshift apply PLAN again to resume; or start over "
					   "with pgshift reset PLAN --yes, then apply");
	}
	buf_free(&what);
	return n == 0;
}

/* False when the source could not be read; *differs: a change was found, err names it. */
static bool
look(struct run *run, const char *when, bool *differs, struct pgs_error *err)
{
	PGconn *src = run_connect_source(run, "cdc.ddl", err);
	struct catalog now;
	char lsn[32] = "";
	bool ok;

	*differs = false;
	if (!src)
		return false;
	ok = read_source(src, run->plan, &now, lsn, sizeof(lsn), err);
	PQfinish(src);
	if (!ok) {
		pgs_error_prefix(err, "could not check the source schema for changes %s", when);
		return false;
	}
	*differs = !changed(run, &now, when, lsn, err);
	catalog_free(&now);
	return true;
}

/* Both catalogs with the plan's filters; oids differ between servers by nature. */
static bool
compare_target(struct run *run, const char *when, struct pgs_error *err)
{
	PGconn *src = run_connect_source(run, "cdc.ddl", err);
	PGconn *tgt = src ? run_connect_target(run, "cdc.ddl", err) : NULL;
	struct catalog s, t;
	struct buf what, lost;
	size_t n = 0;
	bool ok = tgt && ddl_cluster_sync(src, tgt, run->plan, err) &&
		catalog_load(src, run->plan, &s, err);

	if (ok && !catalog_load(tgt, run->plan, &t, err)) {
		catalog_free(&s);
		ok = false;
	}
	buf_init(&lost);
	if (ok && !ddl_capture_unpublished(src, run->plan, &lost, err)) {
		catalog_free(&s);
		catalog_free(&t);
		ok = false;
	}
	PQfinish(src);
	PQfinish(tgt);
	if (!ok) {
		buf_free(&lost);
		pgs_error_prefix(err, "could not compare the source and target schemas %s", when);
		return false;
	}
	if (lost.len) {
		pgs_fail(err, "tables created on the source during CDC without a primary key or "
				 "replica identity have rows that were not replicated (%s): %s", when, lost.data);
		pgs_error_hint(err, "give them a primary key (or REPLICA IDENTITY FULL, or set "
					   "cdc.replica_identity: full) and start over with pgshift reset PLAN --yes");
		buf_free(&lost);
		catalog_free(&s);
		catalog_free(&t);
		return false;
	}
	buf_free(&lost);
	for (size_t i = 0; i < t.ntables; i++)
		t.tables[i].oid = 0;
	buf_init(&what);
	n = catalog_diff(&s, &t, &what);
	if (n) {
		pgs_fail(err, "the target schema differs from the source's %s, after every replicated "
				 "DDL (%zu difference%s, as the target has it): %s", when, n, n == 1 ? "" : "s",
				 what.data);
		pgs_error_detail(err, "a schema change the capture did not see (made with event "
						 "triggers disabled, or by session_replication_role = replica) or "
						 "made on the target by hand (cdc.ddl: replicate)");
		pgs_error_hint(err, "make both schemas the same, then run pgshift apply PLAN again to "
					   "resume the cutover");
	} else {
		log_info("cdc.ddl: the source and target schemas are the same %s", when);
	}
	buf_free(&what);
	catalog_free(&s);
	catalog_free(&t);
	return n == 0;
}

bool
run_ddl_check(struct run *run, const char *when, struct pgs_error *err)
{
	bool differs;

	if (run->plan->cdc.ddl == DDL_REPLICATE)
		return compare_target(run, when, err);
	return look(run, when, &differs, err) && !differs;
}

bool
run_ddl_tick(struct run *run, struct pgs_error *err)
{
	struct run_cdc_view v;
	struct pgs_error lerr;
	double t = clock_mono_s();
	bool differs;

	run_cdc_view(run, &v);
	if (run->plan->cdc.ddl == DDL_REPLICATE || !v.receiving ||
		t - run->ddl_checked_at < DDL_CHECK_EVERY_S)
		return true;
	run->ddl_checked_at = t;
	pgs_error_clear(&lerr);
	if (!look(run, "while streaming", &differs, &lerr)) {
		/* a source unreachable for one look is the receiver's to report; look again later */
		log_report(LOG_WARNING, &lerr);
		return true;
	}
	if (differs)
		*err = lerr;
	return !differs;
}
