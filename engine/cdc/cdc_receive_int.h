/*
 * The receiver's pure parts, apart from the thread and the connection so
 * unit tests can feed them bytes: the streaming replication protocol's
 * CopyData messages (XLogData 'w', keepalive 'k', Standby Status Update
 * 'r'; all integers big-endian) and the position tracking that decides each
 * spool record's LSN (see cdc_receive.h).
 */
#ifndef PGSHIFT_CDC_CDC_RECEIVE_INT_H
#define PGSHIFT_CDC_CDC_RECEIVE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/pgoutput.h"
#include "util/error.h"

#define CDC_XLOGDATA_HEAD 25        /* 'w' + dataStart + walEnd + sendTime */
#define CDC_KEEPALIVE_SIZE 18       /* 'k' + walEnd + sendTime + replyRequested */
#define CDC_STATUS_UPDATE_SIZE 34   /* 'r' + write + flush + apply + sendTime + reply */

/* One CopyData message from the walsender. */
struct cdc_copy_msg {
	char kind;                  /* 'w' or 'k' */
	uint64_t wal_start;         /* 'w' only; 0 for some messages (Relation) */
	uint64_t wal_end;
	int64_t send_time;
	bool reply_requested;       /* 'k' only */
	const uint8_t *data;        /* 'w': the pgoutput message, borrowed */
	size_t len;
};

void cdc_put_u64(uint8_t *p, uint64_t v);
uint64_t cdc_get_u64(const uint8_t *p);

/* Fills out with a Standby Status Update. */
void cdc_status_update(uint8_t out[CDC_STATUS_UPDATE_SIZE], uint64_t write, uint64_t flush,
					   uint64_t apply, int64_t now, bool reply);

/* Splits a CopyData message; false with err set on a short or unknown one. */
bool cdc_parse_copy(const uint8_t *buf, size_t len, struct cdc_copy_msg *m,
					struct pgs_error *err);

/* Where the stream is: the spool position and which transaction is open. */
struct cdc_position {
	uint64_t lsn;               /* highest position reached; the next record's lsn */
	bool in_txn;                /* a Begin was seen and not its Commit */
	bool in_stream;             /* a Stream Start was seen and not its Stream Stop */
};

/* Feeds one decoded message that arrived with wal_start; returns its record lsn. */
uint64_t cdc_position_message(struct cdc_position *p, const struct pgo_msg *m, uint64_t wal_start);

/*
 * A keepalive at wal_end: true (and p->lsn moved to it) when a
 * CDC_REC_KEEPALIVE record should be spooled, i.e. the position moved and no
 * transaction or stream chunk is open.
 */
bool cdc_position_keepalive(struct cdc_position *p, uint64_t wal_end);

#endif
