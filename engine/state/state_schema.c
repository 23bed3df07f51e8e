/*
 * The DDL of schema pgshift on the target (layout in state.h). Created only
 * when missing: CREATE SCHEMA checks the CREATE privilege on the database
 * even with IF NOT EXISTS, so a target where the state already exists works
 * for a role that could not create it. Concurrent creators serialise on a
 * transaction advisory lock; a duplicate-object error raised by a creator
 * that does not take it is retried, and the retry finds the object there.
 */
#include <string.h>

#include "pg/conn.h"
#include "state/state_int.h"

static const char exists_sql[] =
	"SELECT to_regclass('pgshift.runs') IS NOT NULL"
	" AND to_regclass('pgshift.steps') IS NOT NULL"
	" AND to_regclass('pgshift.created_objects') IS NOT NULL"
	" AND to_regclass('pgshift.held_triggers') IS NOT NULL"
	" AND to_regclass('pgshift.identity_changes') IS NOT NULL"
	" AND to_regclass('pgshift.table_sync') IS NOT NULL"
	" AND to_regclass('pgshift.run_dag') IS NOT NULL"
	" AND to_regclass('pgshift.target_baseline') IS NOT NULL"
	" AND to_regclass('pgshift.manifest') IS NOT NULL"
	" AND to_regclass('pgshift.restore_batches') IS NOT NULL"
	" AND (SELECT count(*) FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass('pgshift.runs')"
	"  AND attname IN ('catalog_fingerprint', 'baseline_at') AND NOT attisdropped) = 2";

/* One statement per element: a failure names the statement it came from. */
static const char *const ddl[] = {
	/* "does not exist, skipping" of the idempotent statements is noise to an operator */
	"SET LOCAL client_min_messages = warning",
	"CREATE SCHEMA IF NOT EXISTS pgshift",
	"CREATE TABLE IF NOT EXISTS pgshift.runs ("
	" plan text PRIMARY KEY,"
	" run_id uuid NOT NULL,"
	" plan_sha256 text NOT NULL,"
	" status text NOT NULL,"
	" started_at timestamptz NOT NULL DEFAULT now(),"
	" updated_at timestamptz NOT NULL DEFAULT now(),"
	" finished_at timestamptz,"
	" approved_at timestamptz,"
	" approved_by text,"
	" fenced boolean NOT NULL DEFAULT false,"
	" received_lsn pg_lsn,"
	" applied_lsn pg_lsn,"
	" applied_commit_at timestamptz,"
	" error text)",
	/*
	 * Added to a state an older pgshift created, as well as to a new one:
	 * gate_pid is the state session (pg_backend_pid) of the apply waiting at
	 * the gate, so an approval can only reach a live run.
	 */
	"ALTER TABLE pgshift.runs ADD COLUMN IF NOT EXISTS gate_pid integer,"
	" ADD COLUMN IF NOT EXISTS paused_step text, ADD COLUMN IF NOT EXISTS source_lsn pg_lsn,"
	" ADD COLUMN IF NOT EXISTS catalog_fingerprint text, ADD COLUMN IF NOT EXISTS source_lag_s float8",
	"ALTER TABLE pgshift.runs DROP CONSTRAINT IF EXISTS runs_status_check,"
	" ADD CONSTRAINT runs_status_check CHECK (status IN"
	" ('running', 'failed', 'finished', 'interrupted', 'paused'))",
	"CREATE TABLE IF NOT EXISTS pgshift.steps ("
	" plan text NOT NULL REFERENCES pgshift.runs (plan) ON DELETE CASCADE,"
	" step_id text NOT NULL,"
	" status text NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),"
	" attempts integer NOT NULL DEFAULT 0,"
	" rows bigint NOT NULL DEFAULT 0,"
	" bytes bigint NOT NULL DEFAULT 0,"
	" total_bytes bigint NOT NULL DEFAULT 0,"
	" started_at timestamptz,"
	" finished_at timestamptz,"
	" updated_at timestamptz NOT NULL DEFAULT now(),"
	" error text,"
	" PRIMARY KEY (plan, step_id))",
	/* no foreign key: the list must outlive a lost run row, it is all reset drops */
	"CREATE TABLE IF NOT EXISTS pgshift.created_objects ("
	" plan text NOT NULL,"
	" kind text NOT NULL,"
	" schema_name text NOT NULL DEFAULT '',"
	" object_name text NOT NULL,"
	" created_at timestamptz NOT NULL DEFAULT now(),"
	" PRIMARY KEY (plan, kind, schema_name, object_name))",
	/* triggers and rules disabled until cutover, with the state to restore (held_triggers.c) */
	"CREATE TABLE IF NOT EXISTS pgshift.held_triggers ("
	" plan text NOT NULL,"
	" kind text NOT NULL CHECK (kind IN ('trigger', 'rule')),"
	" schema_name text NOT NULL,"
	" table_name text NOT NULL,"
	" object_name text NOT NULL,"
	" enabled text NOT NULL CHECK (enabled IN ('A', 'R')),"
	" PRIMARY KEY (plan, kind, schema_name, table_name, object_name))",
	/* replica identities changed on the SOURCE: they outlive the run, until restored */
	"CREATE TABLE IF NOT EXISTS pgshift.identity_changes ("
	" plan text NOT NULL,"
	" schema_name text NOT NULL,"
	" table_name text NOT NULL,"
	" old_identity \"char\" NOT NULL CHECK (old_identity IN ('d', 'n', 'f', 'i')),"
	" old_index text,"
	" new_identity \"char\" NOT NULL CHECK (new_identity IN ('d', 'n', 'f', 'i')),"
	" new_index text,"
	" changed_at timestamptz NOT NULL DEFAULT now(),"
	" restored_at timestamptz,"
	" PRIMARY KEY (plan, schema_name, table_name))",
	/*
	 * A table copied again after a crash, on the snapshot of a temporary slot
	 * created at sync_lsn: its spooled changes that committed before that
	 * point are in the copy and are skipped (native replication's srsublsn).
	 */
	"CREATE TABLE IF NOT EXISTS pgshift.table_sync ("
	" plan text NOT NULL REFERENCES pgshift.runs (plan) ON DELETE CASCADE,"
	" schema_name text NOT NULL,"
	" table_name text NOT NULL,"
	" sync_lsn pg_lsn NOT NULL,"
	" synced_at timestamptz NOT NULL DEFAULT now(),"
	" PRIMARY KEY (plan, schema_name, table_name))",
	/*
	 * The DAG the run's first apply compiled (state_dag.c): every resume runs
	 * exactly these steps, a table's copy split by the size recorded here.
	 */
	"CREATE TABLE IF NOT EXISTS pgshift.run_dag ("
	" plan text NOT NULL REFERENCES pgshift.runs (plan) ON DELETE CASCADE,"
	" ord integer NOT NULL,"
	" step_id text NOT NULL,"
	" kind text NOT NULL,"
	" schema_name text,"
	" table_name text,"
	" table_bytes bigint,"
	" PRIMARY KEY (plan, step_id))",
	/*
	 * The manifest (state_manifest.c): the objects of the target before the
	 * run's first schema.pre (baseline_at says when), and every object that
	 * appeared since, which is all reset drops. The manifest has no foreign
	 * key: it outlives the run, cleanup and keep_state: false, until reset.
	 */
	"ALTER TABLE pgshift.runs ADD COLUMN IF NOT EXISTS baseline_at timestamptz",
	"CREATE TABLE IF NOT EXISTS pgshift.target_baseline ("
	" plan text NOT NULL REFERENCES pgshift.runs (plan) ON DELETE CASCADE,"
	" classid oid NOT NULL,"
	" objid oid NOT NULL,"
	" PRIMARY KEY (plan, classid, objid))",
	"CREATE TABLE IF NOT EXISTS pgshift.manifest ("
	" plan text NOT NULL,"
	" classid oid NOT NULL,"
	" objid oid NOT NULL,"
	" kind text NOT NULL,"
	" schema_name text,"
	" identity text NOT NULL,"
	" recorded_at timestamptz NOT NULL DEFAULT now(),"
	" PRIMARY KEY (plan, classid, objid))",
	/*
	 * The schema restore batches that committed (state_restore.c): each row
	 * is written in the batch's own transaction, so a resume knows exactly
	 * which batches to skip.
	 */
	"CREATE TABLE IF NOT EXISTS pgshift.restore_batches ("
	" plan text NOT NULL REFERENCES pgshift.runs (plan) ON DELETE CASCADE,"
	" step_id text NOT NULL,"
	" batch integer NOT NULL,"
	" entries integer NOT NULL,"
	" PRIMARY KEY (plan, step_id, batch))",
};

