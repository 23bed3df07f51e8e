/*
 * The CDC spool: records come back exactly as written, in order, across
 * segments, reopen, crashes (torn tails), damage, GC, and a writer and a
 * reader running in two threads at once.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdc/spool.h"
#include "cdc/spool_int.h"
#include "tap.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/xalloc.h"

static char tmp_root[] = "/tmp/pgshift-spool-XXXXXX";
static int dir_seq;

/* A fresh spool path (not created: the writer must mkdir -p it). */
static char *
new_dir(void)
{
	return xasprintf("%s/case%d/spool", tmp_root, ++dir_seq);
}

/* Payload bytes that depend on the record, so a mix-up shows. */
static unsigned char *
make_payload(uint64_t lsn, size_t len)
{
	unsigned char *p = xmalloc(len ? len : 1);

	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char) ((lsn * 31 + i * 7 + (i >> 8)) & 0xff);
	return p;
}

static bool
append_gen(struct spool_writer *w, uint8_t type, uint64_t lsn, size_t len,
		   struct pgs_error *err)
{
	unsigned char *p = make_payload(lsn, len);
	bool okay = spool_append(w, type, lsn, p, len, err);

	free(p);
	return okay;
}

static bool
rec_matches(const struct spool_record *rec, uint8_t type, uint64_t lsn, size_t len)
{
	unsigned char *p = make_payload(lsn, len);
	bool same = rec->type == type && rec->lsn == lsn && rec->len == len &&
		(len == 0 || memcmp(rec->payload, p, len) == 0);

	free(p);
	return same;
}

static size_t
count_segments(const char *dir)
{
	uint64_t *lsns;
	size_t n;
	struct pgs_error err;

	if (!spool_list_segments(dir, &lsns, &n, &err))
		return 0;
	free(lsns);
	return n;
}

static uint64_t
segment_name(const char *dir, size_t i)
{
	uint64_t *lsns, v = 0;
	size_t n;
	struct pgs_error err;

	if (spool_list_segments(dir, &lsns, &n, &err) && i < n)
		v = lsns[i];
	free(lsns);
	return v;
}

static off_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Case table for test 1: sizes that stress empty, tiny and huge records. */
static size_t
size_of(int i)
{
	static const size_t fixed[] = {0, 1, 1024 * 1024, 0, 1, 17, 4096, 65536};

	if (i < (int) (sizeof(fixed) / sizeof(fixed[0])))
		return fixed[i];
	return (size_t) (i * 137) % 9000;
}

#define T1_RECORDS 400

static uint64_t
t1_lsn(int i)
{
	return 0x16B3748 + (uint64_t) (i / 3) * 40;     /* runs of 3 equal LSNs */
}

static void
test_roundtrip(void)
{
	char *dir = new_dir();
	struct spool_writer *w;
	struct spool_reader *r;
	struct spool_record rec;
	struct pgs_error err;
	uint64_t durable = 0;
	int i, good = 0, st;

	ok(spool_open_writer(dir, 256 * 1024, &w, &err), "writer opens and creates the directory");
	for (i = 0; i < T1_RECORDS; i++) {
		if (!append_gen(w, (uint8_t) (i % 7), t1_lsn(i), size_of(i), &err))
			break;
		if (i % 25 == 24 && !spool_flush(w, &durable, &err))
			break;
	}
	ok(i == T1_RECORDS && spool_flush(w, &durable, &err), "400 records appended and flushed");
	is_int(durable, t1_lsn(T1_RECORDS - 1), "flush returns the last LSN as durable");
	is_int(spool_durable_lsn(w), durable, "spool_durable_lsn agrees");
	ok(count_segments(dir) >= 5, "small segment size gives several segments");
	is_int(segment_name(dir, 0), 0x16B3748, "first segment is named by its first LSN");
	{
		char *p = xasprintf("%s/00000000016B3748.spool", dir);

		ok(file_size(p) > 1024 * 1024, "segment name is 16 hex digits; a 1MB record fits");
		free(p);
	}
	spool_close(w);

	ok(spool_open_reader(dir, 0, &r, &err), "reader opens");
	for (i = 0; i < T1_RECORDS; i++) {
		if (spool_next(r, &rec, &err) != 1)
			break;
		good += rec_matches(&rec, (uint8_t) (i % 7), t1_lsn(i), size_of(i));
	}
	is_int(good, T1_RECORDS, "every record reads back with its type, LSN and exact bytes");
	st = spool_next(r, &rec, &err);
	is_int(st, 0, "then the reader is at the end, not in error");
	spool_close_reader(r);
	free(dir);
}

