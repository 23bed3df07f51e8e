/*
 * pgshift.exec(cmd) -> exit code, output: /bin/sh -c cmd with stdin from
 * /dev/null and stdout+stderr captured (up to 1 MB), only when the plan
 * sets hooks.allow_shell. The command runs in its own process group, killed
 * when the hook's deadline passes, so a hanging curl cannot outlive
 * hooks.timeout. os.execute and io.popen stay off: this is the one way out.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lauxlib.h>

#include "hooks/hooks_int.h"
#include "util/buf.h"
#include "util/spawn.h"

#define MAX_OUTPUT (1024 * 1024)

/* Reads the child's output until EOF; false when the deadline passed first. */
static bool
read_output(struct hook_state *hs, int fd, struct buf *out)
{
	char chunk[8192];

	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		long left = hook_deadline_left_ms(hs);
		int r;
		ssize_t n;

		if (left == 0)
			return false;
		r = poll(&p, 1, left < 0 ? -1 : (int) (left > 60000 ? 60000 : left));
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			continue;       /* timed out slice: loop re-checks the deadline */
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return true;
		if (out->len < MAX_OUTPUT)
			buf_append(out, chunk, out->len + (size_t) n > MAX_OUTPUT ?
					   MAX_OUTPUT - out->len : (size_t) n);
	}
}

/* Waits for the child within the deadline; -1 when it passed (the child is then killed). */
static int
wait_child(struct hook_state *hs, pid_t pid, bool in_time)
{
	int status;

	while (in_time) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (r < 0 && errno != EINTR)
			return 127;
		in_time = hook_deadline_left_ms(hs) != 0;
		if (in_time)
			usleep(10000);
	}
	kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return -1;
}

int
hook_api_exec(lua_State *L)
{
	struct hook_state *hs = hook_state_of(L);
	const char *cmd = luaL_checkstring(L, 1);
	char *argv[] = {"sh", "-c", (char *) cmd, NULL};
	struct spawn_cmd sc = {"/bin/sh", argv, NULL, SPAWN_STDOUT_STDERR, true};
	struct pgs_error err;
	struct buf out;
	int fd, code;
	pid_t pid;
	bool in_time;

	if (!hs->cfg->allow_shell)
		return luaL_error(L, "pgshift.exec is not available: the plan does not set "
						  "hooks.allow_shell: true");
	hook_deadline_check(L, hs);
	if (!spawn_piped(&sc, &pid, &fd, &err))
		return luaL_error(L, "pgshift.exec: %s", err.message);
	buf_init(&out);
	in_time = read_output(hs, fd, &out);
	close(fd);
	code = wait_child(hs, pid, in_time);
	if (code < 0) {
		buf_free(&out);
		return hook_deadline_raise(L, hs);
	}
	lua_pushinteger(L, code);
	lua_pushlstring(L, out.data, out.len);
	buf_free(&out);
	return 2;
}
