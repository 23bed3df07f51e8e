/*
 * The spool's writer: queues records in memory, writes them at flush time
 * and fdatasyncs before it reports an LSN durable, since that LSN is what the
 * receiver confirms to the source, which then may recycle the WAL for good.
 * The order of writes and syncs below is what keeps the on-disk promises of
 * spool.h; each step says which promise it keeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdc/spool_int.h"
#include "util/buf.h"
#include "util/xalloc.h"

struct spool_writer {
	char *dir;                  /* owned */
	int dirfd;                  /* owned; holds the flock that keeps a second writer out */
	size_t segment_size;
	int fd;                     /* owned; current segment, -1 when the next write starts one */
	char *path;                 /* owned; current segment's path, NULL with fd -1 */
	uint64_t seg_lsn;           /* current segment's name */
	uint64_t seg_bytes;         /* size of the current segment's file */
	struct buf pending;         /* owned; encoded records not written yet */
	uint64_t pending_first_lsn;
	size_t pending_count;
	bool have_last;
	uint64_t last_lsn;          /* last appended record's LSN */
	bool unsynced;              /* written since the last fdatasync */
	bool broken;                /* a write or sync failed: the file's tail is unknown */
	uint64_t repaired;          /* torn-tail bytes cut at open */

	pthread_mutex_t durable_lock;   /* protects the three durable_* fields */
	uint64_t durable_lsn;
	uint64_t durable_seg;       /* segment holding the durable end; 0 with durable_off 0: none */
	uint64_t durable_off;
};

static void
publish_durable(struct spool_writer *w)
{
	pthread_mutex_lock(&w->durable_lock);
	w->durable_lsn = w->have_last ? w->last_lsn : 0;
	w->durable_seg = w->fd >= 0 ? w->seg_lsn : 0;
	w->durable_off = w->fd >= 0 ? w->seg_bytes : 0;
	pthread_mutex_unlock(&w->durable_lock);
}

uint64_t
spool_durable_lsn(struct spool_writer *w)
{
	uint64_t lsn;

	pthread_mutex_lock(&w->durable_lock);
	lsn = w->durable_lsn;
	pthread_mutex_unlock(&w->durable_lock);
	return lsn;
}

void
spool_writer_durable_pos(struct spool_writer *w, uint64_t *seg, uint64_t *off)
{
	pthread_mutex_lock(&w->durable_lock);
	*seg = w->durable_seg;
	*off = w->durable_off;
	pthread_mutex_unlock(&w->durable_lock);
}

/* A directory just created exists after a crash only once its parent is synced. */
static bool
fsync_parent(char *path, struct pgs_error *err)
{
	char *slash = strrchr(path, '/');
	bool okay;

	if (slash == NULL)
		return spool_fsync_dir(".", err);
	if (slash == path)
		return spool_fsync_dir("/", err);
	*slash = '\0';
	okay = spool_fsync_dir(path, err);
	*slash = '/';
	return okay;
}

static bool
mkdir_p(const char *dir, struct pgs_error *err)
{
	char *path = xstrdup(dir);
	bool okay = true;

	for (char *p = path + 1; okay; p++) {
		bool last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(path, 0700) == 0)
			okay = fsync_parent(path, err);
		else if (errno != EEXIST)
			okay = pgs_fail(err, "could not create spool directory \"%s\": %m", path);
		if (last)
			break;
		*p = '/';
	}
	free(path);
	return okay;
}

static bool
lock_dir(struct spool_writer *w, struct pgs_error *err)
{
	w->dirfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0)
		return pgs_fail(err, "could not open spool directory \"%s\": %m", w->dir);
	if (flock(w->dirfd, LOCK_EX | LOCK_NB) == 0)
		return true;
	if (errno == EWOULDBLOCK) {
		pgs_fail(err, "spool directory \"%s\" is in use by another writer", w->dir);
		pgs_error_hint(err, "Only one receiver may write a spool; is another pgshift "
					   "running this migration?");
		return false;
	}
	return pgs_fail(err, "could not lock spool directory \"%s\": %m", w->dir);
}

/* fdatasync of the current segment; afterwards its written bytes survive a crash. */
static bool
sync_segment(struct spool_writer *w, struct pgs_error *err)
{
	if (!w->unsynced)
		return true;
	if (fdatasync(w->fd) != 0) {
		/* after a failed sync the page cache may have dropped the data:
		 * only a reopen, which re-reads and checks the file, is safe */
		w->broken = true;
		return pgs_fail(err, "could not fdatasync spool file \"%s\": %m", w->path);
	}
	w->unsynced = false;
	publish_durable(w);
	return true;
}

/*
 * Cuts the torn tail the scan stopped at, then syncs what stays (or deletes
 * the segment if nothing does).
 */
