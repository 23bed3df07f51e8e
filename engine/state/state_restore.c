/*
 * Which schema restore batches committed (pgshift.restore_batches). The
 * marker row is written by the restoring session inside the batch's own
 * transaction, so there is no moment where a batch is on the target but
 * not marked, or marked but not there: a resume skips exactly the marked
 * batches and runs the others.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "pg/conn.h"
#include "pg/privs.h"
#include "state/state_int.h"

bool
state_mark_batch(PGconn *conn, const char *plan, const char *step_id, size_t batch,
				 size_t entries, struct pgs_error *err)
{
	char b[24], e[24];
	const char *params[4] = {plan, step_id, b, e};

	snprintf(b, sizeof(b), "%zu", batch);
	snprintf(e, sizeof(e), "%zu", entries);
	if (pg_exec(conn, "INSERT INTO pgshift.restore_batches (plan, step_id, batch, entries)"
				" VALUES ($1, $2, $3::integer, $4::integer) ON CONFLICT DO NOTHING", 4, params,
				err))
		return true;
	pgs_error_prefix(err, "could not mark restore batch %zu of step \"%s\" in the state", batch,
					 step_id);
	return false;
}

bool
state_batches_done(struct state *st, const char *step_id, bool *done, size_t nbatches,
				   size_t *marked, struct pgs_error *err)
{
	const char *params[2] = {st->plan, step_id};
	PGresult *res = state_query(st, "SELECT batch FROM pgshift.restore_batches"
								" WHERE plan = $1 AND step_id = $2", 2, params, err);

	if (!res) {
		pgs_error_prefix(err, "could not read the restore batches of step \"%s\"", step_id);
		return false;
	}
	for (size_t b = 0; b < nbatches; b++)
		done[b] = false;
	*marked = (size_t) PQntuples(res);
	for (int r = 0; r < PQntuples(res); r++) {
		long b = strtol(PQgetvalue(res, r, 0), NULL, 10);

		if (b >= 0 && (size_t) b < nbatches)
			done[b] = true;
	}
	PQclear(res);
	return true;
}
