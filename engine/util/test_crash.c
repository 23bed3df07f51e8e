/* See test_crash.h: a test-only SIGKILL at a named point, off unless both variables say so. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/test_crash.h"

static bool
hooks_on(void)
{
	const char *on = getenv("PGSHIFT_TEST_HOOKS");

	return on && strcmp(on, "1") == 0;
}

static bool
asked(const char *want, const char *where, const char *step_id)
{
	size_t n = strlen(where);

	if (strncmp(want, where, n) != 0)
		return false;
	if (want[n] == '\0')
		return true;
	return step_id && want[n] == ':' && strcmp(want + n + 1, step_id) == 0;
}

void
test_crash_point(const char *where, const char *step_id)
{
	const char *want = getenv("PGSHIFT_TEST_CRASH_AT");

	if (!hooks_on() || !want || !asked(want, where, step_id))
		return;
	/* the test reads this line to know the point was reached, not some other death */
	fprintf(stderr, "pgshift: test crash point \"%s\" reached: SIGKILL\n", want);
	fflush(stderr);
	kill(getpid(), SIGKILL);
}

long
test_copy_chunk_delay_us(void)
{
	const char *v = getenv("PGSHIFT_TEST_COPY_DELAY_US");
	char *end;
	long us;

	if (!hooks_on() || !v)
		return 0;
	us = strtol(v, &end, 10);
	return *end == '\0' && us > 0 && us <= 1000000 ? us : 0;
}

const char *
test_copy_hold_path(const char *step_id)
{
	const char *path = getenv("PGSHIFT_TEST_COPY_HOLD");
	const char *step = getenv("PGSHIFT_TEST_COPY_HOLD_STEP");

	if (!hooks_on() || !path || !*path || !step || !step_id || strcmp(step, step_id) != 0)
		return NULL;
	return path;
}
