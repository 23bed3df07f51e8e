/*
 * cutover fence_writes (DESIGN.md §4): see fence.h. The database name comes
 * from the session itself (current_database()), quoted as an identifier;
 * the roles are bound as one text[] parameter, never spliced into SQL.
 * Sessions of roles not listed keep running: the plan names the writers;
 * pgshift's own sessions keep running whatever role they use.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "steps/fence.h"
#include "steps/steps.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Runs ALTER DATABASE <current database> <action>. */
static bool
alter_current_database(PGconn *src, const char *action, struct pgs_error *err)
{
	PGresult *res = pg_query(src, "SELECT pg_catalog.current_database()", 0, NULL, err);
	char *db, *sql;
	bool ok;

	if (!res)
		return false;
	db = pg_quote_ident(src, PQgetvalue(res, 0, 0));
	PQclear(res);
	sql = xasprintf("ALTER DATABASE %s %s", db, action);
	ok = pg_exec(src, sql, 0, NULL, err);
	if (!ok) {
		pgs_error_prefix(err, "could not alter database %s on the source", db);
		pgs_error_hint(err, "the source user must own the database or be a superuser");
	}
	free(sql);
	free(db);
	return ok;
}

/* A text[] literal of the roles: {"a","b"} with " and \ escaped. */
static char *
roles_array(const struct strlist *roles)
{
	struct buf b;

	buf_init(&b);
	buf_putc(&b, '{');
	for (size_t i = 0; i < roles->n; i++) {
		if (i)
			buf_putc(&b, ',');
		buf_putc(&b, '"');
		for (const char *p = roles->items[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(&b, '\\');
			buf_putc(&b, *p);
		}
		buf_putc(&b, '"');
	}
	buf_putc(&b, '}');
	return buf_steal(&b);
}

/*
 * pgshift's own sessions are spared even when they connect as a fenced
 * role: those this process opened (pid and an application_name of
 * pgshift's, so a reused pid of another client is not spared) and the
 * walsender streaming the plan's slot.
 */
static bool
terminate_role_sessions(PGconn *src, const struct strlist *roles, const char *slot, long *ended,
						struct pgs_error *err)
{
	static const char sql[] =
		"SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(a.pid))"
		" FROM pg_catalog.pg_stat_activity a"
		" WHERE a.datname = pg_catalog.current_database() AND a.usename = ANY ($1::text[])"
		" AND a.pid <> pg_catalog.pg_backend_pid()"
		" AND NOT (a.pid = ANY ($2::int[]) AND a.application_name LIKE 'pgshift%')"
		" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots r"
		"  WHERE r.slot_name = $3 AND r.active_pid = a.pid)";
	char *arr = roles_array(roles);
	char *own = pg_own_source_pids();
	const char *params[3] = {arr, own, slot};
	PGresult *res = pg_query(src, sql, 3, params, err);

	free(arr);
	free(own);
	if (!res) {
		pgs_error_prefix(err, "could not end the sessions of the fenced roles on the source");
		pgs_error_hint(err, "the source user needs pg_signal_backend or superuser");
		return false;
	}
	if (ended)
		*ended = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return true;
}

bool
fence_source(PGconn *src, const struct strlist *roles, const char *slot, long *ended,
			 struct pgs_error *err)
{
	/* read-only first: a session ended after it cannot come back writable */
	return alter_current_database(src, "SET default_transaction_read_only = on", err) &&
		terminate_role_sessions(src, roles, slot, ended, err);
}

bool
unfence_source(PGconn *src, struct pgs_error *err)
{
	return alter_current_database(src, "RESET default_transaction_read_only", err);
}

bool
database_fenced(PGconn *conn, bool *fenced, struct pgs_error *err)
{
	static const char sql[] =
		"SELECT EXISTS (SELECT 1"
		" FROM pg_catalog.pg_db_role_setting s, pg_catalog.unnest(s.setconfig) g"
		" WHERE s.setrole = 0 AND s.setdatabase = (SELECT oid FROM pg_catalog.pg_database"
		"  WHERE datname = pg_catalog.current_database())"
		" AND g ~* '^default_transaction_read_only=(on|true|yes|1)$')";
	PGresult *res = pg_query(conn, sql, 0, NULL, err);

	if (!res)
		return false;
	*fenced = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return true;
}

bool
cutover_fence_writes(struct run *run, const struct cutover_step *cs, struct pgs_error *err)
{
	PGconn *src = run_connect_source(run, "cutover fence_writes", err);
	const char *slot = run->plan->cdc.enabled ? run->plan->cdc.slot : NULL;
	long ended = 0;
	bool ok;

	if (!src)
		return false;
	/* recorded before fencing: a crash in between must still leave a way to undo it */
	ok = (!run->state || state_set_fenced(run->state, true, err)) &&
		fence_source(src, &cs->roles, slot, &ended, err);
	PQfinish(src);
	if (ok)
		log_info("fence_writes: source database read-only for new sessions; ended %ld session(s)"
				 " of the fenced roles", ended);
	return ok;
}
