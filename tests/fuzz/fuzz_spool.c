/*
 * libFuzzer harness for the spool reader and the writer's torn-tail repair.
 * Random bytes almost never carry a valid CRC, so the input describes a
 * segment instead: records (type, LSN delta, payload) written with their
 * real CRC unless the input asks for a bad one, then any trailing bytes as
 * a torn tail. The harness reads the segment, lets a writer repair it, and
 * reads it again: the repair may only cut bytes after the last whole record,
 * so both reads must return the same records.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdc/spool.h"
#include "cdc/spool_int.h"
#include "util/buf.h"
#include "util/fs.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	snprintf(dir, sizeof(dir), "/tmp/pgshift-fuzz-spool-%ld", (long) getpid());
	return 0;
}

/* Appends one record of the input to seg; returns the input bytes it used, 0 at the end. */
static size_t
put_record(struct buf *seg, const uint8_t *p, size_t n, uint64_t *lsn)
{
	unsigned char head[SPOOL_REC_HEAD], crc[4];
	size_t len;
	uint32_t c;

	if (n < 4)
		return 0;
	len = p[2] % 64;
	if (len > n - 4)
		len = n - 4;
	*lsn += (uint64_t) p[1] + 1;
	head[0] = p[0];
	spool_put_u64(head + 1, *lsn);
	spool_put_u32(head + 9, (uint32_t) len);
	c = spool_crc32c(spool_crc32c(0, head, sizeof(head)), p + 4, len);
	spool_put_u32(crc, p[3] == 0xff ? c ^ 1 : c);
	buf_append(seg, head, sizeof(head));
	buf_append(seg, p + 4, len);
	buf_append(seg, crc, sizeof(crc));
	return 4 + len;
}

static bool
write_segment(const uint8_t *data, size_t size)
{
	unsigned char header[SPOOL_HEADER_SIZE];
	size_t nrec = size ? data[0] % 16 : 0, pos = size ? 1 : 0;
	uint64_t lsn = 0x1000;
	char *path = spool_segment_path(dir, lsn + 1);
	struct buf seg;
	bool ok;
	int fd;

	buf_init(&seg);
	spool_header_bytes(header);
	buf_append(&seg, header, sizeof(header));
	for (size_t i = 0; i < nrec; i++) {
		size_t used = put_record(&seg, data + pos, size - pos, &lsn);

		if (!used)
			break;
		pos += used;
	}
	buf_append(&seg, data + pos, size - pos);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ok = fd >= 0 && write(fd, seg.data, seg.len) == (ssize_t) seg.len;
	if (fd >= 0)
		close(fd);
	buf_free(&seg);
	free(path);
	return ok;
}

/* Reads every record; returns how many, -1 when the reader reported damage. */
static long
read_all(uint64_t *digest)
{
	struct spool_reader *r;
	struct spool_record rec;
	struct pgs_error err;
	long n = 0;
	int st;

	*digest = 0;
	if (!spool_open_reader(dir, 0, &r, &err))
		return -1;
	while ((st = spool_next(r, &rec, &err)) == 1) {
		*digest = *digest * 31 + rec.lsn + rec.type + spool_crc32c(0, rec.payload, rec.len);
		n++;
	}
	spool_close_reader(r);
	return st < 0 ? -1 : n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool_writer *w;
	struct pgs_error err;
	uint64_t before_digest, after_digest;
	long before, after;

	if (remove_tree(dir) != 0 || mkdir(dir, 0700) != 0 || !write_segment(data, size))
		abort();
	before = read_all(&before_digest);
	if (!spool_open_writer(dir, 0, &w, &err))
		return 0;
	spool_close(w);
	after = read_all(&after_digest);
	if (before >= 0 && (after != before || after_digest != before_digest))
		abort();
	return 0;
}
