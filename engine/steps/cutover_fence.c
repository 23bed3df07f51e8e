/*
 * cutover fence_writes (DESIGN.md §4): see fence.h. The database name comes
 * from the session itself (current_database()), quoted as an identifier;
 * the roles are bound as one text[] parameter, never spliced into SQL.
 * Sessions of roles not listed keep running: the plan names the writers.
 */
#include <stdlib.h>

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

static bool
terminate_role_sessions(PGconn *src, const struct strlist *roles, long *ended,
						struct pgs_error *err)
{
	static const char sql[] =
		"SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid))"
		" FROM pg_catalog.pg_stat_activity"
		" WHERE datname = pg_catalog.current_database() AND usename = ANY ($1::text[])"
		" AND pid <> pg_catalog.pg_backend_pid()";
	char *arr = roles_array(roles);
	const char *params[1] = {arr};
	PGresult *res = pg_query(src, sql, 1, params, err);

	free(arr);
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
fence_source(PGconn *src, const struct strlist *roles, long *ended, struct pgs_error *err)
{
	/* read-only first: a session ended after it cannot come back writable */
	return alter_current_database(src, "SET default_transaction_read_only = on", err) &&
		terminate_role_sessions(src, roles, ended, err);
}

bool
unfence_source(PGconn *src, struct pgs_error *err)
{
	return alter_current_database(src, "RESET default_transaction_read_only", err);
}

bool
cutover_fence_writes(struct run *run, const struct cutover_step *cs, struct pgs_error *err)
{
	PGconn *src = run_connect_source(run, "cutover fence_writes", err);
	long ended = 0;
	bool ok;

	if (!src)
		return false;
	/* recorded before fencing: a crash in between must still leave a way to undo it */
	ok = (!run->state || state_set_fenced(run->state, true, err)) &&
		fence_source(src, &cs->roles, &ended, err);
	PQfinish(src);
	if (ok)
		log_info("fence_writes: source database read-only for new sessions; ended %ld session(s)"
				 " of the fenced roles", ended);
	return ok;
}
