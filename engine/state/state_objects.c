/*
 * Reading what apply created (pgshift.created_objects) for `pgshift reset`,
 * on the locked connection so no apply of the plan adds to it meanwhile.
 */
#include <stdlib.h>

#include "pg/conn.h"
#include "state/state_int.h"
#include "util/xalloc.h"

/*
 * Dependents first: relations before the extensions and schemas that hold
 * them, and roles last, once nothing of the plan's is theirs any more.
 */
static const char objects_sql[] =
	"SELECT kind, schema_name, object_name FROM pgshift.created_objects WHERE plan = $1"
	" ORDER BY CASE kind WHEN 'materialized view' THEN 0 WHEN 'view' THEN 1"
	" WHEN 'table' THEN 2 WHEN 'sequence' THEN 3 WHEN 'extension' THEN 5"
	" WHEN 'schema' THEN 6 WHEN 'role' THEN 7 ELSE 4 END, schema_name, object_name";

static bool
read_objects(PGconn *conn, const char *plan, bool *has_run, struct created_object **objs,
			 size_t *n, struct pgs_error *err)
{
	const char *params[1] = {plan};
	PGresult *res = pg_query(conn, "SELECT count(*) FROM pgshift.runs WHERE plan = $1", 1, params,
							 err);

	if (!res)
		return false;
	*has_run = PQgetvalue(res, 0, 0)[0] != '0';
	PQclear(res);
	res = pg_query(conn, objects_sql, 1, params, err);
	if (!res)
		return false;
	*n = (size_t) PQntuples(res);
	*objs = xcalloc(*n ? *n : 1, sizeof(**objs));
	for (size_t i = 0; i < *n; i++) {
		(*objs)[i].kind = state_getstr(res, (int) i, 0);
		(*objs)[i].schema = state_getstr(res, (int) i, 1);
		if ((*objs)[i].schema && !(*objs)[i].schema[0]) {
			/* stored as '' (part of the key) for objects outside a schema */
			free((*objs)[i].schema);
			(*objs)[i].schema = NULL;
		}
		(*objs)[i].name = state_getstr(res, (int) i, 2);
	}
	PQclear(res);
	return true;
}

bool
state_list_objects(struct state *st, bool *has_run, struct created_object **objs, size_t *n,
				   struct pgs_error *err)
{
	bool table = false, ok;

	*has_run = false;
	*objs = NULL;
	*n = 0;
	pthread_mutex_lock(&st->conn_lock);
	ok = state_runs_table_exists(st->conn, &table, err) &&
		(!table || read_objects(st->conn, st->plan, has_run, objs, n, err));
	pthread_mutex_unlock(&st->conn_lock);
	if (!ok)
		pgs_error_prefix(err, "could not read what plan \"%s\" created on the target", st->plan);
	return ok;
}

void
created_objects_free(struct created_object *objs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(objs[i].kind);
		free(objs[i].schema);
		free(objs[i].name);
	}
	free(objs);
}
