/*
 * The spool's reader: hands out records in order from the first one at or
 * after a start LSN, and follows the writer as it appends and rolls over.
 * It may run in its own thread while the writer appends: the segment cursor
 * never returns a record whose length and CRC are not both complete, and
 * with spool_reader_follow() it does not even look past what the writer has
 * fdatasynced. A segment is left for the next one only once the next one
 * exists, because the writer finishes and syncs a segment before creating
 * the next (spool.h); what is still unreadable in it then is damage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cdc/spool_int.h"
#include "util/xalloc.h"

struct spool_reader {
	char *dir;                  /* owned */
	uint64_t start_lsn;
	struct spool_seg seg;       /* seg.fd -1 between segments */
	bool started;               /* a segment was opened: seg_lsn is meaningful */
	uint64_t seg_lsn;           /* the open segment, or the last one left */
	struct spool_writer *writer;    /* not owned; NULL: read what the files hold */
};

bool
spool_open_reader(const char *dir, uint64_t start_lsn, struct spool_reader **rp,
				  struct pgs_error *err)
{
	struct spool_reader *r;
	struct stat st;

	*rp = NULL;
	if (stat(dir, &st) != 0)
		return pgs_fail(err, "could not open spool directory \"%s\": %m", dir);
	if (!S_ISDIR(st.st_mode))
		return pgs_fail(err, "spool directory \"%s\" is not a directory", dir);
	r = xcalloc(1, sizeof(*r));
	r->dir = xstrdup(dir);
	r->start_lsn = start_lsn;
	r->seg.fd = -1;
	*rp = r;
	return true;
}

void
spool_reader_follow(struct spool_reader *r, struct spool_writer *w)
{
	r->writer = w;
}

/* How far into the open segment the reader may look. */
static uint64_t
read_limit(struct spool_reader *r)
{
	uint64_t seg, off;

	if (r->writer == NULL)
		return UINT64_MAX;
	spool_writer_durable_pos(r->writer, &seg, &off);
	if (off == 0 || r->seg.first_lsn > seg)
		return 0;
	return r->seg.first_lsn == seg ? off : UINT64_MAX;
}

/*
 * The segment to read next: at first the last one named <= start_lsn (every
 * record before it is < start_lsn) or else the oldest; later the oldest one
 * named above the segment just left. *found false: none yet.
 */
static bool
next_segment(struct spool_reader *r, bool *found, uint64_t *lsn, struct pgs_error *err)
{
	uint64_t *lsns;
	size_t n, i;

	if (!spool_list_segments(r->dir, &lsns, &n, err))
		return false;
	*found = false;
	for (i = 0; i < n; i++) {
		if (!r->started && (lsns[i] <= r->start_lsn || !*found)) {
			*found = true;
			*lsn = lsns[i];
		} else if (r->started && lsns[i] > r->seg_lsn) {
			*found = true;
			*lsn = lsns[i];
			break;
		}
	}
	free(lsns);
	return true;
}

static bool
open_next(struct spool_reader *r, bool *found, struct pgs_error *err)
{
	uint64_t lsn;

	if (!next_segment(r, found, &lsn, err))
		return false;
	if (!*found)
		return true;
	if (!spool_seg_open(&r->seg, r->dir, lsn, O_RDONLY, err))
		return false;
	r->started = true;
	r->seg_lsn = lsn;
	return true;
}

/*
 * At the end of what the open segment holds: 0 if it may still grow, 2 if
 * it is complete and closed (go on with the next), 1 with a record written
 * meanwhile, -1 on error.
 */
static int
segment_end(struct spool_reader *r, struct spool_record *rec, struct pgs_error *err)
{
	bool newer;
	uint64_t lsn;
	int st;

	if (!next_segment(r, &newer, &lsn, err))
		return -1;
	if (!newer)
		return 0;
	/* the next one exists, so this one is final: read it once more, with a
	 * fresh limit, for what was appended between our read and the listing */
	st = spool_seg_next(&r->seg, read_limit(r), rec, err);
	if (st != 0)
		return st;
	if (r->seg.torn) {
		pgs_fail(err, "spool file \"%s\" has an incomplete record at offset %" PRIu64
				 " before a newer segment", r->seg.path, r->seg.pos);
		pgs_error_detail(err, "Only the newest segment can end torn; this one was damaged.");
		return -1;
	}
	spool_seg_close(&r->seg);
	return 2;
}

int
spool_next(struct spool_reader *r, struct spool_record *rec, struct pgs_error *err)
{
	for (;;) {
		int st;

		if (r->seg.fd < 0) {
			bool found;

			if (!open_next(r, &found, err))
				return -1;
			if (!found)
				return 0;
		}
		st = spool_seg_next(&r->seg, read_limit(r), rec, err);
		if (st == 0)
			st = segment_end(r, rec, err);
		if (st == 1 && rec->lsn < r->start_lsn)
			continue;
		if (st != 2)
			return st;
	}
}

void
spool_close_reader(struct spool_reader *r)
{
	if (r == NULL)
		return;
	spool_seg_close(&r->seg);
	free(r->dir);
	free(r);
}
