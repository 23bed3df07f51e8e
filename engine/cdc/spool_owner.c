/* The owner marker of a spool directory; see spool_owner.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/spool_owner.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/xalloc.h"

#define OWNER_FILE "OWNER"

char *
spool_owner(const char *dir)
{
	char *path = xasprintf("%s/" OWNER_FILE, dir);
	FILE *f = fopen(path, "r");
	char line[512];
	char *plan = NULL;

	free(path);
	if (!f)
		return NULL;
	while (!plan && fgets(line, sizeof(line), f))
		if (strncmp(line, "plan ", 5) == 0)
			plan = xstrndup(line + 5, strcspn(line + 5, "\n"));
	fclose(f);
	return plan;
}

static bool
write_marker(const char *dir, const char *plan, const char *slot, struct pgs_error *err)
{
	char *path = xasprintf("%s/" OWNER_FILE, dir);
	char *tmp = xasprintf("%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	bool ok = f && fprintf(f, "plan %s\nslot %s\n", plan, slot) > 0;

	ok = (f && fflush(f) == 0 && fsync(fileno(f)) == 0 && ok);
	if (f && fclose(f) != 0)
		ok = false;
	if (ok && rename(tmp, path) != 0)
		ok = false;
	if (!ok)
		pgs_fail(err, "could not write the owner marker \"%s\" of the spool: %m", path);
	free(tmp);
	free(path);
	return ok;
}

bool
spool_claim(const char *dir, const char *plan, const char *slot, struct pgs_error *err)
{
	char *owner;
	bool ok;

	if (make_dirs(dir) != 0)
		return pgs_fail(err, "could not create spool directory \"%s\": %m", dir);
	owner = spool_owner(dir);
	if (!owner)
		return write_marker(dir, plan, slot, err);
	ok = strcmp(owner, plan) == 0;
	if (!ok) {
		pgs_fail(err, "spool directory \"%s\" holds the changes of plan \"%s\", not of plan "
				 "\"%s\"", dir, owner, plan);
		pgs_error_hint(err, "give each plan its own cdc.spool_dir (the default, .pgshift/<plan "
					   "name>/spool, is one per plan); nothing of plan \"%s\"'s spool was read "
					   "or changed", owner);
	}
	free(owner);
	return ok;
}

/* The parent of dir when it is .../.pgshift/<plan>: the default layout's own directory. */
static char *
default_parent(const char *dir, const char *plan)
{
	char *tail = xasprintf("/.pgshift/%s/", plan);
	const char *slash = strrchr(dir, '/');
	char *parent = slash ? xstrndup(dir, (size_t) (slash - dir) + 1) : NULL;
	size_t lp = parent ? strlen(parent) : 0, lt = strlen(tail);
	bool ours = parent && lp >= lt && strcmp(parent + lp - lt, tail) == 0;

	free(tail);
	if (!ours) {
		free(parent);
		return NULL;
	}
	return parent;
}

bool
spool_remove_own(const char *dir, const char *plan, struct pgs_error *err)
{
	char *owner = spool_owner(dir);
	char *parent;

	if (owner && strcmp(owner, plan) != 0) {
		log_warning("spool directory \"%s\" holds the changes of plan \"%s\": plan \"%s\" "
					"leaves it as it is", dir, owner, plan);
		free(owner);
		return true;
	}
	free(owner);
	if (remove_tree(dir) != 0)
		return pgs_fail(err, "could not remove the spool directory \"%s\": %m", dir);
	parent = default_parent(dir, plan);
	/* another spool of the plan (its rollback's) may still be in it */
	if (parent && rmdir(parent) != 0 && errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT)
		log_warning("could not remove directory \"%s\": %m", parent);
	free(parent);
	return true;
}
