/* File-system helpers; see fs.h. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/fs.h"

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	return remove(path);
}

int
remove_tree(const char *path)
{
	int rc = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);

	return rc != 0 && errno == ENOENT ? 0 : rc;
}

int
make_dirs(const char *path)
{
	size_t len = strlen(path);
	char *p = malloc(len + 1);
	int rc = 0;

	if (!p)
		return -1;
	memcpy(p, path, len + 1);
	for (char *c = p + 1; rc == 0 && *c; c++)
		if (*c == '/') {
			*c = '\0';
			rc = mkdir(p, 0700) == 0 || errno == EEXIST ? 0 : -1;
			*c = '/';
		}
	if (rc == 0)
		rc = mkdir(p, 0700) == 0 || errno == EEXIST ? 0 : -1;
	free(p);
	return rc;
}
