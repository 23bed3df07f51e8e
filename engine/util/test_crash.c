/* See test_crash.h: a test-only SIGKILL at a named point, off unless both variables say so. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/test_crash.h"

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
	const char *on = getenv("PGSHIFT_TEST_HOOKS");
	const char *want = getenv("PGSHIFT_TEST_CRASH_AT");

	if (!on || strcmp(on, "1") != 0 || !want || !asked(want, where, step_id))
		return;
	/* the test reads this line to know the point was reached, not some other death */
	fprintf(stderr, "pgshift: test crash point \"%s\" reached: SIGKILL\n", want);
	fflush(stderr);
	kill(getpid(), SIGKILL);
}
