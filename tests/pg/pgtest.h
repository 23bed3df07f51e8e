/*
 * Helpers shared by the C tests that run against real servers: loading a
 * plan from YAML text and opening a session. Everything is static; each test
 * binary includes this once.
 */
#ifndef PGSHIFT_TESTS_PGTEST_H
#define PGSHIFT_TESTS_PGTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pg/conn.h"
#include "plan/plan.h"
#include "util/xalloc.h"

/* Loads a plan from YAML text (through a temp file); NULL after printing why. */
static struct plan *
pgtest_load_plan(const char *yaml)
{
	char path[] = "/tmp/pgshift-pgtest-plan-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	struct diag_list diags;
	struct plan *plan;

	if (!f || fputs(yaml, f) == EOF || fclose(f) != 0) {
		printf("# could not write a plan file\n");
		return NULL;
	}
	diag_init(&diags, path);
	plan = plan_load(path, &diags);
	if (!plan)
		diag_print(&diags, stdout);
	diag_free(&diags);
	unlink(path);
	return plan;
}

/* A session with pgshift's settings; NULL after printing the error. */
static PGconn *
pgtest_connect(const char *uri, const char *role, bool read_only)
{
	struct pg_session s = {role, "pgshift test", read_only, false, false, false};
	struct pgs_error err;
	PGconn *conn;

	pgs_error_clear(&err);
	conn = pg_connect(uri, &s, &err);
	if (!conn)
		printf("# %s\n", err.message);
	return conn;
}

static inline void
pgtest_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Runs a statement; false after printing the server's error. */
static inline bool
pgtest_exec(PGconn *conn, const char *sql)
{
	struct pgs_error err;

	pgs_error_clear(&err);
	if (pg_exec(conn, sql, 0, NULL, &err))
		return true;
	printf("# %s: %s\n", sql, err.message);
	return false;
}

/* The one value of a query, malloc'd; "(error)" when it failed, "(null)" for NULL. */
static inline char *
pgtest_value(PGconn *conn, const char *sql)
{
	struct pgs_error err;
	PGresult *res;
	char *v;

	pgs_error_clear(&err);
	res = pg_query(conn, sql, 0, NULL, &err);
	if (!res) {
		printf("# %s\n", err.message);
		return xstrdup("(error)");
	}
	v = xstrdup(PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "(null)");
	PQclear(res);
	return v;
}

/*
 * The source's WAL position past every commit acknowledged so far. The test
 * clusters run synchronous_commit = off, where pg_current_wal_lsn() (the
 * write position) can lie before them; one synchronous commit first flushes
 * them. pg_current_wal_insert_lsn() is no answer: after a record that ends a
 * page it points past the next page header, where no applied LSN can land.
 */
static inline char *
pgtest_wal_end(PGconn *conn)
{
	pgtest_exec(conn, "BEGIN; SET LOCAL synchronous_commit = on; CREATE TEMP TABLE pgtest_flush ();"
				" DROP TABLE pgtest_flush; COMMIT");
	return pgtest_value(conn, "SELECT pg_current_wal_lsn()");
}

#endif
