/*
 * Helpers shared by the plan-file unit tests: a private temporary directory
 * for plan and hook files, and writing a file in it. Each test binary
 * includes this once; everything is static.
 */
#ifndef PGSHIFT_TESTS_PLAN_TEST_UTIL_H
#define PGSHIFT_TESTS_PLAN_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char test_dir[256];

/* Creates the directory the test's files live in; exits when it cannot. */
static void
test_dir_create(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(test_dir, sizeof(test_dir), "%s/pgshift-unit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(test_dir)) {
		perror("mkdtemp");
		exit(2);
	}
}

/* Path of name inside the test directory, in a caller's buffer. */
static const char *
test_path(char *out, size_t outlen, const char *name)
{
	snprintf(out, outlen, "%s/%s", test_dir, name);
	return out;
}

/* Writes text to name in the test directory (creating subdirectories is up to the caller). */
static void
write_test_file(const char *name, const char *text)
{
	char path[512];
	FILE *f = fopen(test_path(path, sizeof(path), name), "w");

	if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

static void
remove_test_file(const char *name)
{
	char path[512];

	unlink(test_path(path, sizeof(path), name));
}

static void
test_dir_remove(void)
{
	rmdir(test_dir);
}

#endif
