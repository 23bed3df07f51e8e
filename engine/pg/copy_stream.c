/*
 * The COPY pump of copy_stream.h. Rows are moved one PQgetCopyData chunk at a
 * time (a row in text format, a row or the header in binary): libpq batches
 * the writes itself, so an extra buffer here would only add a copy. Progress
 * is published every PROGRESS_EVERY bytes or PROGRESS_EVERY_ROWS rows rather than per row, so readers of
 * the atomic do not make every worker pay for a contended cache line.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg/conn.h"
#include "pg/copy_stream.h"

#define PROGRESS_EVERY (1 << 20)
#define PROGRESS_EVERY_ROWS 256

/* libpq's messages end with a newline; errors must not. */
static int
msg_len(const char *msg)
{
	size_t n = strlen(msg);

	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	return (int) n;
}

/* Collects what is left of a command's results so the session is usable again. */
static void
drain(PGconn *conn)
{
	PGresult *res;

	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
}

/*
 * Ends the target's COPY with an error message: the server then fails the
 * COPY, and its transaction can only roll back. Nothing of a partial copy
 * can be committed by mistake.
 */
static void
abort_target(PGconn *dst, const char *why)
{
	if (PQputCopyEnd(dst, why) == 1)
		drain(dst);
}

/* The source has sent its last row: its COPY must have ended cleanly. */
static bool
end_source(PGconn *src, struct pgs_error *err)
{
	PGresult *res = PQgetResult(src);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		pg_fail_result(err, res, "COPY on the source failed");
	PQclear(res);
	drain(src);
	return ok;
}

static bool
end_target(PGconn *dst, int64_t *rows, struct pgs_error *err)
{
	PGresult *res;
	bool ok;

	if (PQputCopyEnd(dst, NULL) != 1) {
		const char *why = PQerrorMessage(dst);

		return pgs_fail(err, "could not end COPY on the target: %.*s", msg_len(why), why);
	}
	res = PQgetResult(dst);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (ok)
		*rows = strtoll(PQcmdTuples(res), NULL, 10);
	else
		pg_fail_result(err, res, "COPY on the target failed");
	PQclear(res);
	drain(dst);
	return ok;
}

static bool
cancelled(const struct copy_pump *p)
{
	return p->cancel && atomic_load_explicit(p->cancel, memory_order_relaxed);
}

static void
report(const struct copy_pump *p, int64_t *unreported, int64_t *unreported_rows)
{
	if (p->bytes && *unreported > 0)
		atomic_fetch_add_explicit(p->bytes, *unreported, memory_order_relaxed);
	if (p->rows && *unreported_rows > 0)
		atomic_fetch_add_explicit(p->rows, *unreported_rows, memory_order_relaxed);
	*unreported = 0;
	*unreported_rows = 0;
}

/* The test's hold (copy_pump.hold_path): waits while its file exists. */
static void
test_hold(const struct copy_pump *p)
{
	while (p->hold_path && access(p->hold_path, F_OK) == 0 && !cancelled(p))
		usleep(10000);
}

/* Moves rows until the source's COPY ends (true) or something fails (false). */
static bool
move_rows(PGconn *src, PGconn *dst, const struct copy_pump *p, int64_t *bytes,
		  struct pgs_error *err)
{
	int64_t unreported = 0, unreported_rows = 0;
	char *row;
	int n = 0;

	test_hold(p);
	while (!cancelled(p) && (n = PQgetCopyData(src, &row, 0)) >= 0) {
		int rc = PQputCopyData(dst, row, n);

		PQfreemem(row);
		if (rc != 1) {
			const char *why = PQerrorMessage(dst);

			report(p, &unreported, &unreported_rows);
			return pgs_fail(err, "could not send data to the target: %.*s", msg_len(why), why);
		}
		*bytes += n;
		unreported += n;
		unreported_rows++;
		if (unreported >= PROGRESS_EVERY || unreported_rows >= PROGRESS_EVERY_ROWS)
			report(p, &unreported, &unreported_rows);
		if (p->chunk_delay_us > 0)
			usleep((useconds_t) p->chunk_delay_us);
	}
	report(p, &unreported, &unreported_rows);
	if (cancelled(p))
		return pgs_fail(err, "cancelled because another step failed");
	if (n == -2) {
		const char *why = PQerrorMessage(src);

		return pgs_fail(err, "could not read data from the source: %.*s", msg_len(why), why);
	}
	return true;
}

bool
pg_copy_pump(PGconn *src, PGconn *dst, const struct copy_pump *p, int64_t *rows,
			 int64_t *bytes, struct pgs_error *err)
{
	*rows = 0;
	*bytes = 0;
	if (!move_rows(src, dst, p, bytes, err)) {
		abort_target(dst, "pgshift: source COPY did not complete");
		return false;
	}
	if (!end_source(src, err)) {
		abort_target(dst, "pgshift: source COPY failed");
		return false;
	}
	return end_target(dst, rows, err);
}
