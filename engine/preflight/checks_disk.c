/*
 * target_disk: free space on the target against the size of the source
 * tables. PostgreSQL offers no portable SQL for free disk space, so this
 * is measured only when the target runs on this machine (loopback or a
 * socket) and its data_directory is visible to us; everywhere else the check
 * is a WARN asking the operator to look. FAIL below 1 x the tables' size
 * (the copy cannot fit), WARN below 1.5 x (indexes are rebuilt and WAL
 * grows during the copy, so that margin is what a safe run needs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "preflight/preflight_int.h"
#include "util/xalloc.h"

static bool
target_is_local(PGconn *dst)
{
	const char *host = PQhost(dst);

	return host && (host[0] == '/' || strcmp(host, "127.0.0.1") == 0 ||
					strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0);
}

/*
 * A tunnel can make a remote server answer on 127.0.0.1: the data directory
 * is trusted only if its postmaster.pid names the port we are connected to
 * (line 4 of the file).
 */
static bool
pid_file_matches(const char *datadir, const char *port)
{
	char *path = xasprintf("%s/postmaster.pid", datadir);
	FILE *f = fopen(path, "r");
	char line[1024];
	bool match = false;

	free(path);
	if (!f)
		return false;
	for (int i = 1; i <= 4 && fgets(line, sizeof(line), f); i++)
		if (i == 4)
			match = strncmp(line, port, strlen(port)) == 0 && line[strlen(port)] == '\n';
	fclose(f);
	return match;
}

static bool
target_free_bytes(PGconn *dst, int64_t *avail)
{
	char *datadir;
	struct statvfs sv;
	bool ok;

	if (!target_is_local(dst))
		return false;
	datadir = pf_setting(dst, "data_directory");   /* hidden from roles without pg_read_all_settings */
	ok = datadir && pid_file_matches(datadir, PQport(dst)) && statvfs(datadir, &sv) == 0;
	if (ok)
		*avail = (int64_t) sv.f_bavail * (int64_t) sv.f_frsize;
	free(datadir);
	return ok;
}

void
pf_check_disk(struct pf_ctx *c)
{
	int64_t size = c->cat->total_bytes, need = size + size / 2, avail;
	char sz[32], nd[32], av[32], hint[128];

	if (!c->dst) {
		pf_no_target(c, "target_disk");
		return;
	}
	pf_format_bytes(size, sz, sizeof(sz));
	pf_format_bytes(need, nd, sizeof(nd));
	snprintf(hint, sizeof(hint), "make sure the target has at least %s free (1.5 x %s of tables)",
			 nd, sz);
	if (!target_free_bytes(c->dst, &avail)) {
		pf_add(c, "target_disk", CHECK_WARN, "could not read free space on the target", hint);
		return;
	}
	pf_format_bytes(avail, av, sizeof(av));
	pf_add_owned(c, "target_disk",
				 avail < size ? CHECK_FAIL : avail < need ? CHECK_WARN : CHECK_PASS,
				 xasprintf("%s free, need %s (1.5 x %s)", av, nd, sz), hint);
}
