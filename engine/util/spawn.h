/*
 * Starting a child program from a threaded process: posix_spawn, so no code
 * of ours runs between fork and exec (a forked child of a threaded process
 * may only make async-signal-safe calls: no malloc, setenv or strerror that
 * could deadlock on a lock another thread held), with its environment built
 * before the spawn, and a pipe opened with O_CLOEXEC so that a concurrent
 * spawn in another thread never inherits its write end (its reader would
 * then wait for an EOF that never comes). The one way pgshift runs
 * pg_dump/pg_restore, tool probes and hook commands.
 */
#ifndef PGSHIFT_UTIL_SPAWN_H
#define PGSHIFT_UTIL_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

/* What the pipe returned by spawn_piped carries; the other stream goes to /dev/null. */
enum spawn_capture {
	SPAWN_STDOUT,
	SPAWN_STDERR,
	SPAWN_STDOUT_STDERR,        /* both into the one pipe */
};

struct spawn_cmd {
	const char *file;           /* searched in PATH when it has no '/' */
	char *const *argv;          /* argv[0] included, NULL-terminated */
	const char *env_add;        /* "NAME=value" added to the environment, or NULL */
	enum spawn_capture capture;
	bool own_group;             /* the child leads a new process group (to kill it whole) */
};

/*
 * Starts cmd with stdin from /dev/null; *pid is the child, *fd the read end
 * of its output pipe (the caller reads it to EOF, closes it and waits for
 * the child). false with err set ("could not execute ...: %m") when the
 * program could not be started; nothing is left open then.
 */
bool spawn_piped(const struct spawn_cmd *cmd, pid_t *pid, int *fd, struct pgs_error *err);

#endif
