/*
 * The reverse stream's row in the source's pgshift.runs (reverse_state.h).
 * Every statement binds the row's key, plan->rollback.slot; the schema is
 * the one state_schema.c creates on the target, so the applier's
 * bookkeeping works on either side unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "state/reverse_state.h"
#include "state/state_int.h"

static bool
ensure_schema(PGconn *src, struct pgs_error *err)
{
	if (!pg_exec(src, "BEGIN", 0, NULL, err))
		return false;
	if (!state_ddl_in_tx(src, err)) {
		state_rollback(src);
		pgs_error_prefix(err, "(on the source, for the reverse stream)");
		return false;
	}
	return pg_exec(src, "COMMIT", 0, NULL, err);
}

bool
reverse_state_begin(PGconn *src, const struct plan *plan, const char *run_id,
					const char *start_lsn, struct pgs_error *err)
{
	const char *params[4] = {plan->rollback.slot, run_id, plan->sha256, start_lsn};

	if (!ensure_schema(src, err))
		return false;
	if (pg_exec(src, "INSERT INTO pgshift.runs (plan, run_id, plan_sha256, status, applied_lsn)"
				" VALUES ($1, $2::uuid, $3, 'running', $4::pg_lsn)"
				" ON CONFLICT (plan) DO UPDATE SET run_id = excluded.run_id,"
				" plan_sha256 = excluded.plan_sha256, status = 'running',"
				" started_at = now(), updated_at = now(), finished_at = NULL, fenced = false,"
				" source_lsn = NULL, received_lsn = NULL, applied_lsn = excluded.applied_lsn,"
				" applied_commit_at = NULL, error = NULL", 4, params, err))
		return true;
	pgs_error_prefix(err, "could not record the reverse stream of plan \"%s\" in pgshift.runs on "
					 "the source", plan->name);
	return false;
}

bool
reverse_state_read(PGconn *src, const struct plan *plan, struct reverse_state *out, bool *found,
				   struct pgs_error *err)
{
	const char *params[1] = {plan->rollback.slot};
	bool exists;
	PGresult *res;

	*found = false;
	if (!state_runs_table_exists(src, &exists, err))
		return false;
	if (!exists)
		return true;
	res = pg_query(src, "SELECT status, extract(epoch FROM started_at), extract(epoch FROM now()),"
				   " fenced, source_lsn::text, received_lsn::text, applied_lsn::text, run_id::text"
				   " FROM pgshift.runs WHERE plan = $1", 1, params, err);
	if (!res)
		return false;
	if (PQntuples(res) == 1) {
		*found = true;
		out->status = state_getstr(res, 0, 0);
		out->started_at = state_getdbl(res, 0, 1);
		out->now = state_getdbl(res, 0, 2);
		out->fenced = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
		out->source_lsn = state_getstr(res, 0, 4);
		out->received_lsn = state_getstr(res, 0, 5);
		out->applied_lsn = state_getstr(res, 0, 6);
		out->run_id = state_getstr(res, 0, 7);
	}
	PQclear(res);
	return true;
}

void
reverse_state_free(struct reverse_state *rs)
{
	free(rs->run_id);
	free(rs->status);
	free(rs->source_lsn);
	free(rs->received_lsn);
	free(rs->applied_lsn);
	memset(rs, 0, sizeof(*rs));
}

bool
reverse_state_lock(PGconn *src, const struct plan *plan, bool *got, struct pgs_error *err)
{
	const char *params[1] = {plan->rollback.slot};
	PGresult *res = pg_query(src, "SELECT pg_catalog.pg_try_advisory_lock("
							 "pg_catalog.hashtextextended('pgshift:' || $1, 0))", 1, params, err);

	if (!res)
		return false;
	*got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return true;
}

static bool
update_row(PGconn *src, const struct plan *plan, const char *set, int n, const char *a,
		   const char *b, struct pgs_error *err)
{
	const char *params[3] = {plan->rollback.slot, a, b};
	char sql[256];

	snprintf(sql, sizeof(sql), "UPDATE pgshift.runs SET %s, updated_at = now() WHERE plan = $1", set);
	if (pg_exec(src, sql, n + 1, params, err))
		return true;
	pgs_error_prefix(err, "could not update the reverse stream's row in pgshift.runs on the source");
	return false;
}

bool
reverse_state_set_status(PGconn *src, const struct plan *plan, const char *status,
						 const char *error, struct pgs_error *err)
{
	return update_row(src, plan, "status = $2, error = $3, finished_at = CASE WHEN $2 = 'finished'"
					  " THEN now() END", 2, status, error, err);
}

bool
reverse_state_set_fenced(PGconn *src, const struct plan *plan, bool fenced, struct pgs_error *err)
{
	return update_row(src, plan, "fenced = $2::boolean", 1, fenced ? "true" : "false", NULL, err);
}

bool
reverse_state_set_positions(PGconn *src, const struct plan *plan, const char *target_lsn,
							const char *received_lsn, struct pgs_error *err)
{
	return update_row(src, plan, "source_lsn = coalesce($2::pg_lsn, source_lsn),"
					  " received_lsn = coalesce($3::pg_lsn, received_lsn)", 2, target_lsn,
					  received_lsn, err);
}

bool
reverse_state_schema_exists(PGconn *src, bool *exists, struct pgs_error *err)
{
	return state_runs_table_exists(src, exists, err);
}

bool
reverse_state_drop(PGconn *src, const struct plan *plan, struct pgs_error *err)
{
	const char *params[1] = {plan->rollback.slot};
	bool exists;

	if (!state_runs_table_exists(src, &exists, err))
		return false;
	return !exists || pg_exec(src, "DELETE FROM pgshift.runs WHERE plan = $1", 1, params, err);
}
