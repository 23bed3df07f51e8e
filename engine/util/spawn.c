/* See spawn.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/spawn.h"
#include "util/xalloc.h"

extern char **environ;

/* environ plus add (replacing a variable of the same name); the array is the caller's, the strings are not. */
static char **
env_with(const char *add)
{
	size_t n = 0, k = 0, name_len = add ? strcspn(add, "=") + 1 : 0;
	char **env;

	while (environ[n])
		n++;
	env = xcalloc(n + 2, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		if (!add || strncmp(environ[i], add, name_len) != 0)
			env[k++] = environ[i];
	if (add)
		env[k++] = (char *) add;
	env[k] = NULL;
	return env;
}

static int
file_actions(posix_spawn_file_actions_t *fa, enum spawn_capture capture, int wr)
{
	int out = capture == SPAWN_STDERR ? -1 : wr;
	int errfd = capture == SPAWN_STDOUT ? -1 : wr;
	int rc = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

	if (rc == 0)
		rc = out >= 0 ? posix_spawn_file_actions_adddup2(fa, out, STDOUT_FILENO)
			: posix_spawn_file_actions_addopen(fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	if (rc == 0)
		rc = errfd >= 0 ? posix_spawn_file_actions_adddup2(fa, errfd, STDERR_FILENO)
			: posix_spawn_file_actions_addopen(fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	return rc;
}

bool
spawn_piped(const struct spawn_cmd *cmd, pid_t *pid, int *fd, struct pgs_error *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	short flags = POSIX_SPAWN_SETSIGMASK;
	char **env;
	int fds[2], rc;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return pgs_fail(err, "could not create a pipe for \"%s\": %m", cmd->file);
	env = env_with(cmd->env_add);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	rc = file_actions(&fa, cmd->capture, fds[1]);
	/* apply's threads block SIGINT/SIGTERM for its signal watcher: the child must not inherit that */
	sigemptyset(&none);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&attr, &none);
	if (rc == 0 && cmd->own_group) {
		rc = posix_spawnattr_setpgroup(&attr, 0);
		flags |= POSIX_SPAWN_SETPGROUP;
	}
	if (rc == 0)
		rc = posix_spawnattr_setflags(&attr, flags);
	if (rc == 0)
		rc = posix_spawnp(pid, cmd->file, &fa, &attr, cmd->argv, env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		errno = rc;
		return pgs_fail(err, "could not execute \"%s\": %m", cmd->file);
	}
	*fd = fds[0];
	return true;
}