static bool
repair_tail(struct spool_writer *w, struct spool_seg *s, size_t count, struct pgs_error *err)
{
	struct stat st;

	/* the torn tail is what a crash cut short: never confirmed, so dropped */
	if (s->torn && fstat(s->fd, &st) == 0 && (uint64_t) st.st_size > s->pos)
		w->repaired += (uint64_t) st.st_size - s->pos;
	if (s->torn && ftruncate(s->fd, (off_t) s->pos) != 0)
		return pgs_fail(err, "could not truncate spool file \"%s\" to %" PRIu64 " bytes: %m",
						s->path, s->pos);
	if (count == 0) {
		if (unlink(s->path) != 0)
			return pgs_fail(err, "could not remove empty spool file \"%s\": %m", s->path);
		return true;
	}
	/* a crashed writer's last writes may be in the page cache only: they are
	 * about to be reported durable, so make them so */
	if (fdatasync(s->fd) != 0)
		return pgs_fail(err, "could not fdatasync spool file \"%s\": %m", s->path);
	return true;
}

/*
 * Scans the newest segment, keeps it as the current one, and cuts a torn
 * tail. Returns 1 when it holds records, 0 when it held none and was
 * deleted (its name could be above the LSN the source resends from).
 */
static int
adopt_segment(struct spool_writer *w, uint64_t lsn, struct pgs_error *err)
{
	struct spool_seg s;
	struct spool_record rec;
	size_t count = 0;
	int st;

	if (!spool_seg_open(&s, w->dir, lsn, O_RDWR, err))
		return -1;
	while ((st = spool_seg_next(&s, UINT64_MAX, &rec, err)) == 1) {
		if (count++ == 0 && rec.lsn != lsn) {
			pgs_fail(err, "spool file \"%s\" starts with LSN %X/%X, not the LSN of its name",
					 s.path, (unsigned) (rec.lsn >> 32), (unsigned) rec.lsn);
			st = -1;
			break;
		}
		w->have_last = true;
		w->last_lsn = rec.lsn;
	}
	if (st == 0 && !repair_tail(w, &s, count, err))
		st = -1;
	if (st < 0 || count == 0) {
		spool_seg_close(&s);
		return st < 0 ? -1 : 0;
	}
	w->fd = s.fd;
	w->path = s.path;
	w->seg_lsn = lsn;
	w->seg_bytes = s.pos;
	s.fd = -1;
	s.path = NULL;
	spool_seg_close(&s);
	return 1;
}

/* Finds the newest segment with records, deleting empty ones on the way. */
static bool
recover(struct spool_writer *w, struct pgs_error *err)
{
	for (;;) {
		uint64_t *lsns;
		size_t n;
		int st;

		if (!spool_list_segments(w->dir, &lsns, &n, err))
			return false;
		st = n == 0 ? 1 : adopt_segment(w, lsns[n - 1], err);
		free(lsns);
		if (st < 0)
			return false;
		if (st == 1)
			break;
	}
	/* a crash between a rename or unlink and its directory fsync */
	if (spool_remove_tmp_files(w->dir, err) < 0 || !spool_fsync_dir(w->dir, err))
		return false;
	publish_durable(w);
	return true;
}

bool
spool_open_writer(const char *dir, size_t segment_size, struct spool_writer **wp,
				  struct pgs_error *err)
{
	struct spool_writer *w = xcalloc(1, sizeof(*w));

	w->dir = xstrdup(dir);
	w->dirfd = -1;
	w->fd = -1;
	w->segment_size = segment_size ? segment_size : SPOOL_DEFAULT_SEGMENT_SIZE;
	buf_init(&w->pending);
	pthread_mutex_init(&w->durable_lock, NULL);
	if (!mkdir_p(dir, err) || !lock_dir(w, err) || !recover(w, err)) {
		spool_close(w);
		*wp = NULL;
		return false;
	}
	*wp = w;
	return true;
}

/*
 * Starts the segment named lsn. The header is written and synced under a
 * temporary name and only then renamed, so a segment is never seen without
 * its header; the directory fsync makes the name durable before any record
 * in it can be confirmed.
 */
static bool
create_segment(struct spool_writer *w, uint64_t lsn, struct pgs_error *err)
{
	unsigned char header[SPOOL_HEADER_SIZE];
	char *path = spool_segment_path(w->dir, lsn);
	char *tmp = xasprintf("%s.tmp", path);
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *what = "create";

	spool_header_bytes(header);
	errno = 0;
	if (fd >= 0) {
		what = "write";
		if (pwrite(fd, header, sizeof(header), 0) == (ssize_t) sizeof(header)) {
			what = "fdatasync";
			if (fdatasync(fd) == 0)
				what = rename(tmp, path) == 0 ? NULL : "rename";
		}
	}
	if (what != NULL) {
		if (errno)
			pgs_fail(err, "could not %s spool file \"%s\": %m", what, tmp);
		else
			pgs_fail(err, "could not %s spool file \"%s\": short write", what, tmp);
		if (fd >= 0)
			close(fd);
		free(tmp);
		free(path);
		w->broken = true;
		return false;
	}
	free(tmp);
	w->fd = fd;
	w->path = path;
	w->seg_lsn = lsn;
	w->seg_bytes = SPOOL_HEADER_SIZE;
	if (fsync(w->dirfd) != 0) {
		w->broken = true;
		return pgs_fail(err, "could not fsync spool directory \"%s\": %m", w->dir);
	}
	return true;
}

