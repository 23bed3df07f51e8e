/*
 * The CDC receiver (step cdc.stream): one thread with its own replication
 * connection streams the slot's pgoutput messages into the spool and
 * confirms to the source only what the spool has fdatasynced (STYLE habit
 * 7), so WAL is released during a long copy and nothing confirmed can be
 * lost. Shaped like PostgreSQL's pg_recvlogical streaming loop.
 *
 * What goes into the spool. Each pgoutput message becomes one record: type
 * = the message's type byte ('B', 'I', 'S', ...), payload = the whole
 * message body, ready for pgo_decode. Two record types are pgshift's own:
 *   CDC_REC_KEEPALIVE  empty; the source has sent every change before lsn
 *                      and no transaction is open (an idle source moves on)
 *   CDC_REC_RESTART    empty; written each time the receiver starts: any
 *                      transaction (or streamed transaction) begun before it
 *                      and not committed will be sent again from its start,
 *                      so the applier discards what it holds of it.
 * A record's lsn is the highest position the stream has reached when the
 * record arrived (data positions, commit end LSNs, keepalive ends): it never
 * decreases, as the spool requires, although pgoutput's own positions do
 * (a Begin carries the transaction's first LSN, earlier than the commit of
 * the transaction before it).
 *
 * Restart without loss or repeat. The receiver confirms D = the spool's
 * durable LSN and restarts at START_REPLICATION ... D. The server then skips
 * exactly the transactions whose commit record starts before D. Every
 * transaction whose Commit is in the spool has its commit end <= D (records
 * never decrease), so it is skipped: no committed transaction twice. Every
 * transaction not wholly in the spool commits after everything received, so
 * after D: it is sent again, whole, after the CDC_REC_RESTART record.
 *
 * For the applier: a reader reopened at the applied LSN A may first see the
 * tail of the transaction that ended at A (skip up to the next Begin), and
 * must not miss chunks of a streamed transaction sent BEFORE A that commits
 * after it: an applier resumes (and GCs the spool) at the lsn of the first
 * record it still needs, which is the first chunk of the oldest streamed
 * transaction still open, when there is one.
 *
 * Values are requested in text (binary 'false'): the applier binds them as
 * text parameters, which the target parses with its own input functions.
 * The binary send format embeds type OIDs (arrays, records, enums) that
 * differ between source and target, and types without send/receive
 * functions cannot be sent in binary at all.
 */
#ifndef PGSHIFT_CDC_CDC_RECEIVE_H
#define PGSHIFT_CDC_CDC_RECEIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define CDC_REC_KEEPALIVE 'k'
#define CDC_REC_RESTART 'x'

struct cdc_receiver_config {
	const char *conninfo;       /* the source; a replication=database connection is opened */
	const char *slot;
	const char *publication;
	const char *spool_dir;
	size_t segment_size;        /* 0: SPOOL_DEFAULT_SEGMENT_SIZE */
	/*
	 * Where a new (empty) spool starts: the slot's consistent point from
	 * cdc_create_slot. A non-empty spool resumes at its durable LSN.
	 */
	uint64_t start_lsn;
	int feedback_ms;            /* status update interval; 0: 10000 (wal_sender_timeout 60 s) */
	/*
	 * Ask pgoutput for logical decoding messages too (option messages): the
	 * 'pgshift.ddl' ones of cdc.ddl: replicate, spooled in commit order.
	 */
	bool messages;
	/*
	 * A lost connection (walsender ended, source restarted, network drop)
	 * or a slot still active for a dead walsender is retried with backoff
	 * for this long (0: 10 s), continuing from the spool's durable LSN.
	 */
	int64_t reconnect_for_ms;
	const char *plan_file;      /* named in the resume hint when that gives up; may be NULL */
	/*
	 * The command that resumes this stream, in hints, when it is not
	 * `pgshift apply PLAN` (the reverse stream's); NULL for the forward one.
	 */
	const char *resume;
	/* The applied LSN to report as "apply" (NULL: 0). Called on the receiver's thread. */
	uint64_t (*applied_lsn)(void *arg);
	void *applied_arg;
};

/* A consistent-enough copy of the counters, for status and progress. */
struct cdc_receiver_stats {
	uint64_t received_lsn;      /* highest position received from the server */
	uint64_t durable_lsn;       /* highest position fdatasynced in the spool */
	uint64_t confirmed_lsn;     /* flush position last sent to the server */
	uint64_t bytes;             /* pgoutput bytes received */
	uint64_t messages;          /* pgoutput messages spooled */
	bool running;               /* the thread has not ended */
	bool failed;                /* it ended on an error: see cdc_receiver_error */
};

struct cdc_receiver;

/*
 * Opens the spool, connects, checks the slot (it exists; the spool holds
 * everything the slot confirmed), starts streaming and the thread. Errors
 * of any of these come back here, naming the slot; only a slot still active
 * for a dead walsender (55006) is waited out, within reconnect_for. Once
 * the thread runs, it reconnects by itself after a lost connection.
 */
bool cdc_receiver_start(const struct cdc_receiver_config *cfg, struct cdc_receiver **out,
						struct pgs_error *err);

/* Any thread, any time before cdc_receiver_free. */
void cdc_receiver_stats(struct cdc_receiver *r, struct cdc_receiver_stats *out);

/* Copies the error the thread ended with; false when it has not failed. */
bool cdc_receiver_error(struct cdc_receiver *r, struct pgs_error *err);

/*
 * Asks the thread to stop, and waits: it flushes the spool, confirms the
 * durable LSN, ends the COPY and closes its connection. Returns false with
 * the thread's error when it had failed (or the final flush failed).
 */
bool cdc_receiver_stop(struct cdc_receiver *r, struct pgs_error *err);

/* Frees a stopped receiver; stops it first when needed. NULL is ignored. */
void cdc_receiver_free(struct cdc_receiver *r);

/* Microseconds since 2000-01-01 00:00 UTC: the protocol's clock, and commit times'. */
int64_t cdc_pg_now(void);

#endif
