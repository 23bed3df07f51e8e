/*
 * The spool's byte layout and file names (see spool.h): CRC32C, explicit
 * little-endian integers, segment names, listing and directory fsync.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <isa-l/crc.h>

#include "cdc/spool_int.h"
#include "util/xalloc.h"

/*
 * CRC-32C (Castagnoli), as in iSCSI/ext4: ISA-L picks the CPU's CRC32
 * instruction (or its folding code) at run time. A table-driven loop was
 * the receiver's and the applier's largest cost under a busy stream (a
 * sixth of their CPU time), each record being summed when written and when
 * read. ISA-L keeps the register uninverted, hence the inversions; its
 * length is an int, hence the chunks.
 */
#define CRC_CHUNK ((size_t) 1 << 30)

/* Start with crc 0; feed the previous result to continue over more bytes. */
uint32_t
spool_crc32c(uint32_t crc, const void *data, size_t len)
{
	unsigned char *p = (unsigned char *) data;  /* ISA-L only reads it */

	crc = ~crc;
	while (len > 0) {
		size_t n = len < CRC_CHUNK ? len : CRC_CHUNK;

		crc = crc32_iscsi(p, (int) n, crc);
		p += n;
		len -= n;
	}
	return ~crc;
}

void
spool_put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char) (v >> (8 * i));
}

void
spool_put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char) (v >> (8 * i));
}

uint32_t
spool_get_u32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t
spool_get_u64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void
spool_header_bytes(unsigned char out[SPOOL_HEADER_SIZE])
{
	memcpy(out, SPOOL_MAGIC, 8);
	spool_put_u32(out + 8, SPOOL_VERSION);
	spool_put_u32(out + 12, 0);
}

char *
spool_segment_path(const char *dir, uint64_t first_lsn)
{
	return xasprintf("%s/%016" PRIX64 ".spool", dir, first_lsn);
}

bool
spool_parse_segment_name(const char *name, uint64_t *first_lsn)
{
	uint64_t v = 0;

	if (strlen(name) != 16 + strlen(".spool") || strcmp(name + 16, ".spool") != 0)
		return false;
	for (int i = 0; i < 16; i++) {
		char c = name[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return false;
		v = (v << 4) | (uint64_t) d;
	}
	*first_lsn = v;
	return true;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

bool
spool_list_segments(const char *dir, uint64_t **lsns, size_t *n, struct pgs_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 16;

	*n = 0;
	*lsns = NULL;
	if (d == NULL)
		return pgs_fail(err, "could not open spool directory \"%s\": %m", dir);
	*lsns = xmalloc(cap * sizeof(**lsns));
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		uint64_t lsn;

		if (!spool_parse_segment_name(de->d_name, &lsn))
			continue;
		if (*n == cap) {
			cap *= 2;
			*lsns = xrealloc(*lsns, cap * sizeof(**lsns));
		}
		(*lsns)[(*n)++] = lsn;
	}
	if (errno != 0) {
		int e = errno;

		closedir(d);
		free(*lsns);
		*lsns = NULL;
		*n = 0;
		errno = e;
		return pgs_fail(err, "could not read spool directory \"%s\": %m", dir);
	}
	closedir(d);
	qsort(*lsns, *n, sizeof(**lsns), cmp_u64);
	return true;
}

/*
 * Deletes "<segment name>.tmp" files: a segment whose rename did not happen
 * never held a record, let alone a confirmed one. Returns how many, or -1.
 */
int
spool_remove_tmp_files(const char *dir, struct pgs_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int removed = 0;

	if (d == NULL) {
		pgs_fail(err, "could not open spool directory \"%s\": %m", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char name[64];
		uint64_t lsn;
		char *path;

		if (len < 4 || len >= sizeof(name) || strcmp(de->d_name + len - 4, ".tmp") != 0)
			continue;
		memcpy(name, de->d_name, len - 4);
		name[len - 4] = '\0';
		if (!spool_parse_segment_name(name, &lsn))
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (unlink(path) != 0 && errno != ENOENT) {
			pgs_fail(err, "could not remove spool file \"%s\": %m", path);
			free(path);
			closedir(d);
			return -1;
		}
		free(path);
		removed++;
	}
	closedir(d);
	return removed;
}

/* Makes creations, renames and unlinks in dir durable. */
bool
spool_fsync_dir(const char *dir, struct pgs_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return pgs_fail(err, "could not open spool directory \"%s\": %m", dir);
	if (fsync(fd) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return pgs_fail(err, "could not fsync spool directory \"%s\": %m", dir);
	}
	close(fd);
	return true;
}
