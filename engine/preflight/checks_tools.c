/*
 * Checks of this machine: pg_dump and pg_restore, which produce and restore
 * the schema, must exist and be at least the source's major (an older
 * pg_dump refuses a newer server). They are found in PATH, then in Debian's
 * /usr/lib/postgresql/N/bin, and run with a fixed argv (no shell, nothing
 * from the plan) to read their version.
 */
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg/dump.h"
#include "preflight/preflight_int.h"
#include "util/spawn.h"
#include "util/xalloc.h"

/* Runs `path --version` and returns the major it prints, -1 when it cannot be run or read. */
static int
tool_major(const char *path)
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
		return -1;
	while (len < sizeof(out) - 1 && (got = read(fd, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t) got;
	close(fd);
	out[len] = '\0';
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return pf_parse_tool_major(out);
}

struct tool_pick {
	char *path;                 /* owned; NULL when nothing was found */
	int major;
};

/* Keeps the first candidate new enough; failing that, the newest one seen. */
static bool
consider(struct tool_pick *best, const char *path, int need)
{
	int major;

	char *real;

	if (access(path, X_OK) != 0)
		return false;
	/* the version of what pgtool_run will start; that also primes its lookup */
	real = pgtool_unwrap(path);
	major = tool_major(real);
	free(real);
	if (major < 0 || (best->path && major <= best->major))
		return false;
	free(best->path);
	best->path = xstrdup(path);
	best->major = major;
	return major >= need;
}

static bool
search_path_dirs(struct tool_pick *best, const char *name, int need)
{
	const char *path = getenv("PATH");
	bool done = false;

	while (path && *path && !done) {
		size_t len = strcspn(path, ":");
		char *cand = xasprintf("%.*s/%s", (int) len, len ? path : ".", name);

		done = consider(best, cand, need);
		free(cand);
		path += len + (path[len] == ':');
	}
	return done;
}

static void
find_tool(struct tool_pick *best, const char *name, int need)
{
	char *pattern;
	glob_t g;

	if (search_path_dirs(best, name, need))
		return;
	pattern = xasprintf("/usr/lib/postgresql/*/bin/%s", name);
	if (glob(pattern, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			if (consider(best, g.gl_pathv[i], need))
				break;
		globfree(&g);
	}
	free(pattern);
}

static void
check_tool(struct pf_ctx *c, const char *name)
{
	int sv = PQserverVersion(c->src), need = pf_major_of(sv);
	struct tool_pick best = {NULL, -1};
	char smaj[16], tmaj[16], hint[160];

	pf_major_name(sv, smaj, sizeof(smaj));
	snprintf(hint, sizeof(hint), "install postgresql-client-%s or newer (%s %s+) on this machine",
			 smaj, name, smaj);
	find_tool(&best, name, need);
	if (!best.path) {
		pf_add(c, name, CHECK_FAIL, "not found in PATH or /usr/lib/postgresql/*/bin", hint);
		return;
	}
	pf_major_name(best.major * 100, tmaj, sizeof(tmaj));    /* back to a version_num */
	pf_add_owned(c, name, best.major >= need ? CHECK_PASS : CHECK_FAIL,
				 xasprintf("%s %s", best.path, tmaj), hint);
	free(best.path);
}

void
pf_checks_tools(struct pf_ctx *c)
{
	check_tool(c, "pg_dump");
	check_tool(c, "pg_restore");
}
