/*
 * pgtool_unwrap (dump.h): Debian's /usr/bin/pg_dump and pg_restore are
 * links to pg_wrapper, a Perl script that picks a PostgreSQL version and
 * execs /usr/lib/postgresql/N/bin/TOOL. Starting Perl costs 50-120 ms a
 * run on a busy 2-core machine, and an apply runs the tools five times,
 * schema.pre's three before any copy starts. The wrapper is asked once
 * which version it runs; its program of that version is started directly
 * from then on, when it prints the very same --version line.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg/dump.h"
#include "util/spawn.h"
#include "util/xalloc.h"

#define CACHE_SLOTS 8

struct unwrapped {
	char *path, *real;          /* owned */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;  /* guards cache */
static struct unwrapped cache[CACHE_SLOTS];

char *
pgtool_version(const char *path)
{
	char *argv[] = {(char *) path, "--version", NULL};
	struct spawn_cmd sc = {path, argv, NULL, SPAWN_STDOUT, false};
	struct pgs_error err;
	char out[256];
	size_t len = 0;
	ssize_t got;
	int fd, status;
	pid_t pid;

	if (!spawn_piped(&sc, &pid, &fd, &err))
		return NULL;
	while (len < sizeof(out) - 1 && (got = read(fd, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t) got;
	close(fd);
	out[len] = '\0';
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return NULL;
	return xstrdup(out);
}

static bool
is_wrapper(const char *path)
{
	char real[PATH_MAX];
	const char *base;

	if (!realpath(path, real))
		return false;
	base = strrchr(real, '/');
	return base && strcmp(base + 1, "pg_wrapper") == 0;
}

/* /usr/lib/postgresql/N/bin/TOOL of the version the line names (9.6 before 10). */
static char *
versioned_path(const char *line, const char *tool)
{
	const char *p = strstr(line, "(PostgreSQL) ");
	char *end;
	long major, minor;

	if (!p)
		return NULL;
	major = strtol(p + 13, &end, 10);
	if (major <= 0)
		return NULL;
	if (major >= 10)
		return xasprintf("/usr/lib/postgresql/%ld/bin/%s", major, tool);
	minor = *end == '.' ? strtol(end + 1, NULL, 10) : 0;
	return xasprintf("/usr/lib/postgresql/%ld.%ld/bin/%s", major, minor, tool);
}

/* The program behind the wrapper at path, or NULL when it cannot be told. */
static char *
find_real(const char *path)
{
	const char *tool = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char *wrapped = pgtool_version(path);
	char *real = wrapped ? versioned_path(wrapped, tool) : NULL;
	char *direct = real && access(real, X_OK) == 0 ? pgtool_version(real) : NULL;

	if (!direct || strcmp(direct, wrapped) != 0) {
		free(real);
		real = NULL;
	}
	free(direct);
	free(wrapped);
	return real;
}

char *
pgtool_unwrap(const char *path)
{
	char *real = NULL;
	size_t i;

	if (!is_wrapper(path))
		return xstrdup(path);
	pthread_mutex_lock(&cache_lock);
	for (i = 0; i < CACHE_SLOTS && cache[i].path; i++)
		if (strcmp(cache[i].path, path) == 0)
			break;
	if (i < CACHE_SLOTS && cache[i].path)
		real = xstrdup(cache[i].real);
	pthread_mutex_unlock(&cache_lock);
	if (real)
		return real;
	real = find_real(path);
	if (!real)
		real = xstrdup(path);
	pthread_mutex_lock(&cache_lock);
	for (i = 0; i < CACHE_SLOTS && cache[i].path; i++)
		;
	if (i < CACHE_SLOTS) {
		cache[i].path = xstrdup(path);
		cache[i].real = xstrdup(real);
	}
	pthread_mutex_unlock(&cache_lock);
	return real;
}
