/*
 * Connections pgshift opens: every session gets an application_name, timeouts
 * that cannot kill a long COPY or index build, and the settings that fix the
 * text form of values (DESIGN.md §4). Errors carry the redacted conninfo and
 * the server's SQLSTATE.
 */
#ifndef PGSHIFT_PG_CONN_H
#define PGSHIFT_PG_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "util/error.h"

struct pg_session {
	const char *role;           /* "source" or "target": named in errors */
	const char *app_name;       /* application_name; "pgshift" when NULL */
	bool read_only;             /* default_transaction_read_only = on */
	bool replication;           /* a replication=database connection */
	bool user_search_path;      /* keep the database's search_path: see conn.c */
	bool catalog_reads;         /* jit and parallel query off (see conn.c) */
};

/* Connects and configures the session; NULL with err filled on failure. */
/*
 * The connect timeout and TCP keepalive idle time of every later session to
 * the "source" or "target" (the plan's source./target. keys; 30 s each until
 * set). A conninfo that names them itself still wins.
 */
void pg_conn_configure(const char *role, int64_t connect_timeout_ms, int64_t keepalives_idle_ms);

PGconn *pg_connect(const char *conninfo, const struct pg_session *s, struct pgs_error *err);
/*
 * One more session to the server of like, with like's connection options
 * (PQconninfo: host, user, password...), configured as s says.
 */
PGconn *pg_connect_like(PGconn *like, const struct pg_session *s, struct pgs_error *err);

/*
 * A int[] literal ("{12,34}", malloc'd) of the backend pids of every source
 * session this process opened, for fence_writes to spare.
 */
char *pg_own_source_pids(void);

/* The value every session pgshift opens is given for setting name ("TimeZone"), or NULL. */
const char *pg_session_setting(const char *name);

/* Runs a statement that returns no rows (params may be NULL). */
bool pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
			 struct pgs_error *err);

/* Runs a query; returns a PGRES_TUPLES_OK result the caller PQclear()s, or NULL. */
PGresult *pg_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
				   struct pgs_error *err);

/*
 * Runs a query row by row (single-row mode): row(res, arg) sees each row as
 * row 0 of its own result, freed right after, so a query of 100,000 rows
 * never sits in memory whole. False (err set) when it failed, possibly
 * after some rows were seen.
 */
bool pg_query_rows(PGconn *conn, const char *sql, int nparams, const char *const *params,
				   void (*row)(const PGresult *res, void *arg), void *arg,
				   struct pgs_error *err);

/* Fills err from a failed result: message, detail, hint, SQLSTATE. */
bool pg_fail_result(struct pgs_error *err, const PGresult *res, const char *what);

/* Quoted identifier (PQescapeIdentifier) as a malloc'd string. */
char *pg_quote_ident(PGconn *conn, const char *ident);
/* "schema"."name" as a malloc'd string. */
char *pg_quote_qualified(PGconn *conn, const char *schema, const char *name);

#endif
