/*
 * pgoutput message dispatch: the type byte picks the decoder, a streamed
 * change's xid is read here (every change type puts it first), and a
 * message must end exactly where its last field does, so that a protocol
 * mismatch shows as an error instead of silently shifted values.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/pgoutput.h"
#include "cdc/pgoutput_int.h"

struct pgo_handler {
	char kind;
	const char *name;
	bool xid_in_stream;         /* carries a (sub)xid first inside a stream */
	bool (*decode)(struct pgo_cursor *c, struct pgo_msg *m);   /* NULL: no body */
};

static const struct pgo_handler handlers[] = {
	{PGO_BEGIN, "Begin", false, pgo_decode_begin},
	{PGO_COMMIT, "Commit", false, pgo_decode_commit},
	{PGO_ORIGIN, "Origin", false, pgo_decode_origin},
	{PGO_RELATION, "Relation", true, pgo_decode_relation},
	{PGO_TYPE, "Type", true, pgo_decode_type},
	{PGO_INSERT, "Insert", true, pgo_decode_insert},
	{PGO_UPDATE, "Update", true, pgo_decode_update},
	{PGO_DELETE, "Delete", true, pgo_decode_delete},
	{PGO_TRUNCATE, "Truncate", true, pgo_decode_truncate},
	{PGO_MESSAGE, "Message", true, pgo_decode_message},
	{PGO_STREAM_START, "Stream Start", false, pgo_decode_stream_start},
	{PGO_STREAM_STOP, "Stream Stop", false, NULL},
	{PGO_STREAM_COMMIT, "Stream Commit", false, pgo_decode_stream_commit},
	{PGO_STREAM_ABORT, "Stream Abort", false, pgo_decode_stream_abort},
};

static const struct pgo_handler *
find_handler(int kind)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (handlers[i].kind == kind)
			return &handlers[i];
	}
	return NULL;
}

const char *
pgo_kind_name(int kind)
{
	const struct pgo_handler *h = find_handler(kind);

	return h ? h->name : "unknown";
}

bool
pgo_decode(const uint8_t *buf, size_t len, bool in_stream, struct pgo_msg *msg,
		   struct pgs_error *err)
{
	const struct pgo_handler *h;
	struct pgo_cursor c;

	memset(msg, 0, sizeof(*msg));
	if (len == 0)
		return pgs_fail(err, "empty pgoutput message: expected a message type byte at offset 0");
	h = find_handler(buf[0]);
	if (h == NULL)
		return pgs_fail(err, "unknown pgoutput message type 0x%02x at offset 0", buf[0]);
	c = (struct pgo_cursor) {.buf = buf, .len = len, .pos = 1, .msgname = h->name, .err = err};
	msg->kind = (enum pgo_kind) h->kind;
	if (in_stream && h->xid_in_stream &&
		!pgo_read_u32(&c, "transaction id", &msg->stream_xid))
		goto fail;
	if (h->decode && !h->decode(&c, msg))
		goto fail;
	if (!pgo_read_end(&c))
		goto fail;
	return true;

fail:
	pgo_msg_free(msg);
	return false;
}

void
pgo_msg_free(struct pgo_msg *msg)
{
	switch (msg->kind) {
		case PGO_RELATION:
			free(msg->u.relation.cols);
			break;
		case PGO_INSERT:
		case PGO_UPDATE:
		case PGO_DELETE:
			free(msg->u.change.old.cols);
			free(msg->u.change.new.cols);
			break;
		case PGO_TRUNCATE:
			free(msg->u.truncate.relids);
			break;
		default:
			/* the other kinds own nothing */
			break;
	}
	memset(msg, 0, sizeof(*msg));
}

void
pgo_lsn_text(uint64_t lsn, char out[PGO_LSN_TEXT_SIZE])
{
	/* two 8-digit halves and a slash always fit */
	snprintf(out, PGO_LSN_TEXT_SIZE, "%" PRIX32 "/%" PRIX32, (uint32_t) (lsn >> 32),
			 (uint32_t) lsn);
}
