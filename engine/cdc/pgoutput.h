/*
 * A pure decoder of PostgreSQL's binary logical replication protocol as the
 * pgoutput plugin writes it (protocol versions 1 and 2, PostgreSQL 15): one
 * message body in (the payload of an XLogData message, or one `data` row of
 * pg_logical_slot_peek_binary_changes), one tagged struct or a protocol error
 * out. No libpq, no I/O, no global state.
 *
 * Values are never parsed: a column is its kind ('n' NULL, 'u' unchanged
 * TOAST, 't' text, 'b' binary) and the exact bytes the server sent, so the
 * applier can bind them as they are. The text "null" and the empty string
 * are values with bytes; only kind PGO_NULL is SQL NULL.
 *
 * Lifetime: a decoded message BORROWS its strings and value bytes from the
 * input buffer (strings are the NUL-terminated names inside it) and OWNS its
 * arrays (columns, tuple values, truncated relids). Keep the input alive and
 * unchanged until pgo_msg_free(); copy what must outlive it (the relation
 * cache keeps deep copies of Relation messages).
 */
#ifndef PGSHIFT_CDC_PGOUTPUT_H
#define PGSHIFT_CDC_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* The message type byte of each message, as pgoutput sends it. */
enum pgo_kind {
	PGO_BEGIN = 'B',
	PGO_COMMIT = 'C',
	PGO_ORIGIN = 'O',
	PGO_RELATION = 'R',
	PGO_TYPE = 'Y',
	PGO_INSERT = 'I',
	PGO_UPDATE = 'U',
	PGO_DELETE = 'D',
	PGO_TRUNCATE = 'T',
	PGO_MESSAGE = 'M',
	PGO_STREAM_START = 'S',
	PGO_STREAM_STOP = 'E',
	PGO_STREAM_COMMIT = 'c',
	PGO_STREAM_ABORT = 'A',
};

/* The kind byte before each column of a tuple. */
enum pgo_value_kind {
	PGO_VALUE_NULL = 'n',
	PGO_VALUE_UNCHANGED = 'u',  /* TOASTed and unchanged: the value is not sent */
	PGO_VALUE_TEXT = 't',
	PGO_VALUE_BINARY = 'b',     /* the type's send format (option binary 'true') */
};

struct pgo_value {
	enum pgo_value_kind kind;
	const uint8_t *data;        /* borrowed; NULL unless kind is TEXT or BINARY */
	uint32_t len;               /* 0 for an empty string, and for NULL/UNCHANGED */
};

struct pgo_tuple {
	uint16_t ncols;
	struct pgo_value *cols;     /* owned, ncols entries */
};

/* Relation column flag: the column is part of the replica identity key. */
#define PGO_COLUMN_KEY 0x01

struct pgo_column {
	uint8_t flags;              /* PGO_COLUMN_KEY or 0 */
	const char *name;           /* borrowed */
	uint32_t type_oid;
	int32_t typmod;             /* -1 when the type has none */
};

struct pgo_relation {
	uint32_t relid;
	const char *nspname;        /* borrowed; "" for pg_catalog */
	const char *relname;        /* borrowed */
	char replident;             /* 'd' default, 'n' nothing, 'f' full, 'i' index */
	uint16_t ncols;
	struct pgo_column *cols;    /* owned, ncols entries */
};

struct pgo_begin {
	uint64_t final_lsn;         /* LSN of the commit record */
	int64_t commit_time;        /* microseconds since 2000-01-01 00:00 UTC */
	uint32_t xid;
};

struct pgo_commit {
	uint8_t flags;              /* unused by PostgreSQL 15, always 0 */
	uint64_t commit_lsn;
	uint64_t end_lsn;           /* end of the commit record: what to confirm */
	int64_t commit_time;
};

struct pgo_origin {
	uint64_t lsn;               /* commit LSN on the origin server */
	const char *name;           /* borrowed */
};

struct pgo_type {
	uint32_t oid;
	const char *nspname;        /* borrowed */
	const char *name;           /* borrowed */
};

/*
 * Insert, Update and Delete share one shape. old_kind is 0 when no old
 * tuple was sent (Insert; an Update that kept the key), 'K' when the old
 * tuple holds only the replica identity columns (others are NULL), 'O' when
 * it is the whole old row (REPLICA IDENTITY FULL). Delete always has one.
 */
struct pgo_change {
	uint32_t relid;
	char old_kind;
	struct pgo_tuple old;       /* ncols 0 when old_kind is 0 */
	struct pgo_tuple new;       /* ncols 0 for Delete */
};

#define PGO_TRUNCATE_CASCADE 0x01
#define PGO_TRUNCATE_RESTART_IDENTITY 0x02

struct pgo_truncate {
	uint8_t options;            /* PGO_TRUNCATE_* bits */
	uint32_t nrelids;
	uint32_t *relids;           /* owned, nrelids entries */
};

/* Flag of a logical decoding message (pg_logical_emit_message). */
#define PGO_MESSAGE_TRANSACTIONAL 0x01

struct pgo_message {
	uint8_t flags;              /* PGO_MESSAGE_TRANSACTIONAL or 0 */
	uint64_t lsn;
	const char *prefix;         /* borrowed */
	const uint8_t *content;     /* borrowed, not NUL-terminated */
	uint32_t len;
};

struct pgo_stream_start {
	uint32_t xid;
	bool first_segment;
};

struct pgo_stream_commit {
	uint32_t xid;
	uint8_t flags;              /* unused by PostgreSQL 15, always 0 */
	uint64_t commit_lsn;
	uint64_t end_lsn;
	int64_t commit_time;
};

/* xid == subxid: the whole streamed transaction aborted. */
struct pgo_stream_abort {
	uint32_t xid;
	uint32_t subxid;
};

struct pgo_msg {
	enum pgo_kind kind;
	/*
	 * Inside a stream (protocol 2), the xid that Relation, Type, Insert,
	 * Update, Delete, Truncate and Message carry before their body: the
	 * (sub)transaction that made the change, which after a ROLLBACK TO
	 * SAVEPOINT is a subtransaction's, not the streamed top-level xid.
	 * 0 outside a stream.
	 */
	uint32_t stream_xid;
	union {
		struct pgo_begin begin;
		struct pgo_commit commit;
		struct pgo_origin origin;
		struct pgo_relation relation;
		struct pgo_type type;
		struct pgo_change change;       /* Insert, Update, Delete */
		struct pgo_truncate truncate;
		struct pgo_message message;
		struct pgo_stream_start stream_start;
		struct pgo_stream_commit stream_commit;
		struct pgo_stream_abort stream_abort;
	} u;
};

/*
 * Decodes one whole message: buf[0] is the type byte and the message must
 * end exactly at len. in_stream says a Stream Start was seen and its Stream
 * Stop not yet, so changes carry an xid. On success fills *msg (free it with
 * pgo_msg_free); on failure fills err with the message type, offset and what
 * was wrong, leaves *msg empty, and returns false.
 */
bool pgo_decode(const uint8_t *buf, size_t len, bool in_stream, struct pgo_msg *msg,
				struct pgs_error *err);

/* Frees what *msg owns (not the input buffer); safe on an empty message. */
void pgo_msg_free(struct pgo_msg *msg);

/* "Insert", "Stream Commit", ...; "unknown" for other bytes. */
const char *pgo_kind_name(int kind);

/* Formats an LSN as PostgreSQL does, "16/B374D848". */
#define PGO_LSN_TEXT_SIZE 18
void pgo_lsn_text(uint64_t lsn, char out[PGO_LSN_TEXT_SIZE]);

#endif
