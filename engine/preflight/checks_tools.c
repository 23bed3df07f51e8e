/*
 * Checks of this machine: pg_dump and pg_restore, which produce and restore
 * the schema, must exist and be at least the source's major (an older
 * pg_dump refuses a newer server). They are found in PATH, then in Debian's
 * /usr/lib/postgresql/N/bin, and run with a fixed argv (no shell, nothing
 * from the plan) to read their version.
 */
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg/dump.h"
#include "preflight/preflight_int.h"
#include "util/xalloc.h"

/* The major `path --version` prints, -1 when it cannot be run or read. */
static int
tool_major(const char *path)
{
	char *out = pgtool_version(path);
	int major = out ? pf_parse_tool_major(out) : -1;

	free(out);
	return major;
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

/*
 * One tool's search runs in a thread of its own from the start of
 * preflight: each candidate is a program started to print its version
 * (through Debian's Perl wrapper, tens of milliseconds), while the
 * server checks wait on the network.
 */
struct pf_tool_probe {
	const char *name;
	int need;
	struct tool_pick best;
	pthread_t thread;
	bool threaded;
};

static void *
probe_main(void *arg)
{
	struct pf_tool_probe *p = arg;

	find_tool(&p->best, p->name, p->need);
	return NULL;
}

void
pf_tools_start(struct pf_ctx *c)
{
	static const char *const names[PF_NTOOLS] = {"pg_dump", "pg_restore"};

	for (int i = 0; i < PF_NTOOLS; i++) {
		struct pf_tool_probe *p = xcalloc(1, sizeof(*p));

		p->name = names[i];
		p->need = pf_major_of(PQserverVersion(c->src));
		p->best.major = -1;
		/* without a thread the search runs when its result is read */
		p->threaded = pthread_create(&p->thread, NULL, probe_main, p) == 0;
		c->tools[i] = p;
	}
}

static void
check_tool(struct pf_ctx *c, struct pf_tool_probe *p)
{
	int sv = PQserverVersion(c->src);
	char smaj[16], tmaj[16], hint[160];

	if (p->threaded)
		pthread_join(p->thread, NULL);
	else
		find_tool(&p->best, p->name, p->need);
	pf_major_name(sv, smaj, sizeof(smaj));
	snprintf(hint, sizeof(hint), "install postgresql-client-%s or newer (%s %s+) on this machine",
			 smaj, p->name, smaj);
	if (!p->best.path) {
		pf_add(c, p->name, CHECK_FAIL, "not found in PATH or /usr/lib/postgresql/*/bin", hint);
		return;
	}
	pf_major_name(p->best.major * 100, tmaj, sizeof(tmaj));    /* back to a version_num */
	if (p->best.major >= p->need)
		pgtool_choose(p->name, p->best.path);
	pf_add_owned(c, p->name, p->best.major >= p->need ? CHECK_PASS : CHECK_FAIL,
				 xasprintf("%s %s", p->best.path, tmaj), hint);
	free(p->best.path);
}

void
pf_checks_tools(struct pf_ctx *c)
{
	for (int i = 0; i < PF_NTOOLS; i++) {
		check_tool(c, c->tools[i]);
		free(c->tools[i]);
		c->tools[i] = NULL;
	}
}