/* What is written out is readable at once, and durable only after spool_flush. */
static void
test_write_out(void)
{
	char *dir = new_dir();
	struct spool_writer *w;
	struct spool_reader *r;
	struct spool_record rec;
	struct pgs_error err;

	ok(spool_open_writer(dir, 0, &w, &err), "writer opens");
	append_gen(w, 1, 100, 50, &err);
	ok(spool_flush(w, NULL, &err), "a first record flushed");
	append_gen(w, 1, 110, 50, &err);
	append_gen(w, 1, 120, 50, &err);
	ok(spool_open_reader(dir, 0, &r, &err), "reader opens");
	ok(spool_next(r, &rec, &err) == 1 && rec_matches(&rec, 1, 100, 50), "it reads the flushed one");
	ok(spool_next(r, &rec, &err) == 0, "and not the two only queued");
	ok(spool_write_out(w, &err), "they are written out");
	is_int(spool_durable_lsn(w), 100, "not durable: the durable LSN stays at the flushed one");
	ok(spool_next(r, &rec, &err) == 1 && rec_matches(&rec, 1, 110, 50) &&
	   spool_next(r, &rec, &err) == 1 && rec_matches(&rec, 1, 120, 50),
	   "the reader sees both at once");
	ok(spool_flush(w, NULL, &err), "flushed");
	is_int(spool_durable_lsn(w), 120, "now they are durable");
	ok(spool_next(r, &rec, &err) == 0, "and nothing is read twice");
	spool_close_reader(r);
	spool_close(w);
	free(dir);
}

static void
test_reopen_and_start(void)
{
	char *dir = new_dir();
	char *seg;
	struct spool_writer *w;
	struct spool_reader *r;
	struct spool_record rec;
	struct pgs_error err;
	off_t before;
	int i;

	ok(spool_open_writer(dir, 0, &w, &err), "writer opens with the default segment size");
	for (i = 0; i < 10; i++)
		append_gen(w, 1, 100 + (uint64_t) i * 10, 50, &err);
	ok(spool_flush(w, NULL, &err), "10 records flushed");
	spool_close(w);
	seg = xasprintf("%s/0000000000000064.spool", dir);
	before = file_size(seg);

	ok(spool_open_writer(dir, 0, &w, &err), "writer reopens");
	is_int(spool_writer_repaired_bytes(w), 0, "a clean close leaves nothing to repair");
	is_int(spool_durable_lsn(w), 190, "reopened writer reports what is on disk as durable");
	ok(!spool_append(w, 1, 150, "x", 1, &err), "an LSN below the last one on disk is refused");
	for (i = 10; i < 15; i++)
		append_gen(w, 1, 100 + (uint64_t) i * 10, 50, &err);
	ok(spool_flush(w, NULL, &err), "5 more records flushed");
	spool_close(w);
	is_int(count_segments(dir), 1, "still one segment: appending continued in the last one");
	is_int(file_size(seg), before + 5 * (17 + 50), "the last segment grew by the 5 records");

	ok(spool_open_reader(dir, 150, &r, &err), "reader from an LSN that is a record's");
	ok(spool_next(r, &rec, &err) == 1 && rec_matches(&rec, 1, 150, 50), "starts at that record");
	spool_close_reader(r);
	ok(spool_open_reader(dir, 155, &r, &err), "reader from an LSN between two records");
	ok(spool_next(r, &rec, &err) == 1 && rec_matches(&rec, 1, 160, 50),
	   "starts at the first record above it");
	for (i = 0; spool_next(r, &rec, &err) == 1; i++)
		;
	is_int(i, 8, "and reads the other 8, across the reopen, to the end");
	spool_close_reader(r);

	ok(spool_open_writer(dir, 0, &w, &err), "a writer opens");
	{
		struct spool_writer *w2;

		ok(!spool_open_writer(dir, 0, &w2, &err), "a second writer on the same directory is refused");
		ok(strstr(err.message, "in use by another writer") != NULL, "with a message saying why");
	}
	spool_close(w);
	free(seg);
	free(dir);
}

/* Writes 5 records at LSNs 10..50 into a fresh spool; returns its segment path. */
static char *
five_records(const char *dir)
{
	struct spool_writer *w;
	struct pgs_error err;

	if (!spool_open_writer(dir, 0, &w, &err))
		return NULL;
	for (int i = 1; i <= 5; i++)
		append_gen(w, 2, (uint64_t) i * 10, 100, &err);
	spool_flush(w, NULL, &err);
	spool_close(w);
	return xasprintf("%s/000000000000000A.spool", dir);
}

