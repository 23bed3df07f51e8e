/*
 * A cursor over one spool segment, shared by the reader and by the writer's
 * tail check at open. It only ever hands out a record whose length fits in
 * the file and whose CRC matches, so a record the writer is still writing
 * (or that a crash tore) is "not there yet", never a partial record. Bytes
 * that do not form a record are told apart: at the end of the file, or
 * followed by zeros only (a filesystem may extend a file before its data
 * reaches the disk), they are a torn tail; with data after them, corruption.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdc/spool_int.h"
#include "util/xalloc.h"

#define READ_AHEAD (64 * 1024)

static void
cache_drop(struct spool_seg *s)
{
	s->cache_len = 0;
	s->cache_off = 0;
}

/*
 * Points *p at n bytes from offset off. Returns 1, 0 if the file ends first,
 * -1 on a read error.
 */
static int
fetch(struct spool_seg *s, uint64_t off, size_t n, const unsigned char **p,
	  struct pgs_error *err)
{
	size_t want = n > READ_AHEAD ? n : READ_AHEAD;
	size_t got = 0;

	if (off >= s->cache_off && off + n <= s->cache_off + s->cache_len) {
		*p = s->cache + (off - s->cache_off);
		return 1;
	}
	if (want > s->cache_cap) {
		s->cache = xrealloc(s->cache, want);
		s->cache_cap = want;
	}
	while (got < want) {
		ssize_t r = pread(s->fd, s->cache + got, want - got, (off_t) (off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cache_drop(s);
			pgs_fail(err, "could not read spool file \"%s\" at offset %" PRIu64 ": %m",
					 s->path, off + got);
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t) r;
	}
	s->cache_off = off;
	s->cache_len = got;
	if (got < n)
		return 0;
	*p = s->cache;
	return 1;
}

bool
spool_seg_open(struct spool_seg *s, const char *dir, uint64_t first_lsn, int flags,
			   struct pgs_error *err)
{
	const unsigned char *h;
	unsigned char want[SPOOL_HEADER_SIZE];
	int st;

	memset(s, 0, sizeof(*s));
	s->first_lsn = first_lsn;
	s->path = spool_segment_path(dir, first_lsn);
	s->fd = open(s->path, flags | O_CLOEXEC);
	if (s->fd < 0) {
		pgs_fail(err, "could not open spool file \"%s\": %m", s->path);
		spool_seg_close(s);
		return false;
	}
	spool_header_bytes(want);
	st = fetch(s, 0, SPOOL_HEADER_SIZE, &h, err);
	/* segments appear by rename, header included: a short one is damage */
	if (st == 0 || (st == 1 && memcmp(h, want, SPOOL_HEADER_SIZE) != 0))
		pgs_fail(err, "spool file \"%s\" has no valid header (expected %s version %d)",
				 s->path, SPOOL_MAGIC, SPOOL_VERSION);
	if (st != 1 || memcmp(h, want, SPOOL_HEADER_SIZE) != 0) {
		spool_seg_close(s);
		return false;
	}
	s->pos = SPOOL_HEADER_SIZE;
	return true;
}

/* Whether every byte of [from, to) is zero. */
static int
all_zero(struct spool_seg *s, uint64_t from, uint64_t to, struct pgs_error *err)
{
	while (from < to) {
		size_t n = to - from > READ_AHEAD ? READ_AHEAD : (size_t) (to - from);
		const unsigned char *p;
		int st = fetch(s, from, n, &p, err);

		if (st <= 0)
			return st;
		for (size_t i = 0; i < n; i++)
			if (p[i] != 0)
				return 0;
		from += n;
	}
	return 1;
}

static int
not_yet(struct spool_seg *s, uint64_t size)
{
	s->torn = s->pos < size;
	/* the bytes seen may be a write in progress: read them afresh next time */
	cache_drop(s);
	return 0;
}

static int
corrupt(struct spool_seg *s, uint64_t lsn, struct pgs_error *err)
{
	cache_drop(s);
	pgs_fail(err, "corrupt record in spool file \"%s\" at offset %" PRIu64 ": checksum mismatch",
			 s->path, s->pos);
	pgs_error_detail(err, "The record claims LSN %X/%X; valid data follows it, so this is "
					 "not a write torn by a crash.",
					 (unsigned) (lsn >> 32), (unsigned) lsn);
	pgs_error_hint(err, "The spool cannot be replayed past this record; restart the "
				   "migration's CDC phase from a new slot.");
	return -1;
}

/*
 * The next record within the first size bytes: 1 with it, 0 when it is not
 * there yet (size current: fresh), 2 when size may be out of date, -1 on
 * error or damage.
 */
static int
next_within(struct spool_seg *s, uint64_t limit, uint64_t size, bool fresh,
			struct spool_record *rec, struct pgs_error *err)
{
	const unsigned char *p;
	uint64_t end = size < limit ? size : limit;
	uint64_t extent, lsn;
	uint32_t len;
	int got;

	if (s->pos + SPOOL_REC_OVERHEAD > end)
		return fresh ? not_yet(s, size) : 2;
	if ((got = fetch(s, s->pos, SPOOL_REC_HEAD, &p, err)) <= 0)
		return got < 0 ? -1 : fresh ? not_yet(s, size) : 2;
	len = spool_get_u32(p + 9);
	extent = s->pos + SPOOL_REC_OVERHEAD + len;
	if (len > SPOOL_MAX_PAYLOAD || extent > end)
		return fresh ? not_yet(s, size) : 2;
	if ((got = fetch(s, s->pos, (size_t) (extent - s->pos), &p, err)) <= 0)
		return got < 0 ? -1 : fresh ? not_yet(s, size) : 2;
	rec->type = p[0];
	rec->lsn = lsn = spool_get_u64(p + 1);
	rec->len = len;
	rec->payload = p + SPOOL_REC_HEAD;
	if (spool_crc32c(0, p, SPOOL_REC_HEAD + len) == spool_get_u32(p + SPOOL_REC_HEAD + len)) {
		s->pos = extent;
		s->torn = false;
		return 1;
	}
	if (!fresh)
		return 2;
	if (extent == size)
		return not_yet(s, size);
	/* all_zero reuses the cache that rec points into: only lsn survives */
	got = all_zero(s, extent, size, err);
	if (got < 0)
		return -1;
	return got ? not_yet(s, size) : corrupt(s, lsn, err);
}

/*
 * A segment only grows while it is read (the writer cuts a torn tail only
 * before anyone reads), so the size seen last still holds: the file is
 * asked again only when the next record does not fit in it, not once per
 * record (an fstat per record was a tenth of the applier's time).
 */
int
spool_seg_next(struct spool_seg *s, uint64_t limit, struct spool_record *rec,
			   struct pgs_error *err)
{
	struct stat st;
	int got = next_within(s, limit, s->size, false, rec, err);

	if (got != 2)
		return got;
	if (fstat(s->fd, &st) != 0) {
		pgs_fail(err, "could not stat spool file \"%s\": %m", s->path);
		return -1;
	}
	s->size = (uint64_t) st.st_size;
	return next_within(s, limit, s->size, true, rec, err);
}

void
spool_seg_close(struct spool_seg *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->path);
	s->path = NULL;
	free(s->cache);
	s->cache = NULL;
	s->cache_cap = 0;
	cache_drop(s);
}
