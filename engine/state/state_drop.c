/*
 * Dropping a plan's state (cleanup, reset). Replica identities changed on
 * the source and not restored are kept, so `cleanup --restore-identity`
 * can still undo them later. What apply created (the manifest and the
 * roles of created_objects) is kept too, except by reset: it is what reset
 * drops, also after a cleanup or a run with keep_state: false. Runs on the locked connection,
 * so no apply of the plan runs meanwhile, and under the DDL lock, so no
 * other plan's begin_run can put a row into the schema between our check
 * that it is empty and the DROP SCHEMA.
 */
#include <string.h>

#include "pg/conn.h"
#include "state/state_int.h"

static const char others_sql[] =
	"SELECT EXISTS (SELECT 1 FROM pgshift.runs)"
	" OR EXISTS (SELECT 1 FROM pgshift.steps)"
	" OR EXISTS (SELECT 1 FROM pgshift.table_sync)"
	" OR EXISTS (SELECT 1 FROM pgshift.run_dag)"
	" OR EXISTS (SELECT 1 FROM pgshift.restore_batches)"
	" OR EXISTS (SELECT 1 FROM pgshift.created_objects)"
	" OR EXISTS (SELECT 1 FROM pgshift.manifest)"
	" OR EXISTS (SELECT 1 FROM pgshift.held_triggers)"
	" OR EXISTS (SELECT 1 FROM pgshift.identity_changes)";

/*
 * Drops our tables, then the schema only if that leaves it empty: never
 * CASCADE, so an object someone else put in schema pgshift survives (and
 * keeps the schema).
 */
static bool
drop_schema(PGconn *conn, struct pgs_error *err)
{
	struct pgs_error ignored;

	pgs_error_clear(&ignored);
	if (!pg_exec(conn, "DROP TABLE pgshift.restore_batches, pgshift.steps, pgshift.table_sync, pgshift.run_dag,"
				 " pgshift.created_objects, pgshift.held_triggers, pgshift.target_baseline, pgshift.runs,"
				 " pgshift.identity_changes, pgshift.manifest", 0, NULL, err) ||
		!pg_exec(conn, "SAVEPOINT drop_schema", 0, NULL, err))
		return false;
	if (pg_exec(conn, "DROP SCHEMA pgshift", 0, NULL, &ignored))
		return true;
	if (strcmp(ignored.sqlstate, "2BP01") != 0) {
		*err = ignored;
		return false;
	}
	return pg_exec(conn, "ROLLBACK TO SAVEPOINT drop_schema", 0, NULL, err);
}

static bool
drop_in_tx(struct state *st, bool created_too, struct pgs_error *err)
{
	const char *params[1] = {st->plan};
	PGresult *res;
	bool table, others;

	if (!pg_exec(st->conn, STATE_DDL_LOCK_SQL, 0, NULL, err) ||
		!state_runs_table_exists(st->conn, &table, err))
		return false;
	if (!table)
		return true;
	/* a state written by an older pgshift gets the newer tables, so the DELETEs below work */
	if (!state_ddl_in_tx(st->conn, err))
		return false;
	/* unrestored identity changes describe the source, not the run: they stay */
	if (created_too &&
		(!pg_exec(st->conn, "DELETE FROM pgshift.created_objects WHERE plan = $1", 1, params, err) ||
		 !pg_exec(st->conn, "DELETE FROM pgshift.manifest WHERE plan = $1", 1, params, err)))
		return false;
	if (!pg_exec(st->conn, "DELETE FROM pgshift.held_triggers WHERE plan = $1", 1, params, err) ||
		!pg_exec(st->conn, "DELETE FROM pgshift.runs WHERE plan = $1", 1, params, err) ||
		!pg_exec(st->conn, "DELETE FROM pgshift.identity_changes WHERE plan = $1"
				 " AND restored_at IS NOT NULL", 1, params, err))
		return false;
	res = pg_query(st->conn, others_sql, 0, NULL, err);
	if (!res)
		return false;
	others = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	/* another plan's rows keep the schema */
	return others || drop_schema(st->conn, err);
}

static bool
drop_state(struct state *st, bool created_too, struct pgs_error *err)
{
	bool ok;

	pthread_mutex_lock(&st->conn_lock);
	ok = pg_exec(st->conn, "BEGIN", 0, NULL, err);
	if (ok) {
		ok = drop_in_tx(st, created_too, err) && pg_exec(st->conn, "COMMIT", 0, NULL, err);
		if (!ok)
			state_rollback(st->conn);
	}
	pthread_mutex_unlock(&st->conn_lock);
	if (!ok)
		pgs_error_prefix(err, "could not drop the state of plan \"%s\" on the target", st->plan);
	return ok;
}

bool
state_drop(struct state *st, struct pgs_error *err)
{
	return drop_state(st, false, err);
}

bool
state_drop_all(struct state *st, struct pgs_error *err)
{
	return drop_state(st, true, err);
}
