/*
 * Opening and configuring libpq connections; see conn.h. Session settings are
 * sent as SET commands after connecting (not via the "options" keyword) so a
 * user's own options in the conninfo stay untouched.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "pg/retry.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/redact.h"
#include "util/xalloc.h"

/* Why each one: 0 timeouts so server defaults cannot kill a long COPY or index build;
 * the rest fix the text form of values so nothing is lost or shifted. */
static const struct {
	const char *name, *value;
} session_settings[] = {
	{"statement_timeout", "0"},
	{"idle_in_transaction_session_timeout", "0"},
	{"lock_timeout", "0"},
	{"extra_float_digits", "3"},
	{"DateStyle", "ISO, YMD"},
	{"IntervalStyle", "postgres"},
	{"TimeZone", "UTC"},
	{"bytea_output", "hex"},
	{"client_encoding", "UTF8"},
	{"standard_conforming_strings", "on"},
	{"xmloption", "content"},
	{"lc_monetary", "C"},
};

/*
 * Backend pids of the source sessions this process opened, walsenders
 * included: fence_writes must never end them (pg_own_source_pids).
 */
static pthread_mutex_t own_pids_lock = PTHREAD_MUTEX_INITIALIZER;
static int *own_pids;
static size_t n_own_pids;

static void
remember_source_pid(PGconn *conn, const struct pg_session *s)
{
	if (strcmp(s->role, "source") != 0)
		return;
	pthread_mutex_lock(&own_pids_lock);
	own_pids = xrealloc(own_pids, (n_own_pids + 1) * sizeof(*own_pids));
	own_pids[n_own_pids++] = PQbackendPID(conn);
	pthread_mutex_unlock(&own_pids_lock);
}

char *
pg_own_source_pids(void)
{
	struct buf b;

	buf_init(&b);
	buf_putc(&b, '{');
	pthread_mutex_lock(&own_pids_lock);
	for (size_t i = 0; i < n_own_pids; i++)
		buf_printf(&b, "%s%d", i ? "," : "", own_pids[i]);
	pthread_mutex_unlock(&own_pids_lock);
	buf_putc(&b, '}');
	return buf_steal(&b);
}

const char *
pg_session_setting(const char *name)
{
	for (size_t i = 0; i < sizeof(session_settings) / sizeof(session_settings[0]); i++)
		if (strcmp(session_settings[i].name, name) == 0)
			return session_settings[i].value;
	return NULL;
}

static bool
configure_session(PGconn *conn, const struct pg_session *s, struct pgs_error *err)
{
	struct buf sql;
	bool ok;

	buf_init(&sql);
	for (size_t i = 0; i < sizeof(session_settings) / sizeof(session_settings[0]); i++)
		buf_printf(&sql, "SET %s = '%s'; ", session_settings[i].name, session_settings[i].value);
	/*
	 * search_path is pg_catalog, so nothing pgshift runs resolves to a user's
	 * object, except in the sessions that write the user's rows and build
	 * their indexes (copy, CDC apply, index and constraint steps): CHECK
	 * constraints, defaults and index expressions call user functions whose
	 * bodies may name other objects unqualified, and those must resolve as
	 * they will for the application on the target, by the database's (or
	 * role's) default search_path. pg_catalog still comes first there, and
	 * every name pgshift sends is qualified. (pg_restore runs with an empty
	 * search_path, where such a function fails.)
	 */
	if (!s->user_search_path)
		buf_puts(&sql, "SET search_path = pg_catalog; ");
	/*
	 * A catalog query over 100,000 tables crosses jit_above_cost, and its
	 * compilation then costs more than it saves (the privileges read: 3.4 s
	 * of server CPU with JIT, 1.5 s without; the tables' 2.2 s, 1.6 s).
	 * Nor parallel workers: the reads already run side by side in several
	 * sessions, and each worker built its own copy of a query's hash tables
	 * (a plan of 100,000 tables took 12.0 s with them, 9.7-10.5 s without).
	 */
	if (s->catalog_reads)
		buf_puts(&sql, "SET jit = off; SET max_parallel_workers_per_gather = 0; ");
	/* off explicitly: fence_writes makes the source database read-only by
	 * default, and pgshift's own writing sessions (cleanup) must still work */
	buf_printf(&sql, "SET default_transaction_read_only = %s; ", s->read_only ? "on" : "off");
	ok = pg_exec(conn, sql.data, 0, NULL, err);
	buf_free(&sql);
	return ok;
}

/* Whole seconds, as libpq takes them; set once from the plan, read by every thread. */
struct conn_timeouts {
	atomic_int connect_timeout_s, keepalives_idle_s;
};
static struct conn_timeouts source_timeouts = {30, 30}, target_timeouts = {30, 30};

