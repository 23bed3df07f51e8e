/*
 * pgshift.run_dag and runs.catalog_fingerprint: the DAG the run's first
 * apply compiled, and the source catalog it was compiled from (see
 * state.h). Steps are only ever added (apply --replan adds the new
 * tables' steps): a step recorded once stays the run's.
 */
#include <stdlib.h>

#include "pg/conn.h"
#include "state/state_int.h"
#include "util/xalloc.h"

static const char exists_sql[] = "SELECT to_regclass('pgshift.run_dag') IS NOT NULL";

static const char fingerprint_sql[] =
	"SELECT catalog_fingerprint FROM pgshift.runs WHERE plan = $1";

static const char steps_sql[] =
	"SELECT step_id, kind, schema_name, table_name, table_bytes FROM pgshift.run_dag"
	" WHERE plan = $1 ORDER BY ord, step_id";

static const char record_sql[] =
	"WITH f AS (UPDATE pgshift.runs SET catalog_fingerprint = $2 WHERE plan = $1 RETURNING 1)"
	" INSERT INTO pgshift.run_dag (plan, ord, step_id, kind, schema_name, table_name, table_bytes)"
	" SELECT $1, x.ord, x.id, x.kind, x.schema, x.\"table\", x.bytes"
	" FROM json_to_recordset($3::json)"
	"  AS x(ord integer, id text, kind text, schema text, \"table\" text, bytes bigint)"
	" ON CONFLICT (plan, step_id) DO NOTHING";

static bool
read_steps(struct state *st, struct dag_record *out, struct pgs_error *err)
{
	const char *params[1] = {st->plan};
	PGresult *res = state_query(st, steps_sql, 1, params, err);

	if (!res)
		return false;
	out->n = (size_t) PQntuples(res);
	out->steps = xcalloc(out->n + 1, sizeof(*out->steps));
	for (size_t i = 0; i < out->n; i++) {
		struct dag_record_step *s = &out->steps[i];

		s->step_id = state_getstr(res, (int) i, 0);
		s->kind = state_getstr(res, (int) i, 1);
		s->schema = state_getstr(res, (int) i, 2);
		s->table = state_getstr(res, (int) i, 3);
		s->table_bytes = state_getll(res, (int) i, 4, -1);
	}
	PQclear(res);
	return true;
}

bool
state_read_dag(struct state *st, struct dag_record *out, struct pgs_error *err)
{
	const char *params[1] = {st->plan};
	PGresult *res;
	bool ok = true;

	*out = (struct dag_record) {0};
	res = state_query(st, exists_sql, 0, NULL, err);
	if (res && PQgetvalue(res, 0, 0)[0] == 't') {
		PQclear(res);
		res = state_query(st, fingerprint_sql, 1, params, err);
		if (res && PQntuples(res) == 1)
			out->fingerprint = state_getstr(res, 0, 0);
		ok = res && read_steps(st, out, err);
	}
	ok = ok && res;
	PQclear(res);
	if (!ok)
		pgs_error_prefix(err, "could not read the recorded DAG of plan \"%s\"", st->plan);
	return ok;
}

bool
state_record_dag(struct state *st, const char *fingerprint, char *(*chunk)(void *ctx, size_t i),
				 void *ctx, size_t nchunks, struct pgs_error *err)
{
	const char *params[3] = {st->plan, fingerprint, NULL};
	bool ok;

	pthread_mutex_lock(&st->conn_lock);
	ok = pg_exec(st->conn, "BEGIN", 0, NULL, err);
	for (size_t i = 0; ok && i < nchunks; i++) {
		char *json = chunk(ctx, i);

		params[2] = json;
		ok = pg_exec(st->conn, record_sql, 3, params, err);
		free(json);
	}
	if (ok)
		ok = pg_exec(st->conn, "COMMIT", 0, NULL, err);
	else if (PQtransactionStatus(st->conn) != PQTRANS_IDLE)
		state_rollback(st->conn);
	pthread_mutex_unlock(&st->conn_lock);
	if (!ok)
		pgs_error_prefix(err, "could not record the compiled DAG of plan \"%s\" in the state",
						 st->plan);
	return ok;
}

void
dag_record_free(struct dag_record *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->steps[i].step_id);
		free(r->steps[i].kind);
		free(r->steps[i].schema);
		free(r->steps[i].table);
	}
	free(r->steps);
	free(r->fingerprint);
	*r = (struct dag_record) {0};
}