static bool
write_pending(struct spool_writer *w, struct pgs_error *err)
{
	size_t done = 0;

	if (w->pending.len == 0)
		return true;
	if (w->fd < 0 && !create_segment(w, w->pending_first_lsn, err))
		return false;
	while (done < w->pending.len) {
		ssize_t n = pwrite(w->fd, w->pending.data + done, w->pending.len - done,
						   (off_t) (w->seg_bytes + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* a part may be in the file: a reopen truncates it as a torn tail */
			w->broken = true;
			return pgs_fail(err, "could not write to spool file \"%s\" at offset %" PRIu64
							": %m", w->path, w->seg_bytes + done);
		}
		done += (size_t) n;
	}
	w->seg_bytes += done;
	w->unsynced = true;
	buf_reset(&w->pending);
	w->pending_count = 0;
	return true;
}

/*
 * Ends the current segment. It is synced before the next one can be created,
 * so that only the newest segment can ever have a torn tail.
 */
static bool
finish_segment(struct spool_writer *w, struct pgs_error *err)
{
	if (!write_pending(w, err) || !sync_segment(w, err))
		return false;
	close(w->fd);
	w->fd = -1;
	free(w->path);
	w->path = NULL;
	return true;
}

/* Rolls over only between different LSNs: see spool.h. */
static bool
needs_rollover(const struct spool_writer *w, uint64_t lsn, size_t len)
{
	uint64_t size = (w->fd >= 0 ? w->seg_bytes : SPOOL_HEADER_SIZE) + w->pending.len;

	if (!w->have_last || lsn == w->last_lsn)
		return false;
	if (w->fd < 0 && w->pending_count == 0)
		return false;
	return size + SPOOL_REC_OVERHEAD + len > w->segment_size;
}

static bool
check_usable(struct spool_writer *w, struct pgs_error *err)
{
	if (!w->broken)
		return true;
	pgs_fail(err, "spool writer for \"%s\" stopped after an earlier write error", w->dir);
	pgs_error_hint(err, "Close and reopen the spool; reopening repairs the tail.");
	return false;
}

bool
spool_append(struct spool_writer *w, uint8_t type, uint64_t lsn, const void *payload,
			 size_t len, struct pgs_error *err)
{
	unsigned char head[SPOOL_REC_HEAD], tail[4];
	uint32_t crc;

	if (!check_usable(w, err))
		return false;
	if (len > SPOOL_MAX_PAYLOAD)
		return pgs_fail(err, "spool record at LSN %X/%X is too large: %zu bytes (at most %u)",
						(unsigned) (lsn >> 32), (unsigned) lsn, len, SPOOL_MAX_PAYLOAD);
	if (w->have_last && lsn < w->last_lsn)
		return pgs_fail(err, "spool record at LSN %X/%X comes after LSN %X/%X: records must "
						"be appended in LSN order", (unsigned) (lsn >> 32), (unsigned) lsn,
						(unsigned) (w->last_lsn >> 32), (unsigned) w->last_lsn);
	if (needs_rollover(w, lsn, len) && !finish_segment(w, err))
		return false;
	head[0] = type;
	spool_put_u64(head + 1, lsn);
	spool_put_u32(head + 9, (uint32_t) len);
	crc = spool_crc32c(spool_crc32c(0, head, sizeof(head)), payload, len);
	spool_put_u32(tail, crc);
	buf_append(&w->pending, head, sizeof(head));
	buf_append(&w->pending, payload, len);
	buf_append(&w->pending, tail, sizeof(tail));
	if (w->pending_count++ == 0)
		w->pending_first_lsn = lsn;
	w->have_last = true;
	w->last_lsn = lsn;
	return true;
}

bool
spool_flush(struct spool_writer *w, uint64_t *durable_lsn, struct pgs_error *err)
{
	if (!check_usable(w, err) || !write_pending(w, err))
		return false;
	if (w->fd >= 0 && !sync_segment(w, err))
		return false;
	if (durable_lsn != NULL)
		*durable_lsn = spool_durable_lsn(w);
	return true;
}

bool
spool_write_out(struct spool_writer *w, struct pgs_error *err)
{
	return check_usable(w, err) && write_pending(w, err);
}

uint64_t
spool_writer_repaired_bytes(struct spool_writer *w)
{
	return w->repaired;
}

void
spool_close(struct spool_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->dirfd >= 0)
		close(w->dirfd);        /* releases the flock */
	free(w->path);
	free(w->dir);
	buf_free(&w->pending);
	pthread_mutex_destroy(&w->durable_lock);
	free(w);
}
