/* Statements polled while they wait on the server; see await.h. */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "pg/await.h"

static void
discard_results(PGconn *conn)
{
	PGresult *res;

	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
}

/* The server ends the statement on a cancel request; its error result is dropped. */
static void
cancel(PGconn *conn)
{
	PGcancel *c = PQgetCancel(conn);
	char why[256];

	if (c) {
		PQcancel(c, why, sizeof(why));
		PQfreeCancel(c);
	}
	discard_results(conn);
}

static bool
conn_failed(PGconn *conn, const char *what, struct pgs_error *err)
{
	const char *why = PQerrorMessage(conn);
	size_t len = strlen(why);

	while (len > 0 && (why[len - 1] == '\n' || why[len - 1] == ' '))
		len--;
	return pgs_fail(err, "could not %s: %.*s", what, (int) len, len ? why : "connection lost");
}

/* Until the answer is complete; waiting is asked whenever poll_ms pass without data. */
static bool
wait_answer(PGconn *conn, int poll_ms, pg_await_fn waiting, void *arg, struct pgs_error *err)
{
	struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};

	for (;;) {
		int rc;

		if (!PQconsumeInput(conn))
			return conn_failed(conn, "read the server's answer", err);
		if (!PQisBusy(conn))
			return true;
		rc = poll(&pfd, 1, poll_ms);
		if (rc < 0 && errno != EINTR)
			return pgs_fail(err, "could not wait for the server's answer: %m");
		if (rc == 0 && !waiting(arg, err)) {
			cancel(conn);
			return false;
		}
	}
}

PGresult *
pg_await(PGconn *conn, const char *sql, int poll_ms, pg_await_fn waiting, void *arg,
		 struct pgs_error *err)
{
	PGresult *last = NULL, *res;

	if (!PQsendQuery(conn, sql)) {
		conn_failed(conn, "send a statement", err);
		return NULL;
	}
	if (!wait_answer(conn, poll_ms, waiting, arg, err))
		return NULL;
	while ((res = PQgetResult(conn)) != NULL) {
		PQclear(last);
		last = res;
	}
	if (!last)
		pgs_fail(err, "the server returned no result");
	return last;
}
