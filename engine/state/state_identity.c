/*
 * Replica identities pgshift changed on the source (pgshift.identity_changes,
 * see state.h). A change is recorded before it is made, so a crash between
 * the two still leaves the record; recording the same table again keeps the
 * first old identity unless that change was restored since.
 */
#include <stdlib.h>

#include "pg/conn.h"
#include "state/state_int.h"
#include "util/xalloc.h"

static const char record_sql[] =
	"INSERT INTO pgshift.identity_changes"
	" (plan, schema_name, table_name, old_identity, old_index, new_identity, new_index)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7)"
	" ON CONFLICT (plan, schema_name, table_name) DO UPDATE SET"
	" old_identity = EXCLUDED.old_identity, old_index = EXCLUDED.old_index,"
	" new_identity = EXCLUDED.new_identity, new_index = EXCLUDED.new_index,"
	" changed_at = now(), restored_at = NULL"
	" WHERE pgshift.identity_changes.restored_at IS NOT NULL";

static const char list_sql[] =
	"SELECT schema_name, table_name, old_identity, old_index, new_identity, new_index"
	" FROM pgshift.identity_changes WHERE plan = $1 AND restored_at IS NULL"
	" ORDER BY schema_name COLLATE \"C\", table_name COLLATE \"C\"";

bool
state_record_identity(struct state *st, const struct identity_change *c, struct pgs_error *err)
{
	char old_kind[2] = {c->old_identity, 0}, new_kind[2] = {c->new_identity, 0};
	const char *params[7] = {st->plan, c->schema, c->table, old_kind, c->old_index, new_kind,
							 c->new_index};
	bool ok;

	pthread_mutex_lock(&st->conn_lock);
	ok = pg_exec(st->conn, record_sql, 7, params, err);
	pthread_mutex_unlock(&st->conn_lock);
	if (!ok)
		pgs_error_prefix(err, "could not record the replica identity change of table \"%s.%s\""
						 " in the state on the target", c->schema, c->table);
	return ok;
}

static bool
read_changes(PGconn *conn, const char *plan, struct identity_change **out, size_t *n,
			 struct pgs_error *err)
{
	const char *params[1] = {plan};
	PGresult *res = pg_query(conn, list_sql, 1, params, err);

	if (!res)
		return false;
	*n = (size_t) PQntuples(res);
	*out = xcalloc(*n + 1, sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		struct identity_change *c = &(*out)[i];

		c->schema = state_getstr(res, (int) i, 0);
		c->table = state_getstr(res, (int) i, 1);
		c->old_identity = PQgetvalue(res, (int) i, 2)[0];
		c->old_index = state_getstr(res, (int) i, 3);
		c->new_identity = PQgetvalue(res, (int) i, 4)[0];
		c->new_index = state_getstr(res, (int) i, 5);
	}
	PQclear(res);
	return true;
}

bool
state_list_identities(struct state *st, struct identity_change **out, size_t *n,
					  struct pgs_error *err)
{
	bool exists = false, ok;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->conn_lock);
	ok = state_table_exists(st->conn, "pgshift.identity_changes", &exists, err) &&
		(!exists || read_changes(st->conn, st->plan, out, n, err));
	pthread_mutex_unlock(&st->conn_lock);
	if (!ok)
		pgs_error_prefix(err, "could not read the replica identity changes of plan \"%s\"",
						 st->plan);
	return ok;
}

bool
state_identity_restored(struct state *st, const char *schema, const char *table,
						struct pgs_error *err)
{
	const char *params[3] = {st->plan, schema, table};
	bool ok;

	pthread_mutex_lock(&st->conn_lock);
	ok = pg_exec(st->conn, "UPDATE pgshift.identity_changes SET restored_at = now()"
				 " WHERE plan = $1 AND schema_name = $2 AND table_name = $3", 3, params, err);
	pthread_mutex_unlock(&st->conn_lock);
	if (!ok)
		pgs_error_prefix(err, "could not record that table \"%s.%s\" has its replica identity back",
						 schema, table);
	return ok;
}

void
identity_changes_free(struct identity_change *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].schema);
		free(c[i].table);
		free(c[i].old_index);
		free(c[i].new_index);
	}
	free(c);
}
