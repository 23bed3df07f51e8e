/*
 * What the spool's writer, reader and GC share: the byte layout of spool.h,
 * segment names, and a cursor that reads whole records from one segment.
 * Not for use outside engine/cdc/spool_*.c.
 */
#ifndef PGSHIFT_CDC_SPOOL_INT_H
#define PGSHIFT_CDC_SPOOL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/spool.h"
#include "util/error.h"

#define SPOOL_MAGIC "PGSSPOOL"
#define SPOOL_VERSION 1
#define SPOOL_HEADER_SIZE 16
#define SPOOL_REC_HEAD 13           /* type u8 + lsn u64 + length u32 */
#define SPOOL_REC_OVERHEAD 17       /* head + crc32c u32 */

uint32_t spool_crc32c(uint32_t crc, const void *data, size_t len);

void spool_put_u32(unsigned char *p, uint32_t v);
void spool_put_u64(unsigned char *p, uint64_t v);
uint32_t spool_get_u32(const unsigned char *p);
uint64_t spool_get_u64(const unsigned char *p);

void spool_header_bytes(unsigned char out[SPOOL_HEADER_SIZE]);

/* "<dir>/<16 hex>.spool"; the caller frees it. */
char *spool_segment_path(const char *dir, uint64_t first_lsn);

/* Parses a segment file name; false for any other name (.tmp files too). */
bool spool_parse_segment_name(const char *name, uint64_t *first_lsn);

/* The segments in dir, ascending; *lsns is the caller's to free. */
bool spool_list_segments(const char *dir, uint64_t **lsns, size_t *n,
						 struct pgs_error *err);

/* Deletes leftover "<segment>.tmp" files; returns how many, or -1. */
int spool_remove_tmp_files(const char *dir, struct pgs_error *err);

bool spool_fsync_dir(const char *dir, struct pgs_error *err);

struct spool_writer;

/* The writer's fdatasynced end: segment name and offset (0, 0 when none). */
void spool_writer_durable_pos(struct spool_writer *w, uint64_t *seg, uint64_t *off);

/* Reads whole records out of one segment through a small read-ahead cache. */
struct spool_seg {
	int fd;                     /* owned; -1 when closed */
	char *path;                 /* owned */
	uint64_t first_lsn;         /* from the file name */
	uint64_t pos;               /* offset of the next record */
	uint64_t size;              /* the file's size when last asked */
	bool torn;                  /* the last 0 from spool_seg_next left bytes after pos */
	unsigned char *cache;       /* owned; file bytes [cache_off, cache_off + cache_len) */
	size_t cache_cap;
	size_t cache_len;
	uint64_t cache_off;
};

/* Opens the segment (flags: O_RDONLY or O_RDWR) and checks its header. */
bool spool_seg_open(struct spool_seg *s, const char *dir, uint64_t first_lsn,
					int flags, struct pgs_error *err);

/*
 * Returns 1 with rec (payload points into the cache), 0 when no whole record
 * ends at or before limit and the file's end, -1 on damage with data after it.
 */
int spool_seg_next(struct spool_seg *s, uint64_t limit, struct spool_record *rec,
				   struct pgs_error *err);

void spool_seg_close(struct spool_seg *s);

#endif