static const struct conn_timeouts *
timeouts_of(const char *role)
{
	return role && strcmp(role, "source") == 0 ? &source_timeouts : &target_timeouts;
}

/* libpq's connect_timeout counts whole seconds and treats 1 as 2: round up, at least 2. */
static int
whole_seconds(int64_t ms, int min)
{
	int64_t s = (ms + 999) / 1000;

	return s < min ? min : s > 86400 ? 86400 : (int) s;
}

void
pg_conn_configure(const char *role, int64_t connect_timeout_ms, int64_t keepalives_idle_ms)
{
	struct conn_timeouts *t = strcmp(role, "source") == 0 ? &source_timeouts : &target_timeouts;

	atomic_store(&t->connect_timeout_s, whole_seconds(connect_timeout_ms, 2));
	atomic_store(&t->keepalives_idle_s, whole_seconds(keepalives_idle_ms, 1));
}

/*
 * A server's NOTICE (such as "... does not exist, skipping") goes to the
 * debug log instead of libpq's raw line on stderr; a WARNING stays a
 * warning, in pgshift's voice, naming the server.
 */
static void
on_notice(void *arg, const PGresult *res)
{
	const char *role = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (!msg)
		return;
	if (severity && strcmp(severity, "WARNING") == 0)
		log_warning("%s server: %s", role, msg);
	else
		log_debug("%s server: %s", role, msg);
}

/* Names the server and configures a new session; frees conn and returns NULL on failure. */
static PGconn *
finish_connect(PGconn *conn, const struct pg_session *s, struct pgs_error *err)
{
	/* a string that lives as long as the connection, whatever s->role points to */
	PQsetNoticeReceiver(conn, on_notice,
						(void *) (s->role && strcmp(s->role, "source") == 0 ? "source" : "target"));
	/*
	 * Replication sessions too: the walsender writes pgoutput's text values
	 * with this session's DateStyle, IntervalStyle, extra_float_digits and
	 * bytea_output, so they must be pgshift's, not the source's defaults.
	 */
	if (!configure_session(conn, s, err)) {
		pgs_error_prefix(err, "could not configure the %s session", s->role);
		pg_error_mark_lost(err, conn);
		PQfinish(conn);
		return NULL;
	}
	remember_source_pid(conn, s);
	return conn;
}

PGconn *
pg_connect(const char *conninfo, const struct pg_session *s, struct pgs_error *err)
{
	/*
	 * TCP keepalives and a connect timeout before dbname, so the plan's
	 * conninfo can change them: an idle session whose network path died is
	 * noticed within about a minute, and a connection attempt into a dead
	 * path ends, so CDC reconnects (retry.h) instead of waiting for ever.
	 */
	const struct conn_timeouts *t = timeouts_of(s->role);
	char idle[24], timeout[24];
	const char *keys[] = {"keepalives", "keepalives_idle", "keepalives_interval",
						  "keepalives_count", "connect_timeout", "dbname", "application_name",
						  "fallback_application_name", "replication", NULL};
	const char *vals[] = {"1", idle, "10", "3", timeout, conninfo,
						  s->app_name ? s->app_name : "pgshift", "pgshift",
						  s->replication ? "database" : NULL, NULL};
	PGconn *conn;

	snprintf(idle, sizeof(idle), "%d", atomic_load(&t->keepalives_idle_s));
	snprintf(timeout, sizeof(timeout), "%d", atomic_load(&t->connect_timeout_s));

	if (!s->replication)
		keys[8] = NULL;
	/* expand_dbname=1: conninfo may be a URI or key=value string */
	conn = PQconnectdbParams(keys, vals, 1);
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		char *shown = redact_conninfo(conninfo);
		const char *why = conn ? PQerrorMessage(conn) : "out of memory";
		size_t len = strlen(why);

		while (len > 0 && (why[len - 1] == '\n' || why[len - 1] == ' '))
			len--;
		pgs_fail(err, "could not connect to the %s (%s): %.*s", s->role, shown, (int) len, why);
		pgs_error_hint(err, "check %s.uri in the plan and that the server accepts connections",
					   s->role);
		/* libpq gives no SQLSTATE here: 08001, so a reconnect loop knows to keep trying */
		snprintf(err->sqlstate, sizeof(err->sqlstate), "08001");
		free(shown);
		PQfinish(conn);
		return NULL;
	}
	return finish_connect(conn, s, err);
}

