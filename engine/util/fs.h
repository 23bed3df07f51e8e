/* Small file-system helpers. */
#ifndef PGSHIFT_UTIL_FS_H
#define PGSHIFT_UTIL_FS_H

/* Removes a directory tree; missing paths are fine. Returns 0 or -1 (errno). */
int remove_tree(const char *path);
/* mkdir -p with mode 0700; existing directories are fine. Returns 0 or -1 (errno). */
int make_dirs(const char *path);

#endif
