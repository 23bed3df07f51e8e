/*
 * Streams one COPY from a source session into a target session with no
 * intermediate file: rows read with PQgetCopyData go straight to
 * PQputCopyData. The format (text or binary) is whatever both COPY
 * commands asked for; the pump never looks inside the data.
 */
#ifndef PGSHIFT_PG_COPY_STREAM_H
#define PGSHIFT_PG_COPY_STREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "util/error.h"

struct copy_pump {
	atomic_llong *bytes;        /* progress: bytes moved are added here; may be NULL */
	const atomic_bool *cancel;  /* the pump stops when it becomes true; may be NULL */
	atomic_llong *rows;         /* progress: chunks moved (rows, give or take a binary
								 * header) are added here; may be NULL */
	long chunk_delay_us;        /* test_copy_chunk_delay_us(): 0 outside the tests */
	const char *hold_path;      /* test_copy_hold_path(): NULL outside the tests */
};

/*
 * src must be in COPY OUT state (its COPY ... TO STDOUT was sent) and dst in
 * COPY IN state (COPY ... FROM STDIN). Moves every row, ends both COPYs and
 * checks both results; *rows is the target's count from its "COPY n" tag
 * and *bytes the data moved. On any failure, or when cancel is set, the
 * target's COPY is ended with an error, so the target transaction can only
 * roll back; src may be left inside its COPY and the caller must close it.
 */
bool pg_copy_pump(PGconn *src, PGconn *dst, const struct copy_pump *p, int64_t *rows,
				  int64_t *bytes, struct pgs_error *err);

#endif