static bool
state_complete(PGconn *conn, bool *complete, struct pgs_error *err)
{
	PGresult *res = pg_query(conn, exists_sql, 0, NULL, err);

	if (!res)
		return false;
	*complete = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return true;
}

bool
state_ddl_in_tx(PGconn *conn, struct pgs_error *err)
{
	bool complete;

	if (!pg_exec(conn, STATE_DDL_LOCK_SQL, 0, NULL, err) || !state_complete(conn, &complete, err))
		return false;
	if (complete)
		return true;
	for (size_t i = 0; i < sizeof(ddl) / sizeof(ddl[0]); i++) {
		if (!pg_exec(conn, ddl[i], 0, NULL, err)) {
			pgs_error_prefix(err, "could not create the state schema \"pgshift\" on the target");
			if (!err->hint[0])
				pgs_error_hint(err, "the target user needs CREATE on the database (or create "
							   "schema pgshift for it once)");
			return false;
		}
	}
	return true;
}

/* Errors a concurrent CREATE ... IF NOT EXISTS can still raise: the object appeared meanwhile. */
static bool
is_create_race(const char *sqlstate)
{
	return strcmp(sqlstate, "23505") == 0 || strcmp(sqlstate, "42P06") == 0 ||
		   strcmp(sqlstate, "42P07") == 0 || strcmp(sqlstate, "42710") == 0;
}

static bool
ensure_once(PGconn *conn, struct pgs_error *err)
{
	if (!pg_exec(conn, "BEGIN", 0, NULL, err))
		return false;
	if (!state_ddl_in_tx(conn, err)) {
		state_rollback(conn);
		return false;
	}
	return pg_exec(conn, "COMMIT", 0, NULL, err);
}

bool
state_ensure_schema(struct state *st, struct pgs_error *err)
{
	bool ok = false;

	pthread_mutex_lock(&st->conn_lock);
	for (int attempt = 0; attempt < 3 && !ok; attempt++) {
		pgs_error_clear(err);
		ok = ensure_once(st->conn, err);
		if (!ok && !is_create_race(err->sqlstate))
			break;
	}
	pthread_mutex_unlock(&st->conn_lock);
	return ok;
}
