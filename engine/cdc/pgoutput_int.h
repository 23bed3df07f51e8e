/*
 * Inside the pgoutput decoder: a bounds-checked cursor over one message.
 * Every read checks the bytes left first and, when they are missing, fills
 * the error with the message type, what was being read, the offset and how
 * many bytes were left; no read ever goes past len.
 */
#ifndef PGSHIFT_CDC_PGOUTPUT_INT_H
#define PGSHIFT_CDC_PGOUTPUT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/pgoutput.h"
#include "util/error.h"

struct pgo_cursor {
	const uint8_t *buf;
	size_t len;
	size_t pos;                 /* next byte to read; never above len */
	const char *msgname;        /* "Insert": names the message in errors */
	struct pgs_error *err;
};

/* Fails unless n more bytes are left (n: a lower bound of what follows). */
bool pgo_need(struct pgo_cursor *c, const char *what, size_t n);
bool pgo_read_u8(struct pgo_cursor *c, const char *what, uint8_t *out);
bool pgo_read_u16(struct pgo_cursor *c, const char *what, uint16_t *out);
bool pgo_read_u32(struct pgo_cursor *c, const char *what, uint32_t *out);
bool pgo_read_u64(struct pgo_cursor *c, const char *what, uint64_t *out);
bool pgo_read_i64(struct pgo_cursor *c, const char *what, int64_t *out);
bool pgo_read_i32(struct pgo_cursor *c, const char *what, int32_t *out);
/* An int32 count or length that must not be negative. */
bool pgo_read_len(struct pgo_cursor *c, const char *what, uint32_t *out);
/* An int16 count that must not be negative. */
bool pgo_read_count16(struct pgo_cursor *c, const char *what, uint16_t *out);
/* n bytes, borrowed from the buffer. */
bool pgo_read_bytes(struct pgo_cursor *c, const char *what, size_t n, const uint8_t **out);
/* A NUL-terminated string, borrowed from the buffer. */
bool pgo_read_string(struct pgo_cursor *c, const char *what, const char **out);
/* Fails when bytes are left after the message's last field. */
bool pgo_read_end(struct pgo_cursor *c);

/* One decoder per message type; c->pos is just past the type byte (and the
 * streamed xid, which pgo_decode reads). */
bool pgo_decode_begin(struct pgo_cursor *c, struct pgo_msg *m);
bool pgo_decode_commit(struct pgo_cursor *c, struct pgo_msg *m);
bool pgo_decode_origin(struct pgo_cursor *c, struct pgo_msg *m);
bool pgo_decode_relation(struct pgo_cursor *c, struct pgo_msg *m);
bool pgo_decode_type(struct pgo_cursor *c, struct pgo_msg *m);
bool pgo_decode_insert(struct pgo_cursor *c, struct pgo_msg *m);
bool pgo_decode_update(struct pgo_cursor *c, struct pgo_msg *m);
bool pgo_decode_delete(struct pgo_cursor *c, struct pgo_msg *m);
bool pgo_decode_truncate(struct pgo_cursor *c, struct pgo_msg *m);
bool pgo_decode_message(struct pgo_cursor *c, struct pgo_msg *m);
bool pgo_decode_stream_start(struct pgo_cursor *c, struct pgo_msg *m);
bool pgo_decode_stream_commit(struct pgo_cursor *c, struct pgo_msg *m);
bool pgo_decode_stream_abort(struct pgo_cursor *c, struct pgo_msg *m);

#endif
