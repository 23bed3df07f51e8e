/*
 * Triggers and rules that fire in the replica role (DESIGN.md §4: what the
 * source already did is not done twice). The applier runs with
 * session_replication_role = replica, which keeps ordinary (ENABLE) triggers
 * and rules quiet but fires those set ENABLE ALWAYS or ENABLE REPLICA: they
 * would do on the target again what their firing on the source already
 * sent as changes (a second log row, a sequence moved twice). schema.post
 * creates them with their state; with CDC, held_triggers_disable then
 * records each one's state in pgshift.held_triggers and disables it, in one
 * transaction, and held_triggers_restore puts back the exact state once
 * nothing more is replayed (cutover wait_for_catchup, cleanup, reset) and
 * forgets the record (a table dropped meanwhile is passed over). A resumed run finds the record and keeps the first
 * state it noted. Internal triggers (foreign keys) are never touched: they
 * are ENABLE (origin) and quiet in the replica role. Copies never meet
 * them: schema.post runs after every copy.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "steps/steps.h"
#include "util/log.h"
#include "util/xalloc.h"

static const char firing_sql[] =
	"SELECT 'trigger', n.nspname, c.relname, t.tgname, t.tgenabled::pg_catalog.text"
	" FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE NOT t.tgisinternal AND t.tgenabled IN ('A', 'R')"
	" AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgshift')"
	" UNION ALL"
	" SELECT 'rule', n.nspname, c.relname, r.rulename, r.ev_enabled::pg_catalog.text"
	" FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE r.ev_enabled IN ('A', 'R') AND r.rulename <> '_RETURN'"
	" AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgshift')";

static const char record_sql[] =
	"INSERT INTO pgshift.held_triggers (plan, kind, schema_name, table_name, object_name,"
	" enabled) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";

static const char held_sql[] =
	"SELECT kind, schema_name, table_name, object_name, enabled FROM pgshift.held_triggers"
	" WHERE plan = $1 AND pg_catalog.to_regclass(pg_catalog.quote_ident(schema_name) || '.' ||"
	" pg_catalog.quote_ident(table_name)) IS NOT NULL ORDER BY 1, 2, 3, 4";

/* ALTER TABLE ONLY t {DISABLE | ENABLE ALWAYS | ENABLE REPLICA} {TRIGGER | RULE} name */
static bool
alter(PGconn *conn, const char *kind, const char *schema, const char *table, const char *name,
	  const char *enabled, struct pgs_error *err)
{
	char *qt = pg_quote_qualified(conn, schema, table), *qn = pg_quote_ident(conn, name);
	const char *how = !enabled ? "DISABLE" : enabled[0] == 'A' ? "ENABLE ALWAYS" :
		"ENABLE REPLICA";
	char *sql = xasprintf("ALTER TABLE ONLY %s %s %s %s", qt, how,
						  strcmp(kind, "rule") == 0 ? "RULE" : "TRIGGER", qn);
	bool ok = pg_exec(conn, sql, 0, NULL, err);

	if (!ok)
		pgs_error_prefix(err, "could not %s %s \"%s\" on table \"%s.%s\"",
						 enabled ? "restore" : "disable", kind, name, schema, table);
	free(sql);
	free(qn);
	free(qt);
	return ok;
}

static bool
in_transaction(PGconn *conn, bool (*body)(PGconn *, const char *, int *, struct pgs_error *),
			   const char *plan, int *n, struct pgs_error *err)
{
	struct pgs_error ignored;

	if (!pg_exec(conn, "BEGIN", 0, NULL, err))
		return false;
	if (body(conn, plan, n, err) && pg_exec(conn, "COMMIT", 0, NULL, err))
		return true;
	pg_exec(conn, "ROLLBACK", 0, NULL, &ignored);
	return false;
}

static bool
disable_all(PGconn *conn, const char *plan, int *n, struct pgs_error *err)
{
	PGresult *res = pg_query(conn, firing_sql, 0, NULL, err);
	bool ok = res != NULL;

	*n = ok ? PQntuples(res) : 0;
	for (int r = 0; ok && r < *n; r++) {
		const char *params[6] = {plan, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
								 PQgetvalue(res, r, 2), PQgetvalue(res, r, 3),
								 PQgetvalue(res, r, 4)};

		ok = pg_exec(conn, record_sql, 6, params, err) &&
			alter(conn, params[1], params[2], params[3], params[4], NULL, err);
	}
	PQclear(res);
	return ok;
}

static bool
restore_all(PGconn *conn, const char *plan, int *n, struct pgs_error *err)
{
	const char *params[1] = {plan};
	PGresult *res = pg_query(conn, held_sql, 1, params, err);
	bool ok = res != NULL;

	*n = ok ? PQntuples(res) : 0;
	for (int r = 0; ok && r < *n; r++)
		ok = alter(conn, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), PQgetvalue(res, r, 2),
				   PQgetvalue(res, r, 3), PQgetvalue(res, r, 4), err);
	PQclear(res);
	return ok && pg_exec(conn, "DELETE FROM pgshift.held_triggers WHERE plan = $1", 1, params,
						 err);
}

bool
held_triggers_disable(PGconn *conn, const char *plan, struct pgs_error *err)
{
	int n = 0;

	if (!in_transaction(conn, disable_all, plan, &n, err))
		return false;
	if (n > 0)
		log_info("schema.post: disabled %d trigger(s) and rule(s) set ENABLE ALWAYS or ENABLE"
				 " REPLICA until the cutover, so replayed changes do not fire them twice", n);
	return true;
}

bool
held_triggers_restore(PGconn *conn, const char *plan, const char *who, struct pgs_error *err)
{
	int n = 0;

	if (!in_transaction(conn, restore_all, plan, &n, err)) {
		pgs_error_hint(err, "the states to restore are in pgshift.held_triggers on the target");
		return false;
	}
	if (n > 0)
		log_info("%s: restored the ENABLE ALWAYS / ENABLE REPLICA state of %d trigger(s) and"
				 " rule(s)", who, n);
	return true;
}