static void
append_bytes(const char *path, const void *bytes, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	if (fd >= 0) {
		if (write(fd, bytes, len) != (ssize_t) len)
			perror("write");
		close(fd);
	}
}

/* Reads every record from lsn 0; returns how many came back before the end. */
static int
read_all(const char *dir, int *last_status)
{
	struct spool_reader *r;
	struct spool_record rec;
	struct pgs_error err;
	int n = 0, st;

	if (!spool_open_reader(dir, 0, &r, &err))
		return -1;
	while ((st = spool_next(r, &rec, &err)) == 1)
		n++;
	*last_status = st;
	spool_close_reader(r);
	return n;
}

enum tear { TEAR_HALF_RECORD, TEAR_CUT_LAST, TEAR_BAD_CRC_AT_END, TEAR_ZEROS };

static const struct {
	enum tear how;
	const char *name;
	int records_left;
} tears[] = {
	{TEAR_HALF_RECORD, "half a record appended", 5},
	{TEAR_CUT_LAST, "last record cut in the middle", 4},
	{TEAR_BAD_CRC_AT_END, "whole last record with a bad CRC", 4},
	{TEAR_ZEROS, "zero bytes after the last record", 5},
};

static void
tear(const char *path, enum tear how)
{
	unsigned char junk[64];
	off_t size = file_size(path);

	memset(junk, 0, sizeof(junk));
	if (how == TEAR_HALF_RECORD) {
		junk[0] = 2;
		spool_put_u64(junk + 1, 60);
		spool_put_u32(junk + 9, 100);   /* claims 100 bytes, has 20 */
		memset(junk + 13, 0xAB, 20);
		append_bytes(path, junk, 33);
	} else if (how == TEAR_CUT_LAST) {
		if (truncate(path, size - 40) != 0)
			perror("truncate");
	} else if (how == TEAR_BAD_CRC_AT_END) {
		int fd = open(path, O_WRONLY);

		if (fd >= 0 && pwrite(fd, "\xff", 1, size - 2) != 1)
			perror("pwrite");
		if (fd >= 0)
			close(fd);
	} else {
		append_bytes(path, junk, sizeof(junk));
	}
}

static void
test_torn_tail(int t)
{
	char *dir = new_dir();
	char *path = five_records(dir);
	struct spool_writer *w;
	struct spool_reader *r;
	struct spool_record rec;
	struct pgs_error err;
	int st, n, left = tears[t].records_left;
	off_t whole = 16 + (off_t) left * (17 + 100), torn_size;
	char name[160];

	tear(path, tears[t].how);
	torn_size = file_size(path);
	n = read_all(dir, &st);
	snprintf(name, sizeof(name), "%s: reader sees the %d whole records and waits", tears[t].name, left);
	ok(n == left && st == 0, name);
	ok(spool_open_reader(dir, 0, &r, &err), "a reader opens before the writer's repair");
	while (spool_next(r, &rec, &err) == 1)
		;
	snprintf(name, sizeof(name), "%s: reopening the writer is not an error", tears[t].name);
	ok(spool_open_writer(dir, 0, &w, &err), name);
	is_int(spool_writer_repaired_bytes(w), torn_size - whole, "the writer reports the bytes it cut");
	is_int(file_size(path), whole, "the torn tail was truncated away");
	is_int(spool_durable_lsn(w), left * 10, "durable LSN is the last whole record");
	append_gen(w, 3, 60, 7, &err);
	append_gen(w, 3, 70, 0, &err);
	ok(spool_flush(w, NULL, &err), "new records appended after the repair");
	ok(spool_next(r, &rec, &err) == 1 && rec_matches(&rec, 3, 60, 7) &&
	   spool_next(r, &rec, &err) == 1 && rec_matches(&rec, 3, 70, 0) &&
	   spool_next(r, &rec, &err) == 0,
	   "the waiting reader gets exactly the new records");
	spool_close_reader(r);
	spool_close(w);
	n = read_all(dir, &st);
	is_int(n, left + 2, "a fresh reader sees old and new records");
	free(path);
	free(dir);
}

