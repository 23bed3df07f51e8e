/*
 * pgshift.table_sync: the tables a resumed run copied again on the snapshot
 * of a temporary slot, each with that slot's consistent point (see state.h).
 * A table copied again twice (a second crash) keeps only its last point: the
 * copy on that snapshot is the one the target holds.
 */
#include <stdlib.h>

#include "pg/conn.h"
#include "state/state_int.h"
#include "util/xalloc.h"

static const char set_sql[] =
	"INSERT INTO pgshift.table_sync (plan, schema_name, table_name, sync_lsn)"
	" VALUES ($1, $2, $3, $4::pg_lsn)"
	" ON CONFLICT (plan, schema_name, table_name)"
	" DO UPDATE SET sync_lsn = excluded.sync_lsn, synced_at = now()";

static const char list_sql[] =
	"SELECT schema_name, table_name, sync_lsn::text FROM pgshift.table_sync"
	" WHERE plan = $1 ORDER BY schema_name, table_name";

bool
state_set_table_sync(struct state *st, const char *schema, const char *table, const char *lsn,
					 struct pgs_error *err)
{
	const char *params[4] = {st->plan, schema, table, lsn};

	if (state_exec(st, set_sql, 4, params, err))
		return true;
	pgs_error_prefix(err, "could not record the sync point %s of table \"%s.%s\" in the state",
					 lsn, schema, table);
	return false;
}

bool
state_list_table_sync(struct state *st, struct table_sync **out, size_t *n,
					  struct pgs_error *err)
{
	const char *params[1] = {st->plan};
	PGresult *res = state_query(st, list_sql, 1, params, err);

	*out = NULL;
	*n = 0;
	if (!res) {
		pgs_error_prefix(err, "could not read the tables copied again of plan \"%s\"", st->plan);
		return false;
	}
	*n = (size_t) PQntuples(res);
	*out = xcalloc(*n + 1, sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		(*out)[i].schema = state_getstr(res, (int) i, 0);
		(*out)[i].table = state_getstr(res, (int) i, 1);
		(*out)[i].lsn = state_getstr(res, (int) i, 2);
	}
	PQclear(res);
	return true;
}

void
table_sync_free(struct table_sync *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].schema);
		free(s[i].table);
		free(s[i].lsn);
	}
	free(s);
}
