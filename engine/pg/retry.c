/* See retry.h. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pg/retry.h"
#include "util/log.h"
#include "util/rng.h"
#include "util/units.h"

#define BACKOFF_BASE_MS 500L
#define BACKOFF_MAX_MS 30000L
#define BACKOFF_MIN_MS 50L          /* full jitter may draw 0: never spin on a dead server */
#define STOP_LOOK_MS 100L
#define FLAPPING_US INT64_C(30000000)

bool
pg_error_is_connection(const struct pgs_error *err)
{
	const char *s = err->sqlstate;

	return strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 || strcmp(s, "57P02") == 0 ||
		strcmp(s, "57P03") == 0;
}

void
pg_error_mark_lost(struct pgs_error *err, const PGconn *conn)
{
	if (err->sqlstate[0] == '\0' && (!conn || PQstatus(conn) == CONNECTION_BAD))
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", PG_SQLSTATE_CONNECTION_LOST);
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
pg_backoff_init(struct pg_backoff *b, const char *who, const char *plan_file, int64_t bound_ms)
{
	memset(b, 0, sizeof(*b));
	b->who = who;
	b->plan_file = plan_file;
	b->bound_ms = bound_ms;
}

void
pg_backoff_resume(struct pg_backoff *b, const char *resume)
{
	b->resume = resume;
}

long
pg_backoff_delay_ms(int attempt)
{
	long cap = BACKOFF_BASE_MS;

	for (int i = 1; i < attempt && cap < BACKOFF_MAX_MS; i++)
		cap *= 2;
	if (cap > BACKOFF_MAX_MS)
		cap = BACKOFF_MAX_MS;
	return rng_between(0, cap);
}

static bool
stopped(const atomic_bool *stop)
{
	return stop && atomic_load(stop);
}

static void
sleep_ms(long ms, const atomic_bool *stop)
{
	while (ms > 0 && !stopped(stop)) {
		long step = ms < STOP_LOOK_MS ? ms : STOP_LOOK_MS;
		struct timespec ts = {step / 1000, (step % 1000) * 1000000L};

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* lost may be err itself: it is copied before err is written. */
static bool
give_up(struct pg_backoff *b, const struct pgs_error *lost, struct pgs_error *err)
{
	struct pgs_error last = *lost;
	char bound[32];

	format_duration(b->bound_ms, bound, sizeof(bound));
	*err = last;
	pgs_fail(err, "%s could not reconnect for %s (cdc.reconnect_for), %d attempts: %s; "
			 "last attempt: %s", b->who, bound, b->attempt, b->lost, last.message);
	pgs_error_detail(err, "what was spooled and what was applied are kept: nothing is lost");
	if (b->resume)
		pgs_error_hint(err, "once the server is reachable again, run %s again: it resumes from "
					   "the spool's durable LSN and the applied LSN on the target", b->resume);
	else
		pgs_error_hint(err, "once the server is reachable again, run pgshift apply %s again: it "
					   "resumes from the spool's durable LSN and the applied LSN on the target",
					   b->plan_file ? b->plan_file : "PLAN");
	return false;
}

bool
pg_backoff_wait(struct pg_backoff *b, const struct pgs_error *lost, const atomic_bool *stop,
				struct pgs_error *err)
{
	int64_t now = now_us(), left_ms;
	long delay;

	if (b->since_us == 0) {
		b->since_us = now;
		if (b->back_us == 0 || now - b->back_us >= FLAPPING_US)
			b->attempt = 0;
		snprintf(b->lost, sizeof(b->lost), "%.*s", (int) sizeof(b->lost) - 1, lost->message);
	}
	left_ms = b->bound_ms - (now - b->since_us) / 1000;
	if (left_ms <= 0)
		return give_up(b, lost, err);
	if (stopped(stop)) {
		struct pgs_error last = *lost;

		*err = last;
		return pgs_fail(err, "%s was stopped while reconnecting after: %s", b->who, b->lost);
	}
	b->attempt++;
	delay = pg_backoff_delay_ms(b->attempt);
	if (delay < BACKOFF_MIN_MS)
		delay = BACKOFF_MIN_MS;
	if (delay > left_ms)
		delay = (long) left_ms;
	/* libpq's own messages go on over lines; one line per attempt is enough */
	log_warning("%s: %.*s; reconnect attempt %d in %.1f s (gives up in %.1f s)", b->who,
				(int) strcspn(lost->message, "\n"), lost->message, b->attempt,
				(double) delay / 1000.0, (double) left_ms / 1000.0);
	sleep_ms(delay, stop);
	return true;
}

void
pg_backoff_done(struct pg_backoff *b)
{
	if (b->since_us == 0)
		return;
	log_info("%s reconnected after %.1f s (%d attempt%s)", b->who,
			 (double) (now_us() - b->since_us) / 1e6, b->attempt, b->attempt == 1 ? "" : "s");
	b->since_us = 0;
	b->back_us = now_us();
}
