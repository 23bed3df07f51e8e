/*
 * Riding out lost connections (pg/retry.h): which SQLSTATEs count as a
 * lost connection (and which real errors must fail at once), the backoff
 * window of each attempt, and that the bound ends the retries with a
 * message saying what was lost and how to resume.
 */
#include <stdio.h>
#include <string.h>

#include "pg/retry.h"
#include "tap.h"

static const struct {
	const char *sqlstate;
	bool lost;
	const char *why;
} states[] = {
	{"08006", true, "connection_failure"},
	{"08001", true, "could not establish the connection"},
	{"08003", true, "connection_does_not_exist"},
	{"08P01", true, "protocol_violation (class 08)"},
	{"57P01", true, "admin_shutdown: a terminated walsender, a fast shutdown"},
	{"57P02", true, "crash_shutdown"},
	{"57P03", true, "cannot_connect_now: the server is starting"},
	{"57014", false, "query_canceled is not a lost connection"},
	{"42501", false, "permission denied fails at once"},
	{"23505", false, "a constraint violation fails at once"},
	{"55006", false, "a busy slot is the receiver's own case, not a lost connection"},
	{"", false, "an error that did not come from a server"},
};

static void
test_classes(void)
{
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		struct pgs_error err;
		char name[160];

		pgs_error_clear(&err);
		snprintf(err.sqlstate, sizeof(err.sqlstate), "%s", states[i].sqlstate);
		snprintf(name, sizeof(name), "%s: %s", states[i].sqlstate, states[i].why);
		is_int(pg_error_is_connection(&err), states[i].lost, name);
	}
}

static void
test_mark_lost(void)
{
	struct pgs_error err;

	pgs_error_clear(&err);
	pg_error_mark_lost(&err, NULL);
	is_str(err.sqlstate, PG_SQLSTATE_CONNECTION_LOST, "no connection at all: marked lost");
	snprintf(err.sqlstate, sizeof(err.sqlstate), "23505");
	pg_error_mark_lost(&err, NULL);
	is_str(err.sqlstate, "23505", "a server's own SQLSTATE is kept");
}

static void
test_delays(void)
{
	static const long caps[] = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
	bool in_window = true, varies = false;

	for (int n = 1; n <= 9; n++) {
		long first = -1;

		for (int k = 0; k < 200; k++) {
			long d = pg_backoff_delay_ms(n);

			if (d < 0 || d > caps[n - 1])
				in_window = false;
			if (first >= 0 && d != first)
				varies = true;
			first = d;
		}
	}
	ok(in_window, "attempt n waits within [0, min(30 s, 0.5 s * 2^(n-1))]");
	ok(varies, "full jitter: the waits differ");
	is_int(pg_backoff_delay_ms(1000) <= 30000, 1, "attempt 1000 still waits at most 30 s");
}

static void
test_bound(void)
{
	struct pg_backoff b;
	struct pgs_error lost, err;
	atomic_bool stop = false;

	pgs_error_clear(&lost);
	pgs_fail(&lost, "server closed the connection unexpectedly");
	snprintf(lost.sqlstate, sizeof(lost.sqlstate), "08006");
	pg_backoff_init(&b, "the CDC applier", "plans/app.yaml", 300);
	ok(pg_backoff_wait(&b, &lost, &stop, &err), "within the bound: try again");
	is_int(b.attempt, 1, "attempt 1");
	while (pg_backoff_wait(&b, &lost, &stop, &err))
		;
	ok(b.attempt >= 1, "retries end once the bound has passed");
	ok(strstr(err.message, "the CDC applier could not reconnect for 300ms (cdc.reconnect_for)") != NULL,
	   "the message names who and the bound");
	ok(strstr(err.message, "server closed the connection unexpectedly") != NULL,
	   "and what was lost");
	is_str(err.hint, "once the server is reachable again, run pgshift apply plans/app.yaml again: "
		   "it resumes from the spool's durable LSN and the applied LSN on the target",
		   "the hint says how to resume");
	is_str(err.sqlstate, "08006", "the SQLSTATE stays the lost connection's");

	pg_backoff_init(&b, "the CDC receiver", NULL, 60000);
	atomic_store(&stop, true);
	ok(!pg_backoff_wait(&b, &lost, &stop, &err) && strstr(err.message, "was stopped") != NULL,
	   "a stop request ends the retries at once");
	pg_backoff_done(&b);
	is_int(b.since_us, 0, "done: the next loss starts a new bound");
}

int
main(void)
{
	test_classes();
	test_mark_lost();
	test_delays();
	test_bound();
	return done_testing();
}
