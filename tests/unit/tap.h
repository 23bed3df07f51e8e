/*
 * A minimal TAP producer for the C unit tests, read by prove. Each test
 * binary calls the checks and ends with done_testing(), whose return value is
 * the exit code.
 */
#ifndef PGSHIFT_TESTS_TAP_H
#define PGSHIFT_TESTS_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

static inline int
tap_ok(int cond, const char *name, const char *file, int line)
{
	tap_count++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_count, name);
	if (!cond) {
		tap_failed++;
		printf("#   Failed test '%s'\n#   at %s line %d.\n", name, file, line);
	}
	return cond;
}

static inline int
tap_is_str(const char *got, const char *want, const char *name, const char *file, int line)
{
	int same = (got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0);

	tap_ok(same, name, file, line);
	if (!same)
		printf("#          got: '%s'\n#     expected: '%s'\n", got ? got : "(null)",
			   want ? want : "(null)");
	return same;
}

static inline int
tap_is_int(long long got, long long want, const char *name, const char *file, int line)
{
	tap_ok(got == want, name, file, line);
	if (got != want)
		printf("#          got: %lld\n#     expected: %lld\n", got, want);
	return got == want;
}

#define ok(cond, name) tap_ok(!!(cond), (name), __FILE__, __LINE__)
#define is_str(got, want, name) tap_is_str((got), (want), (name), __FILE__, __LINE__)
#define is_int(got, want, name) tap_is_int((long long) (got), (long long) (want), (name), __FILE__, __LINE__)

static inline int
done_testing(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