static void
test_leftovers(void)
{
	char *dir = new_dir();
	char *path = five_records(dir);
	char *empty = xasprintf("%s/0000000000000064.spool", dir);
	char *tmp = xasprintf("%s/00000000000000C8.spool.tmp", dir);
	unsigned char header[SPOOL_HEADER_SIZE];
	struct spool_writer *w;
	struct pgs_error err;

	/* a crash right after a segment was created, before its first record */
	spool_header_bytes(header);
	{
		FILE *f = fopen(empty, "w");

		if (f) {
			fwrite(header, 1, sizeof(header), f);
			fclose(f);
		}
		f = fopen(tmp, "w");
		if (f)
			fclose(f);
	}
	ok(spool_open_writer(dir, 0, &w, &err), "writer opens over an empty newest segment");
	ok(file_size(empty) < 0, "the empty segment is deleted (its name could lie)");
	ok(file_size(tmp) < 0, "a leftover .tmp segment is deleted");
	ok(spool_append(w, 1, 55, "y", 1, &err) && spool_flush(w, NULL, &err),
	   "an LSN below the deleted segment's name is accepted");
	spool_close(w);
	free(empty);
	free(tmp);
	free(path);
	free(dir);
}

static void
test_corrupt_middle(void)
{
	char *dir = new_dir();
	char *path = five_records(dir);
	struct spool_reader *r;
	struct spool_writer *w;
	struct spool_record rec;
	struct pgs_error err;
	char want[512];
	int fd, n = 0, st;
	long off = 16 + 2 * (17 + 100);     /* the third record */

	fd = open(path, O_WRONLY);
	if (fd >= 0 && pwrite(fd, "\x5a", 1, off + 13 + 50) != 1)
		perror("pwrite");
	if (fd >= 0)
		close(fd);
	snprintf(want, sizeof(want), "corrupt record in spool file \"%s\" at offset %ld: checksum mismatch",
			 path, off);
	ok(spool_open_reader(dir, 0, &r, &err), "reader opens");
	while ((st = spool_next(r, &rec, &err)) == 1)
		n++;
	is_int(n, 2, "the two records before the damage are read");
	is_int(st, -1, "then spool_next fails");
	is_str(err.message, want, "naming the file and the offset");
	spool_close_reader(r);
	ok(!spool_open_writer(dir, 0, &w, &err), "the writer refuses to open over it too");
	is_str(err.message, want, "with the same message");
	free(path);
	free(dir);
}

static void
test_gc(void)
{
	char *dir = new_dir();
	struct spool_writer *w;
	struct spool_reader *r;
	struct spool_record rec;
	struct pgs_error err;
	uint64_t names[5], x;
	int removed = -1, i;

	spool_open_writer(dir, 16 + 4 * (17 + 100), &w, &err);
	for (i = 0; i < 20; i++)
		append_gen(w, 1, 1000 + (uint64_t) i * 8, 100, &err);
	spool_flush(w, NULL, &err);
	is_int(count_segments(dir), 5, "20 records, 4 per segment: 5 segments");
	for (i = 0; i < 5; i++)
		names[i] = segment_name(dir, (size_t) i);
	is_int(names[1], 1032, "second segment is named by its first LSN");

	ok(spool_remove_below(dir, names[2] - 1, &removed, &err), "remove_below just under a segment name");
	is_int(removed, 1, "deletes only the segment whose successor starts at or below it");
	ok(spool_remove_below(dir, names[2], &removed, &err), "remove_below at a segment name");
	is_int(removed, 1, "deletes the segment before it as well");
	is_int(segment_name(dir, 0), names[2], "the segment holding that LSN stays");
	x = names[2] + 8;
	ok(spool_open_reader(dir, x, &r, &err) && spool_next(r, &rec, &err) == 1 &&
	   rec_matches(&rec, 1, x, 100), "reading from the applied LSN still works");
	spool_close_reader(r);
	ok(spool_remove_below(dir, UINT64_MAX, &removed, &err), "remove_below past everything");
	is_int(removed, 2, "deletes all segments but one");
	is_int(count_segments(dir), 1, "the newest always stays");
	append_gen(w, 1, 5000, 3, &err);
	ok(spool_flush(w, NULL, &err), "the writer goes on appending to it");
	ok(spool_open_reader(dir, names[4], &r, &err), "reader opens at the newest segment");
	for (i = 0; spool_next(r, &rec, &err) == 1; i++)
		;
	is_int(i, 5, "and reads its records and the new one");
	spool_close_reader(r);
	spool_close(w);
	free(dir);
}

static void
test_order(void)
{
	char *dir = new_dir();
	struct spool_writer *w;
	struct pgs_error err;

	spool_open_writer(dir, 0, &w, &err);
	ok(spool_append(w, 1, 0x100000200, "a", 1, &err), "first record");
	ok(spool_append(w, 1, 0x100000200, "b", 1, &err), "an equal LSN is fine");
	ok(!spool_append(w, 1, 0x1000001FF, "c", 1, &err), "a lower LSN is refused");
	is_str(err.message, "spool record at LSN 1/1FF comes after LSN 1/200: records must be "
		   "appended in LSN order", "with both LSNs in the message");
	spool_close(w);
	free(dir);
}