PGconn *
pg_connect_like(PGconn *like, const struct pg_session *s, struct pgs_error *err)
{
	PQconninfoOption *opts = PQconninfo(like);
	size_t n = 0, k = 0;
	const char **keys, **vals;
	PGconn *conn;

	if (!opts) {
		pgs_fail(err, "could not read the %s session's connection options: out of memory",
				 s->role);
		return NULL;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		n++;
	keys = xcalloc(n + 1, sizeof(char *));
	vals = xcalloc(n + 1, sizeof(char *));
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (o->val && *o->val) {
			keys[k] = o->keyword;
			vals[k++] = o->val;
		}
	conn = PQconnectdbParams(keys, vals, 0);
	free(keys);
	free(vals);
	PQconninfoFree(opts);
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		const char *why = conn ? PQerrorMessage(conn) : "out of memory";

		/* no conninfo in the message: like's options hold the password */
		pgs_fail(err, "could not open another %s session: %.*s", s->role,
				 (int) strcspn(why, "\n"), why);
		snprintf(err->sqlstate, sizeof(err->sqlstate), "08001");
		PQfinish(conn);
		return NULL;
	}
	return finish_connect(conn, s, err);
}

bool
pg_fail_result(struct pgs_error *err, const PGresult *res, const char *what)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (!msg && res)
		msg = PQresultErrorMessage(res);
	pgs_fail(err, "%s: %s", what, msg && *msg ? msg : "no answer from server");
	if (detail)
		pgs_error_detail(err, "%s", detail);
	if (hint)
		pgs_error_hint(err, "%s", hint);
	if (state)
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state);
	/* data exceptions and RAISE quote the values they are about */
	if (state && msg && *msg && (strncmp(state, "22", 2) == 0 || strncmp(state, "P0", 2) == 0))
		err->values_from = strlen(what) + 2;
	return false;
}

static PGresult *
run(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	if (nparams == 0 && !params)
		return PQexec(conn, sql);
	return PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
}

static bool
query_failed(PGconn *conn, const char *sql, const PGresult *res, struct pgs_error *err)
{
	char what[128];

	snprintf(what, sizeof(what), "query failed (%.60s%s)", sql, strlen(sql) > 60 ? "..." : "");
	if (res)
		pg_fail_result(err, res, what);
	else
		pgs_fail(err, "%s: %s", what, PQerrorMessage(conn));
	pg_error_mark_lost(err, conn);
	return false;
}

bool
pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
		struct pgs_error *err)
{
	PGresult *res = run(conn, sql, nparams, params);
	ExecStatusType st = PQresultStatus(res);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		query_failed(conn, sql, res, err);
	PQclear(res);
	return ok;
}

PGresult *
pg_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
		 struct pgs_error *err)
{
	PGresult *res = run(conn, sql, nparams, params);

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		query_failed(conn, sql, res, err);
		PQclear(res);
		return NULL;
	}
	return res;
}

bool
pg_query_rows(PGconn *conn, const char *sql, int nparams, const char *const *params,
			  void (*row)(const PGresult *res, void *arg), void *arg, struct pgs_error *err)
{
	PGresult *res;
	bool ok = true;

	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0) ||
		!PQsetSingleRowMode(conn)) {
		query_failed(conn, sql, NULL, err);
		while ((res = PQgetResult(conn)))
			PQclear(res);
		return false;
	}
	/* every result is read, so the session is free again whatever happened */
	while ((res = PQgetResult(conn))) {
		ExecStatusType st = PQresultStatus(res);

		if (ok && st == PGRES_SINGLE_TUPLE)
			row(res, arg);
		else if (ok && st != PGRES_TUPLES_OK)
			ok = query_failed(conn, sql, res, err);
		PQclear(res);
	}
	return ok;
}

char *
pg_quote_ident(PGconn *conn, const char *ident)
{
	char *q = PQescapeIdentifier(conn, ident, strlen(ident));
	char *copy;
	struct buf b;

	if (!q) {
		/* only invalid encoding gets here; quote by the SQL rule: double every quote */
		buf_init(&b);
		buf_putc(&b, '"');
		for (const char *p = ident; *p; p++) {
			if (*p == '"')
				buf_putc(&b, '"');
			buf_putc(&b, *p);
		}
		buf_putc(&b, '"');
		return buf_steal(&b);
	}
	copy = xstrdup(q);
	PQfreemem(q);
	return copy;
}

char *
pg_quote_qualified(PGconn *conn, const char *schema, const char *name)
{
	char *s = pg_quote_ident(conn, schema);
	char *n = pg_quote_ident(conn, name);
	char *out = xasprintf("%s.%s", s, n);

	free(s);
	free(n);
	return out;
}
