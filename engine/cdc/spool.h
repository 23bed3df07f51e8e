/*
 * The CDC spool: a durable, append-only, segmented log of opaque records.
 * The receiver appends what it decoded and confirms to the source only the
 * LSN spool_flush() returned (STYLE habit 7: confirm only what is durable);
 * the applier reads the records back in order and, once they are applied,
 * spool_remove_below() deletes the segments nobody needs any more.
 *
 * On-disk format (all integers little-endian):
 *
 *   <dir>/<16 hex digits>.spool   one segment; the name is the LSN of its
 *                                  first record as 16 upper-case hex digits
 *   segment header, 16 bytes:      "PGSSPOOL" | version u32 (1) | zero u32
 *   then records, back to back:    type u8 | lsn u64 | length u32 |
 *                                  payload (length bytes) |
 *                                  crc32c u32 of type..payload
 *
 * Rules that the readers rely on:
 *   - LSNs never decrease, inside a segment and across segments. A segment
 *     rolls over (at segment_size) only between records of different LSNs,
 *     so every record of a segment is < the next segment's name: a run of
 *     equal LSNs may make a segment grow past segment_size.
 *   - A segment becomes visible complete with its header (written to
 *     "<name>.tmp", fsynced, renamed) and is fdatasynced before the next
 *     segment is created, so only the newest segment can have a torn tail.
 *   - A record is whole when its length fits in the file and its CRC
 *     matches. A bad record that reaches the end of the file, or is followed
 *     by zero bytes only, is a torn tail from a crash (the writer truncates
 *     it, a reader waits); a bad record with data after it is corruption.
 *
 * Threads: one writer and any number of readers (one per thread) may use a
 * directory at once. A reader never returns a partial record (length + CRC);
 * spool_reader_follow() further limits it to the bytes the writer has
 * fdatasynced, through a mutex-guarded position the writer publishes.
 */
#ifndef PGSHIFT_CDC_SPOOL_H
#define PGSHIFT_CDC_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define SPOOL_DEFAULT_SEGMENT_SIZE ((size_t) 64 * 1024 * 1024)
/* Larger lengths are refused on write and read as a damaged record. */
#define SPOOL_MAX_PAYLOAD ((uint32_t) 1 << 30)

struct spool_writer;
struct spool_reader;

struct spool_record {
	uint8_t type;
	uint64_t lsn;
	const uint8_t *payload;     /* owned by the reader; valid until the next call */
	uint32_t len;
};

/*
 * Opens (creating with mode 0700 if needed) the spool in dir for appending
 * and locks it against a second writer. The newest segment's torn tail, if a
 * crash left one, is truncated away; damage before it is an error naming the
 * file and offset. segment_size 0 means SPOOL_DEFAULT_SEGMENT_SIZE.
 */
bool spool_open_writer(const char *dir, size_t segment_size,
					   struct spool_writer **w, struct pgs_error *err);

/*
 * Bytes of torn tail spool_open_writer() cut, for the log. The length field
 * has no CRC of its own: a damaged length anywhere in the newest segment that
 * points past the end of the file looks like a torn tail too, and all after
 * it is cut. So the receiver must check that
 * spool_durable_lsn() after open is >= the slot's confirmed_flush_lsn, or
 * confirmed changes were lost and the migration cannot go on from this spool.
 */
uint64_t spool_writer_repaired_bytes(struct spool_writer *w);

/*
 * Queues one record. lsn must be >= the last appended one. May write and
 * fdatasync the current segment when it rolls over; nothing is promised
 * durable until spool_flush() returns.
 */
bool spool_append(struct spool_writer *w, uint8_t type, uint64_t lsn,
				  const void *payload, size_t len, struct pgs_error *err);

/*
 * Writes every queued record and fdatasyncs it. On success *durable_lsn (may
 * be NULL) is the LSN of the last record now on disk, the only LSN a caller
 * may confirm to the source. After a failed write or sync the writer refuses
 * further work: close it and open it again, which repairs the tail.
 */
bool spool_flush(struct spool_writer *w, uint64_t *durable_lsn, struct pgs_error *err);

/*
 * Writes every queued record, without fdatasync: readers of the files see
 * them at once, yet none is durable (nor to be confirmed) before spool_flush.
 */
bool spool_write_out(struct spool_writer *w, struct pgs_error *err);

/* The LSN of the last fdatasynced record, 0 if none yet. Any thread. */
uint64_t spool_durable_lsn(struct spool_writer *w);

/* Does not flush: records queued since the last spool_flush are dropped. */
void spool_close(struct spool_writer *w);

/*
 * Opens a reader at the first record with lsn >= start_lsn. The directory
 * may be empty or missing segments yet; the reader waits for them.
 */
bool spool_open_reader(const char *dir, uint64_t start_lsn,
					   struct spool_reader **r, struct pgs_error *err);

/*
 * Restricts the reader to what w has fdatasynced. w must outlive the reader
 * or the reader must stop calling spool_next first.
 */
void spool_reader_follow(struct spool_reader *r, struct spool_writer *w);

/*
 * Returns 1 and fills rec, 0 when no whole record is there yet (poll again
 * later: the reader follows the writer into new segments), or -1 with err
 * set (damage: names the file and offset).
 */
int spool_next(struct spool_reader *r, struct spool_record *rec, struct pgs_error *err);

void spool_close_reader(struct spool_reader *r);

/*
 * Deletes the segments whose every record is < applied_lsn, i.e. those whose
 * successor's name is <= applied_lsn; the newest segment always stays.
 * *removed (may be NULL) counts the deleted files.
 */
bool spool_remove_below(const char *dir, uint64_t applied_lsn, int *removed,
						struct pgs_error *err);

#endif
