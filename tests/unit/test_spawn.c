/*
 * The one way pgshift starts programs (pg_dump/pg_restore, tool probes,
 * pgshift.exec): the child gets exactly stdin, stdout and stderr and no
 * other descriptor of ours (an inherited pipe end keeps a reader waiting for
 * EOF), the environment addition replaces a variable of the same name, and
 * a program that cannot be started is an error that names it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/spawn.h"
#include "tap.h"

/* Runs argv capturing `capture`; returns its output (static) and exit code. */
static const char *
run(char *const argv[], const char *env_add, enum spawn_capture capture, int *code)
{
	static char out[4096];
	struct spawn_cmd sc = {argv[0], argv, env_add, capture, false};
	struct pgs_error err;
	size_t len = 0;
	ssize_t got;
	int fd, status;
	pid_t pid;

	*code = -1;
	if (!spawn_piped(&sc, &pid, &fd, &err)) {
		snprintf(out, sizeof(out), "error: %s", err.message);
		return out;
	}
	while (len < sizeof(out) - 1 && (got = read(fd, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t) got;
	out[len] = '\0';
	close(fd);
	waitpid(pid, &status, 0);
	*code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return out;
}

int
main(void)
{
	char *fds[] = {"ls", "/proc/self/fd", NULL};
	char *env[] = {"sh", "-c", "printf %s \"$PGPASSWORD\"", NULL};
	char *both[] = {"sh", "-c", "echo out; echo err >&2", NULL};
	char *missing[] = {"/nonexistent/pg_dump", NULL};
	char *stdin_null[] = {"sh", "-c", "cat; echo end", NULL};
	struct spawn_cmd sc = {"true", (char *[]) {"true", NULL}, NULL, SPAWN_STDOUT, false};
	struct pgs_error err;
	int held, code;
	pid_t pid;

	/* low descriptors taken (close-on-exec), so the pipe's number cannot be ls's own directory's */
	for (int i = 0; i < 8; i++)
		open("/dev/null", O_RDONLY | O_CLOEXEC);
	ok(spawn_piped(&sc, &pid, &held, &err), "a first child's pipe stays open in the parent");
	ok(fcntl(held, F_GETFD) & FD_CLOEXEC, "its read end is close-on-exec");
	{
		char line[16];
		const char *list = run(fds, NULL, SPAWN_STDOUT, &code);

		snprintf(line, sizeof(line), "\n%d\n", held);
		ok(strncmp(list, "0\n1\n", 4) == 0 && strstr(list, "\n2\n"), "the child has stdin, stdout, stderr");
		ok(!strstr(list, line), "and not the pipe an earlier spawn left open in the parent");
	}
	close(held);
	waitpid(pid, NULL, 0);
	setenv("PGPASSWORD", "old", 1);
	is_str(run(env, "PGPASSWORD=s3cr;t", SPAWN_STDOUT, &code), "s3cr;t", "env_add replaces a variable");
	is_str(getenv("PGPASSWORD"), "old", "the parent's environment is untouched");
	is_str(run(both, NULL, SPAWN_STDOUT, &code), "out\n", "SPAWN_STDOUT: stderr goes to /dev/null");
	is_str(run(both, NULL, SPAWN_STDERR, &code), "err\n", "SPAWN_STDERR: stdout goes to /dev/null");
	is_str(run(both, NULL, SPAWN_STDOUT_STDERR, &code), "out\nerr\n", "both into one pipe");
	is_str(run(stdin_null, NULL, SPAWN_STDOUT, &code), "end\n", "stdin is /dev/null");
	is_int(code, 0, "the exit code comes back");
	{
		/* glibc reports the failed exec; under valgrind (no CLONE_VFORK) the child exits 127 */
		const char *got = run(missing, NULL, SPAWN_STDERR, &code);

		ok(strcmp(got, "error: could not execute \"/nonexistent/pg_dump\": No such file or directory") == 0 ||
		   (got[0] == '\0' && code == 127), "a program that cannot start is an error naming it, or exit 127");
	}
	return done_testing();
}
