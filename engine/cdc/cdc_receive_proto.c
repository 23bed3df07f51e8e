/*
 * Bytes of the streaming replication protocol and the spool position rule;
 * see cdc_receive_int.h. Integers are big-endian, read and written with
 * explicit shifts so the host's byte order never matters.
 */
#include <stdio.h>
#include <time.h>

#include "cdc/cdc_receive_int.h"

/* Seconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch. */
#define PG_EPOCH_OFFSET_S INT64_C(946684800)

int64_t
cdc_pg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec - PG_EPOCH_OFFSET_S) * 1000000 + ts.tv_nsec / 1000;
}

void
cdc_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (56 - 8 * i));
}

uint64_t
cdc_get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void
cdc_status_update(uint8_t out[CDC_STATUS_UPDATE_SIZE], uint64_t write, uint64_t flush,
				  uint64_t apply, int64_t now, bool reply)
{
	out[0] = 'r';
	cdc_put_u64(out + 1, write);
	cdc_put_u64(out + 9, flush);
	cdc_put_u64(out + 17, apply);
	cdc_put_u64(out + 25, (uint64_t) now);
	out[33] = reply ? 1 : 0;
}

bool
cdc_parse_copy(const uint8_t *buf, size_t len, struct cdc_copy_msg *m, struct pgs_error *err)
{
	*m = (struct cdc_copy_msg) {0};
	if (len == 0)
		return pgs_fail(err, "empty CopyData message in the replication stream");
	m->kind = (char) buf[0];
	if (m->kind == 'w') {
		if (len < CDC_XLOGDATA_HEAD)
			return pgs_fail(err, "XLogData message of %zu bytes is shorter than its header", len);
		m->wal_start = cdc_get_u64(buf + 1);
		m->wal_end = cdc_get_u64(buf + 9);
		m->send_time = (int64_t) cdc_get_u64(buf + 17);
		m->data = buf + CDC_XLOGDATA_HEAD;
		m->len = len - CDC_XLOGDATA_HEAD;
		return true;
	}
	if (m->kind == 'k') {
		if (len < CDC_KEEPALIVE_SIZE)
			return pgs_fail(err, "keepalive message of %zu bytes, expected %d", len,
							CDC_KEEPALIVE_SIZE);
		m->wal_end = cdc_get_u64(buf + 1);
		m->send_time = (int64_t) cdc_get_u64(buf + 9);
		m->reply_requested = buf[17] != 0;
		return true;
	}
	return pgs_fail(err, "unexpected message type 0x%02x in the replication stream", buf[0]);
}

static void
advance(struct cdc_position *p, uint64_t lsn)
{
	if (lsn > p->lsn)
		p->lsn = lsn;
}

uint64_t
cdc_position_message(struct cdc_position *p, const struct pgo_msg *m, uint64_t wal_start)
{
	/* Relation and Type come with wal_start 0; a Begin with its first LSN, maybe lower */
	advance(p, wal_start);
	switch (m->kind) {
		case PGO_BEGIN:
			p->in_txn = true;
			break;
		case PGO_COMMIT:
			p->in_txn = false;
			advance(p, m->u.commit.end_lsn);
			break;
		case PGO_STREAM_START:
			p->in_stream = true;
			break;
		case PGO_STREAM_STOP:
			p->in_stream = false;
			break;
		case PGO_STREAM_COMMIT:
			advance(p, m->u.stream_commit.end_lsn);
			break;
		default:
			break;
	}
	return p->lsn;
}

bool
cdc_position_keepalive(struct cdc_position *p, uint64_t wal_end)
{
	if (p->in_txn || p->in_stream || wal_end <= p->lsn)
		return false;
	p->lsn = wal_end;
	return true;
}
