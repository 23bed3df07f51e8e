/*
 * Spool garbage collection: once the applier has committed an applied LSN
 * on the target, the segments holding only records below it are not needed
 * by any restart and are deleted, so the spool does not grow without bound.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/spool_int.h"

bool
spool_remove_below(const char *dir, uint64_t applied_lsn, int *removed,
				   struct pgs_error *err)
{
	uint64_t *lsns;
	size_t n;
	int count = 0;
	bool okay = true;

	if (removed != NULL)
		*removed = 0;
	if (!spool_list_segments(dir, &lsns, &n, err))
		return false;
	/* segment i holds records < lsns[i + 1] (spool.h); the newest is never
	 * deleted: the writer may be appending to it */
	for (size_t i = 0; okay && i + 1 < n && lsns[i + 1] <= applied_lsn; i++) {
		char *path = spool_segment_path(dir, lsns[i]);

		if (unlink(path) == 0)
			count++;
		else if (errno != ENOENT)
			okay = pgs_fail(err, "could not remove spool file \"%s\": %m", path);
		free(path);
	}
	free(lsns);
	/* a deletion lost in a crash would only be redone by the next call, but
	 * the space is counted on once this returns */
	if (count > 0 && okay)
		okay = spool_fsync_dir(dir, err);
	if (removed != NULL)
		*removed = count;
	return okay;
}
