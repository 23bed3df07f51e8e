/*
 * The reverse stream's row in the source's pgshift.runs (reverse_state.h).
 * Every statement binds the row's key, plan->rollback.slot; the schema is
 * the one state_schema.c creates on the target, so the applier's
 * bookkeeping works on either side unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "state/reverse_state.h"
#include "state/state_int.h"
#include "util/buf.h"
#include "util/xalloc.h"

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
				   " fenced, source_lsn::text, received_lsn::text, applied_lsn::text, run_id::text, error"
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
		out->error = state_getstr(res, 0, 8);
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
	free(rs->error);
	memset(rs, 0, sizeof(*rs));
}

bool
reverse_state_lock_held(PGconn *src, const struct plan *plan, bool *held, char *app, size_t n,
						struct pgs_error *err)
{
	const char *params[1] = {plan->rollback.slot};
	/* a bigint advisory key is classid (high half) and objid (low half), objsubid 1 */
	PGresult *res = pg_query(src, "SELECT coalesce(a.application_name, '')"
							 " FROM pg_catalog.pg_locks l"
							 " LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid"
							 " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
							 " AND l.database = (SELECT oid FROM pg_catalog.pg_database"
							 "  WHERE datname = pg_catalog.current_database())"
							 " AND ((l.classid::bigint << 32) | l.objid::bigint)"
							 "  = pg_catalog.hashtextextended('pgshift:' || $1, 0) LIMIT 1",
							 1, params, err);

	if (!res)
		return false;
	*held = PQntuples(res) > 0;
	if (app)
		snprintf(app, n, "%s", *held ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return true;
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

/*
 * Schema pgshift's tables when it holds nothing else (no function, view or
 * free-standing type: the DDL capture's functions, a user's object).
 */
static const char own_tables_sql[] =
	"SELECT c.relname FROM pg_catalog.pg_class c"
	" WHERE c.relnamespace = 'pgshift'::regnamespace AND c.relkind IN ('r', 'p')"
	" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE pronamespace = 'pgshift'::regnamespace)"
	" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class o WHERE o.relnamespace = 'pgshift'::regnamespace"
	"  AND o.relkind NOT IN ('r', 'p', 'i', 'I', 'S', 't'))"
	" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type t WHERE t.typnamespace = 'pgshift'::regnamespace"
	"  AND t.typrelid = 0 AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e"
	"   WHERE e.oid = t.typelem AND e.typrelid <> 0))";

/* Appends "pgshift.t, ..." of the tables; *empty false when one has a row. */
static bool
all_empty(PGconn *src, PGresult *tables, struct buf *list, bool *empty, struct pgs_error *err)
{
	*empty = true;
	for (int i = 0; *empty && i < PQntuples(tables); i++) {
		char *q = pg_quote_qualified(src, "pgshift", PQgetvalue(tables, i, 0));
		char *sql = xasprintf("SELECT EXISTS (SELECT 1 FROM %s)", q);
		PGresult *res = pg_query(src, sql, 0, NULL, err);

		free(sql);
		if (!res) {
			free(q);
			return false;
		}
		*empty = strcmp(PQgetvalue(res, 0, 0), "f") == 0;
		PQclear(res);
		buf_printf(list, "%s%s", i ? ", " : "", q);
		free(q);
	}
	return true;
}

bool
reverse_state_drop_schema_if_unused(PGconn *src, bool *dropped, struct pgs_error *err)
{
	PGresult *tables;
	struct buf list;
	bool exists, empty = false, ok;
	char *sql;

	*dropped = false;
	if (!reverse_state_schema_exists(src, &exists, err))
		return false;
	if (!exists)
		return true;
	tables = pg_query(src, own_tables_sql, 0, NULL, err);
	if (!tables)
		return false;
	buf_init(&list);
	ok = all_empty(src, tables, &list, &empty, err);
	if (ok && empty && PQntuples(tables) > 0) {
		/* without CASCADE: an object of someone else's on them keeps the schema */
		sql = xasprintf("DROP TABLE %s", list.data);
		ok = pg_exec(src, "BEGIN", 0, NULL, err);
		if (ok && !(pg_exec(src, sql, 0, NULL, err) &&
					pg_exec(src, "DROP SCHEMA pgshift", 0, NULL, err) &&
					pg_exec(src, "COMMIT", 0, NULL, err))) {
			state_rollback(src);
			ok = false;
		}
		*dropped = ok;
		free(sql);
	}
	buf_free(&list);
	PQclear(tables);
	return ok;
}
