/*
 * index:SCHEMA.INDEX — builds one index on the target from the source's
 * pg_get_indexdef, after its table's rows are in. Two kinds of index are left
 * to the constraint step instead, because PostgreSQL can only create them
 * together with their constraint: an exclusion constraint's index (ADD
 * CONSTRAINT ... USING INDEX takes only PRIMARY KEY and UNIQUE), and a
 * partitioned table's key index (USING INDEX is not supported on partitioned
 * tables, and a partitioned index cannot become a constraint later).
 * A partitioned index is created ON ONLY its table (the definition says so)
 * and then adopts its partitions' indexes, which the DAG built first.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "steps/steps.h"
#include "steps/steps_int.h"
#include "util/xalloc.h"

static const char index_state_sql[] =
	"SELECT x.indisvalid FROM pg_catalog.pg_index x"
	" JOIN pg_catalog.pg_class c ON c.oid = x.indexrelid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE n.nspname = $1 AND c.relname = $2";

/*
 * The constraint step creates this index with its constraint. That includes
 * the key index of a partition that is itself partitioned: its root's
 * constraint step adds the partition's key (which creates the index) while
 * it walks down the hierarchy.
 */
static bool
built_by_constraint(const struct catalog *cat, long i)
{
	long k = cat_constraint_of_index(cat, i);
	const struct cat_constraint *con = k >= 0 ? &cat->constraints[k] : NULL;

	if (!con)
		return false;
	if (cat->tables[con->table].relkind == 'p')
		return true;
	return con->type == 'x' && !con->inherited;
}

enum index_state { INDEX_MISSING, INDEX_VALID, INDEX_INVALID };

static bool
index_state(PGconn *conn, const struct cat_index *ix, enum index_state *st,
			struct pgs_error *err)
{
	const char *params[2] = {ix->schema, ix->name};
	PGresult *res = pg_query(conn, index_state_sql, 2, params, err);

	if (!res)
		return false;
	if (PQntuples(res) == 0)
		*st = INDEX_MISSING;
	else
		*st = strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? INDEX_VALID : INDEX_INVALID;
	PQclear(res);
	return true;
}

/* Attaching an index that is already attached to this parent does nothing. */
static bool
attach_children(PGconn *conn, const struct catalog *cat, long parent, struct pgs_error *err)
{
	const struct cat_index *p = &cat->indexes[parent];
	char *qp = pg_quote_qualified(conn, p->schema, p->name);
	bool ok = true;

	for (size_t i = 0; ok && i < cat->nindexes; i++) {
		char *qc, *sql;

		if (cat->indexes[i].parent != parent)
			continue;
		qc = pg_quote_qualified(conn, cat->indexes[i].schema, cat->indexes[i].name);
		sql = xasprintf("ALTER INDEX %s ATTACH PARTITION %s", qp, qc);
		ok = pg_exec(conn, sql, 0, NULL, err);
		if (!ok)
			pgs_error_prefix(err, "could not attach index \"%s\".\"%s\" to \"%s\"",
							 cat->indexes[i].schema, cat->indexes[i].name, p->name);
		free(sql);
		free(qc);
	}
	free(qp);
	return ok;
}

static bool
drop_index(PGconn *conn, const struct cat_index *ix, struct pgs_error *err)
{
	char *q = pg_quote_qualified(conn, ix->schema, ix->name);
	char *sql = xasprintf("DROP INDEX %s", q);
	bool ok = pg_exec(conn, sql, 0, NULL, err);

	free(sql);
	free(q);
	return ok;
}

/*
 * Valid: done by an earlier run. Invalid: a plain index is dropped and built
 * again; a partitioned one is invalid until every partition's index is
 * attached, so it keeps what it has and attaches the rest.
 */
static bool
build_index(PGconn *conn, const struct catalog *cat, long i, struct pgs_error *err)
{
	const struct cat_index *ix = &cat->indexes[i];
	bool partitioned = cat->tables[ix->table].relkind == 'p';
	enum index_state st;

	if (!index_state(conn, ix, &st, err))
		return false;
	if (st == INDEX_VALID)
		return true;
	if (st == INDEX_INVALID && !partitioned && !drop_index(conn, ix, err))
		return false;
	if ((st == INDEX_MISSING || !partitioned) && !pg_exec(conn, ix->def, 0, NULL, err)) {
		pgs_error_prefix(err, "could not create index \"%s\".\"%s\"", ix->schema, ix->name);
		return false;
	}
	return !partitioned || attach_children(conn, cat, i, err);
}

bool
step_index(struct run *run, size_t step, struct pgs_error *err)
{
	long i = run->dag->steps[step].object;
	PGconn *conn;
	bool ok;

	if (i < 0 || built_by_constraint(run->cat, i))
		return true;
	conn = run_connect_target_rows(run, run->dag->steps[step].id, err);
	ok = conn && steps_ddl_session(run, conn, err) && build_index(conn, run->cat, i, err);
	PQfinish(conn);
	return ok || step_failed(run, step, err);
}
