/* File-system helpers; see fs.h. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>

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