static void
test_crc(void)
{
	is_int(spool_crc32c(0, "123456789", 9), 0xE3069283, "CRC32C check value");
}

/* Test 7: a writer thread and a reader thread on one spool. */
#define T7_RECORDS 100000

struct t7 {
	const char *dir;
	struct spool_writer *w;
	bool follow;
	bool writer_ok;
	int got;                    /* records in order and intact */
	int beyond_durable;         /* records seen above the durable LSN */
	char error[2048];
};

static uint64_t
t7_lsn(uint32_t i)
{
	return 0x5000000 + i / 2;   /* pairs of equal LSNs */
}

static void *
t7_writer(void *arg)
{
	struct t7 *t = arg;
	struct pgs_error err;
	unsigned char p[64];

	t->writer_ok = true;
	for (uint32_t i = 0; i < T7_RECORDS && t->writer_ok; i++) {
		size_t len = 4 + i % 41;

		memset(p, (int) (i & 0xff), sizeof(p));
		spool_put_u32(p, i);
		t->writer_ok = spool_append(t->w, 4, t7_lsn(i), p, len, &err) &&
			(i % 97 != 96 || spool_flush(t->w, NULL, &err));
	}
	if (t->writer_ok)
		t->writer_ok = spool_flush(t->w, NULL, &err);
	return NULL;
}

static void *
t7_reader(void *arg)
{
	struct t7 *t = arg;
	struct spool_reader *r;
	struct spool_record rec;
	struct pgs_error err;

	if (!spool_open_reader(t->dir, 0, &r, &err))
		return NULL;
	if (t->follow)
		spool_reader_follow(r, t->w);
	while (t->got < T7_RECORDS) {
		int st = spool_next(r, &rec, &err);

		if (st < 0) {
			snprintf(t->error, sizeof(t->error), "%s", err.message);
			break;
		}
		if (st == 0) {
			sched_yield();
			continue;
		}
		if (t->follow && rec.lsn > spool_durable_lsn(t->w))
			t->beyond_durable++;
		if (rec.len != 4 + (uint32_t) t->got % 41 || spool_get_u32(rec.payload) != (uint32_t) t->got ||
			rec.lsn != t7_lsn((uint32_t) t->got)) {
			snprintf(t->error, sizeof(t->error), "record %d out of order or damaged", t->got);
			break;
		}
		t->got++;
	}
	spool_close_reader(r);
	return NULL;
}

static void
test_threads(bool follow)
{
	char *dir = new_dir();
	struct t7 t = {.dir = dir, .follow = follow};
	struct pgs_error err;
	pthread_t wt, rt;
	struct spool_record rec;
	struct spool_reader *r;

	ok(spool_open_writer(dir, 64 * 1024, &t.w, &err), "writer opens for the thread test");
	pthread_create(&rt, NULL, t7_reader, &t);
	pthread_create(&wt, NULL, t7_writer, &t);
	pthread_join(wt, NULL);
	pthread_join(rt, NULL);
	ok(t.writer_ok, "writer thread appended and flushed 100k records");
	is_str(t.error, "", follow ? "following reader: no error" : "CRC-only reader: no error");
	is_int(t.got, T7_RECORDS, "reader got every record exactly once, in order");
	if (follow)
		is_int(t.beyond_durable, 0, "a following reader never saw a record before it was durable");
	ok(count_segments(dir) > 20, "across many segment rollovers");
	spool_open_reader(dir, t7_lsn(T7_RECORDS - 1), &r, &err);
	ok(spool_next(r, &rec, &err) == 1 && spool_next(r, &rec, &err) == 1 &&
	   spool_next(r, &rec, &err) == 0, "nothing after the last two records");
	spool_close_reader(r);
	spool_close(t.w);
	free(dir);
}

int
main(void)
{
	if (mkdtemp(tmp_root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_crc();
	test_roundtrip();
	test_reopen_and_start();
	test_write_out();
	for (int t = 0; t < (int) (sizeof(tears) / sizeof(tears[0])); t++)
		test_torn_tail(t);
	test_leftovers();
	test_corrupt_middle();
	test_gc();
	test_order();
	test_threads(true);
	test_threads(false);
	ok(remove_tree(tmp_root) == 0, "temporary directory removed");
	return done_testing();
}
