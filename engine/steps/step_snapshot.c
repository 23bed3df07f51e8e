/*
 * The snapshot step without CDC (with CDC: step_snapshot_cdc.c): a source session in a REPEATABLE READ READ
 * ONLY transaction exports its snapshot, and stays open (idle in that
 * transaction) so every copy worker can import the same snapshot with SET
 * TRANSACTION SNAPSHOT. The run holds the session until
 * run_release_snapshot. With CDC the id comes from CREATE_REPLICATION_SLOT
 * ... EXPORT_SNAPSHOT instead; that code hands its session and id to
 * run_hold_snapshot the same way.
 */
#include <stdio.h>
#include <string.h>

#include "pg/conn.h"
#include "steps/steps.h"

bool
run_hold_snapshot(struct run *run, PGconn *conn, const char *id, struct pgs_error *err)
{
	int n = snprintf(run->snapshot, sizeof(run->snapshot), "%s", id);

	if (n < 0 || (size_t) n >= sizeof(run->snapshot) || n == 0) {
		run->snapshot[0] = '\0';
		return pgs_fail(err, "the source exported a snapshot id pgshift cannot hold (%d bytes)", n);
	}
	pthread_mutex_lock(&run->snapshot_lock);
	run->snapshot_conn = conn;
	pthread_mutex_unlock(&run->snapshot_lock);
	return true;
}

bool
step_snapshot(struct run *run, size_t step, struct pgs_error *err)
{
	const struct step *st = &run->dag->steps[step];
	PGconn *conn;
	PGresult *res = NULL;

	if (run->plan->cdc.enabled && run->resync_tables)
		return step_snapshot_resync(run, step, err);
	if (run->plan->cdc.enabled)
		return step_snapshot_cdc(run, step, err);
	conn = run_connect_source(run, st->id, err);
	if (!conn)
		return false;
	if (!pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, err))
		goto fail;
	res = pg_query(conn, "SELECT pg_export_snapshot()", 0, NULL, err);
	if (!res)
		goto fail;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		pgs_fail(err, "pg_export_snapshot() returned no snapshot id");
		goto fail;
	}
	if (!run_hold_snapshot(run, conn, PQgetvalue(res, 0, 0), err))
		goto fail;
	PQclear(res);
	return true;

fail:
	pgs_error_prefix(err, "could not export a snapshot on the source");
	PQclear(res);
	PQfinish(conn);
	return false;
}

/*
 * Ends the transaction that keeps the snapshot importable (read-only, so
 * COMMIT and ROLLBACK are the same) and closes the session. A replication
 * session holding a slot's snapshot is not in a transaction: it is closed.
 */
void
run_release_snapshot(struct run *run)
{
	pthread_mutex_lock(&run->snapshot_lock);
	if (run->snapshot_conn) {
		if (PQtransactionStatus(run->snapshot_conn) == PQTRANS_INTRANS)
			PQclear(PQexec(run->snapshot_conn, "COMMIT"));
		PQfinish(run->snapshot_conn);
		run->snapshot_conn = NULL;
	}
	pthread_mutex_unlock(&run->snapshot_lock);
}
