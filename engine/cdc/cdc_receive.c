/*
 * The receiver thread (see cdc_receive.h): START_REPLICATION on its own
 * replication connection, then a loop in the manner of pg_recvlogical's
 * StreamLogicalLog: read CopyData without blocking, spool each pgoutput
 * message, write it out when the stream goes quiet and fdatasync it then
 * (at most every 20 ms; every 100 ms or 8 MB while it is busy), and tell the
 * server the durable LSN, never more. Between messages it waits on the socket with a timeout, so a status
 * update goes out at least every feedback_ms even when nothing arrives and a
 * stop request is seen within 100 ms.
 *
 * A lost connection (pg_error_is_connection: the walsender terminated, the
 * source restarted, the network dropped) does not end the thread: what was
 * received is made durable, and the stream starts again from the spool's
 * durable LSN after a CDC_REC_RESTART record, exactly as a new receiver
 * would, with backoff for at most reconnect_for.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "cdc/cdc_receive.h"
#include "cdc/cdc_receive_int.h"
#include "cdc/cdc_slot.h"
#include "cdc/pgoutput.h"
#include "cdc/spool.h"
#include "pg/conn.h"
#include "pg/retry.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"

/*
 * While the stream is busy the spool is fdatasynced every FLUSH_EVERY_US or
 * FLUSH_EVERY_BYTES, and when it pauses, at most every FLUSH_QUIET_US: an
 * fdatasync costs this VM milliseconds, during which nothing is read, and
 * one at every pause of a catch-up (every few milliseconds) left the
 * receiver syncing nine tenths of the time and the walsender waiting on a
 * full socket. What arrived is written out at every pause all the same, so
 * the applier, which reads the files, never waits for a sync.
 */
#define FLUSH_EVERY_US INT64_C(100000)
#define CONFIRM_EVERY_US INT64_C(1000000)
#define FLUSH_QUIET_US INT64_C(20000)
#define FLUSH_EVERY_BYTES ((size_t) 8 * 1024 * 1024)
#define POLL_MAX_MS 100
/*
 * After messages, once the socket is empty, the receiver sleeps GATHER_MS
 * before it waits on the socket again: a steady stream (the walsender
 * writes each source transaction as it decodes it) then arrives a few
 * milliseconds' worth at a time instead of waking the receiver, and costing
 * the walsender a wakeup, for each transaction: under pgbench -c 8 the two
 * exchanged 2,600 wakeups a second, and the walsender spent a third of its
 * CPU in the scheduler. A backlog, which keeps the socket full, never waits.
 */
#define GATHER_MS 2
#define STOP_DRAIN_US INT64_C(5000000)
#define DEFAULT_RECONNECT_FOR_MS INT64_C(10000)
/*
 * Each status update asks the walsender to answer (it sends a keepalive at
 * once): a stream silent this long is a dead network path, which TCP alone
 * would take many minutes to notice while our updates sit unacknowledged.
 */
#define SILENCE_US INT64_C(60000000)

struct cdc_receiver {
	/* set before the thread starts; read-only after */
	char *conninfo, *slot, *publication, *spool_dir;    /* owned */
	char *plan_file;            /* owned; may be NULL */
	char *resume;               /* owned; may be NULL: cdc_receiver_config.resume */
	char who[128];              /* "the CDC receiver of replication slot ...", for logs */
	uint64_t start_lsn;         /* where an empty spool starts */
	int feedback_ms;
	bool want_messages;         /* pgoutput option messages: logical decoding messages too */
	uint64_t (*applied_lsn)(void *arg);
	void *applied_arg;

	/* the thread's own once it runs */
	PGconn *conn;
	struct spool_writer *spool;
	struct cdc_position pos;
	struct pg_backoff backoff;
	bool dirty;                 /* records appended since the last spool_flush */
	bool written;               /* and written out since they were appended */
	bool gather;                /* XLogData read since the last wait on the socket */
	size_t unflushed;           /* their bytes */
	int64_t last_flush, last_feedback;  /* cdc_pg_now() */
	int64_t last_heard;         /* cdc_pg_now() of the last message from the server */

	pthread_t thread;
	bool started, joined;

	/* shared: atomics, read by status and progress on any thread */
	atomic_bool stop;
	atomic_bool running;
	atomic_bool failed;
	atomic_ullong received_lsn, durable_lsn, confirmed_lsn, bytes, messages;

	pthread_mutex_t error_lock; /* guards error */
	struct pgs_error error;
};

static void
lsn_text(uint64_t lsn, char out[PGO_LSN_TEXT_SIZE])
{
	pgo_lsn_text(lsn, out);
}

static void
atomic_max(atomic_ullong *a, uint64_t v)
{
	unsigned long long cur = atomic_load(a);

	while (cur < v && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

/* Adds "replication slot NAME at LSN" to the error, so every message names both. */
static bool
fail_at(struct cdc_receiver *r, struct pgs_error *err)
{
	char lsn[PGO_LSN_TEXT_SIZE];

	lsn_text(atomic_load(&r->received_lsn), lsn);
	pgs_error_prefix(err, "replication slot \"%s\" (received up to %s)", r->slot, lsn);
	return false;
}

static bool
fail_conn(struct cdc_receiver *r, const char *what, struct pgs_error *err)
{
	const char *why = PQerrorMessage(r->conn);
	size_t len = strlen(why);

	while (len > 0 && (why[len - 1] == '\n' || why[len - 1] == ' '))
		len--;
	pgs_fail(err, "%s: %.*s", what, (int) len, len ? why : "connection lost");
	/* every caller lost the stream itself (send, receive, socket): a reconnect may help */
	snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", PG_SQLSTATE_CONNECTION_LOST);
	return fail_at(r, err);
}

static bool
flush_spool(struct cdc_receiver *r, struct pgs_error *err)
{
	uint64_t durable = 0;

	if (!spool_flush(r->spool, &durable, err))
		return fail_at(r, err);
	atomic_max(&r->durable_lsn, durable);
	r->dirty = false;
	r->unflushed = 0;
	r->last_flush = cdc_pg_now();
	return true;
}

/* Status update: write = flush = the spool's durable LSN, never what is only received. */
static bool
send_feedback(struct cdc_receiver *r, bool reply, struct pgs_error *err)
{
	uint8_t msg[CDC_STATUS_UPDATE_SIZE];
	uint64_t durable = atomic_load(&r->durable_lsn);
	uint64_t applied = r->applied_lsn ? r->applied_lsn(r->applied_arg) : 0;
	int64_t now = cdc_pg_now();

	if (applied > durable)
		applied = durable;
	cdc_status_update(msg, durable, durable, applied, now, reply);
	if (PQputCopyData(r->conn, (const char *) msg, sizeof(msg)) <= 0 || PQflush(r->conn) != 0)
		return fail_conn(r, "could not send a status update", err);
	atomic_store(&r->confirmed_lsn, durable);
	r->last_feedback = now;
	return true;
}

static bool
append(struct cdc_receiver *r, uint8_t type, uint64_t lsn, const uint8_t *data, size_t len,
	   struct pgs_error *err)
{
	if (!spool_append(r->spool, type, lsn, data, len, err))
		return fail_at(r, err);
	r->dirty = true;
	r->written = false;
	r->unflushed += len;
	return true;
}

static bool
on_xlogdata(struct cdc_receiver *r, const struct cdc_copy_msg *m, struct pgs_error *err)
{
	struct pgo_msg msg;
	uint64_t lsn;
	bool ok;

	atomic_max(&r->received_lsn, m->wal_start > m->wal_end ? m->wal_start : m->wal_end);
	if (!pgo_decode(m->data, m->len, r->pos.in_stream, &msg, err)) {
		char at[PGO_LSN_TEXT_SIZE];

		lsn_text(m->wal_start, at);
		pgs_error_prefix(err, "could not decode the pgoutput message at %s", at);
		return fail_at(r, err);
	}
	lsn = cdc_position_message(&r->pos, &msg, m->wal_start);
	ok = append(r, (uint8_t) msg.kind, lsn, m->data, m->len, err);
	pgo_msg_free(&msg);
	if (ok) {
		atomic_fetch_add(&r->bytes, m->len);
		atomic_fetch_add(&r->messages, 1);
	}
	return ok;
}

static bool
on_keepalive(struct cdc_receiver *r, const struct cdc_copy_msg *m, struct pgs_error *err)
{
	atomic_max(&r->received_lsn, m->wal_end);
	if (cdc_position_keepalive(&r->pos, m->wal_end) &&
		!append(r, CDC_REC_KEEPALIVE, r->pos.lsn, NULL, 0, err))
		return false;
	if (!m->reply_requested)
		return true;
	/* the server is about to time us out: answer now, with what is durable now */
	if (r->dirty && !flush_spool(r, err))
		return false;
	return send_feedback(r, false, err);
}

static bool
on_copydata(struct cdc_receiver *r, const uint8_t *buf, size_t len, struct pgs_error *err)
{
	struct cdc_copy_msg m;

	r->last_heard = cdc_pg_now();
	if (!cdc_parse_copy(buf, len, &m, err))
		return fail_at(r, err);
	r->gather = r->gather || m.kind == 'w';
	if (m.kind == 'w')
		return on_xlogdata(r, &m, err);
	return on_keepalive(r, &m, err);
}

/* Due work while the stream is busy: a flush every 100 ms or 8 MB, feedback on time. */
static bool
periodic(struct cdc_receiver *r, struct pgs_error *err)
{
	int64_t now = cdc_pg_now();

	if (r->dirty && (r->unflushed >= FLUSH_EVERY_BYTES || now - r->last_flush >= FLUSH_EVERY_US) &&
		!flush_spool(r, err))
		return false;
	/* a stream that never pauses still releases the source's WAL every second, not every feedback_ms */
	if (now - r->last_feedback >= CONFIRM_EVERY_US && now - r->last_feedback < (int64_t) r->feedback_ms * 1000 &&
		!send_feedback(r, false, err))
		return false;
	if (now - r->last_heard > SILENCE_US) {
		pgs_fail(err, "the walsender sent nothing for %d s although asked to answer every "
				 "status update: the connection is taken as lost", (int) (SILENCE_US / 1000000));
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", PG_SQLSTATE_CONNECTION_LOST);
		return fail_at(r, err);
	}
	if (now - r->last_feedback >= (int64_t) r->feedback_ms * 1000)
		return send_feedback(r, true, err);
	return true;
}

/*
 * Nothing to read: write out what arrived (the applier reads it from the
 * files), make it durable and confirm it unless the last sync is too recent,
 * then sleep on the socket until data, the sync or status update due, or
 * the next look at the stop flag.
 */
static bool
idle(struct cdc_receiver *r, struct pgs_error *err)
{
	struct pollfd pfd = {PQsocket(r->conn), POLLIN, 0};
	int64_t until_feedback, until_sync = INT64_MAX;
	int timeout;

	if (r->dirty && !r->written) {
		if (!spool_write_out(r->spool, err))
			return fail_at(r, err);
		r->written = true;
	}
	if (r->dirty && cdc_pg_now() - r->last_flush >= FLUSH_QUIET_US && !flush_spool(r, err))
		return false;
	/* this sync's or periodic()'s: a stream that pauses more often than the syncs still moves */
	if (atomic_load(&r->durable_lsn) > atomic_load(&r->confirmed_lsn) &&
		!send_feedback(r, false, err))
		return false;
	if (r->dirty)
		until_sync = r->last_flush + FLUSH_QUIET_US - cdc_pg_now();
	until_feedback = r->last_feedback + (int64_t) r->feedback_ms * 1000 - cdc_pg_now();
	if (until_sync < until_feedback)
		until_feedback = until_sync;
	/* rounded up: a wait of 0 ms for a sync due in 0.5 ms would spin */
	timeout = until_feedback <= 0 ? 0 :
		(until_feedback + 999) / 1000 < POLL_MAX_MS ? (int) ((until_feedback + 999) / 1000) :
		POLL_MAX_MS;
	if (pfd.fd < 0)
		return fail_conn(r, "the replication connection has no socket", err);
	/* only once the socket is empty: a backlog's stream is read without a pause */
	if (r->gather && timeout > 0 && poll(&pfd, 1, 0) == 0) {
		clock_sleep_ms(GATHER_MS);
		timeout = timeout > GATHER_MS ? timeout - GATHER_MS : 0;
	}
	r->gather = false;
	if (poll(&pfd, 1, timeout) < 0 && errno != EINTR) {
		pgs_fail(err, "could not wait on the replication connection: %m");
		return fail_at(r, err);
	}
	if (!PQconsumeInput(r->conn))
		return fail_conn(r, "could not receive data from the replication stream", err);
	return true;
}

/* PQgetCopyData said -1: the server ended the COPY; its result says why. */
static bool
stream_ended(struct cdc_receiver *r, struct pgs_error *err)
{
	PGresult *res = PQgetResult(r->conn);

	if (PQresultStatus(res) == PGRES_FATAL_ERROR)
		pg_fail_result(err, res, "the server ended the replication stream");
	else
		pgs_fail(err, "the server ended the replication stream unexpectedly");
	PQclear(res);
	/* no SQLSTATE of the server's: the stream simply ended, which a new one mends */
	if (!err->sqlstate[0])
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", PG_SQLSTATE_CONNECTION_LOST);
	return fail_at(r, err);
}

static bool
stream_loop(struct cdc_receiver *r, struct pgs_error *err)
{
	while (!atomic_load(&r->stop)) {
		char *buf = NULL;
		int n;
		bool ok;

		if (!periodic(r, err))
			return false;
		n = PQgetCopyData(r->conn, &buf, 1);
		if (n == 0) {
			if (!idle(r, err))
				return false;
			continue;
		}
		if (n == -1)
			return stream_ended(r, err);
		if (n < 0)
			return fail_conn(r, "could not read from the replication stream", err);
		ok = on_copydata(r, (const uint8_t *) buf, (size_t) n, err);
		PQfreemem(buf);
		if (!ok)
			return false;
	}
	return true;
}

/*
 * Ends the COPY politely (CopyDone, then whatever the server still sends,
 * for at most 5 s, discarded: it is not confirmed and will be sent again).
 */
static void
end_copy(struct cdc_receiver *r)
{
	int64_t deadline = cdc_pg_now() + STOP_DRAIN_US;
	PGresult *res;

	if (PQputCopyEnd(r->conn, NULL) <= 0 || PQflush(r->conn) != 0)
		return;
	while (cdc_pg_now() < deadline) {
		char *buf = NULL;
		int n = PQgetCopyData(r->conn, &buf, 1);
		struct pollfd pfd = {PQsocket(r->conn), POLLIN, 0};

		if (n > 0) {
			PQfreemem(buf);
			continue;
		}
		if (n < 0)
			break;
		if (poll(&pfd, 1, POLL_MAX_MS) < 0 || !PQconsumeInput(r->conn))
			return;
	}
	while ((res = PQgetResult(r->conn)) != NULL)
		PQclear(res);
}

static void
set_error(struct cdc_receiver *r, const struct pgs_error *err)
{
	pthread_mutex_lock(&r->error_lock);
	r->error = *err;
	pthread_mutex_unlock(&r->error_lock);
	atomic_store(&r->failed, true);
}

/* Slot facts checked before streaming; the walsender runs simple-protocol SQL. */
static bool
read_slot(struct cdc_receiver *r, uint64_t *confirmed, struct pgs_error *err)
{
	/* a replication session takes no bound parameters: the name is quoted */
	char *lit = PQescapeLiteral(r->conn, r->slot, strlen(r->slot));
	char *sql;
	PGresult *res;
	bool ok = false;

	*confirmed = 0;
	if (!lit)
		return pgs_fail(err, "could not quote replication slot name \"%s\": %s", r->slot,
						PQerrorMessage(r->conn));
	sql = xasprintf("SELECT plugin, confirmed_flush_lsn FROM pg_catalog.pg_replication_slots"
					" WHERE slot_name = %s AND slot_type = 'logical'", lit);
	res = PQexec(r->conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_fail_result(err, res, "could not read pg_replication_slots");
	} else if (PQntuples(res) != 1) {
		pgs_fail(err, "logical replication slot \"%s\" does not exist", r->slot);
		if (r->resume)
			pgs_error_hint(err, "the cutover's rollback.slot step created it; dropped (by "
						   "cleanup --force, reset --force or by hand), %s cannot resume: the "
						   "changes made since the cutover must be carried back by hand",
						   r->resume);
		else
			pgs_error_hint(err, "the snapshot step creates it; run apply again from the start");
	} else if (strcmp(PQgetvalue(res, 0, 0), "pgoutput") != 0) {
		pgs_fail(err, "replication slot \"%s\" uses plugin %s, not pgoutput", r->slot,
				 PQgetvalue(res, 0, 0));
	} else {
		ok = PQgetisnull(res, 0, 1) || cdc_lsn_parse(PQgetvalue(res, 0, 1), confirmed);
		if (!ok)
			pgs_fail(err, "replication slot \"%s\" has confirmed_flush_lsn \"%s\"", r->slot,
					 PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	free(sql);
	PQfreemem(lit);
	return ok;
}

/*
 * Where to start: the spool's durable LSN, or start_lsn for a new spool.
 * The slot must not have confirmed more than the spool holds (a torn or
 * lost spool), or changes the source has released are gone.
 */
static bool
start_position(struct cdc_receiver *r, uint64_t start_lsn, uint64_t confirmed, uint64_t *pos,
			   struct pgs_error *err)
{
	uint64_t durable = spool_durable_lsn(r->spool);
	char a[PGO_LSN_TEXT_SIZE], b[PGO_LSN_TEXT_SIZE];

	*pos = durable ? durable : start_lsn;
	if (*pos == 0 || *pos >= confirmed)
		return true;
	lsn_text(*pos, a);
	lsn_text(confirmed, b);
	pgs_fail(err, "the spool in \"%s\" ends at %s but replication slot \"%s\" confirmed %s",
			 r->spool_dir, a, r->slot, b);
	pgs_error_detail(err, "changes between the two were released by the source and are lost");
	if (r->resume)
		pgs_error_hint(err, "%s cannot resume: the changes between the two must be carried "
					   "back by hand", r->resume);
	else
		pgs_error_hint(err, "start the migration over: pgshift reset, then apply");
	return false;
}

/* NULL with err filled when a name cannot be quoted (invalid in the connection's encoding). */
static char *
start_sql(struct cdc_receiver *r, uint64_t pos, struct pgs_error *err)
{
	char *qslot = pg_quote_ident(r->conn, r->slot);
	/* publication_names is a list of identifiers inside a string literal */
	char *qpub = pg_quote_ident(r->conn, r->publication);
	char *lit = PQescapeLiteral(r->conn, qpub, strlen(qpub));
	char *sql = NULL;

	if (lit)
		sql = xasprintf("START_REPLICATION SLOT %s LOGICAL %X/%X (proto_version '2', "
						"streaming 'on', publication_names %s, binary 'false', messages '%s')",
						qslot, (unsigned) (pos >> 32), (unsigned) pos, lit,
						r->want_messages ? "true" : "false");
	else
		pgs_fail(err, "could not quote publication name \"%s\": %s", r->publication,
				 PQerrorMessage(r->conn));
	PQfreemem(lit);
	free(qpub);
	free(qslot);
	return sql;
}

static bool
start_streaming(struct cdc_receiver *r, uint64_t pos, struct pgs_error *err)
{
	char *sql = start_sql(r, pos, err);
	PGresult *res;
	bool ok;
	char at[PGO_LSN_TEXT_SIZE];

	if (!sql)
		return false;
	res = PQexec(r->conn, sql);
	ok = PQresultStatus(res) == PGRES_COPY_BOTH;
	if (!ok) {
		lsn_text(pos, at);
		pg_fail_result(err, res, "START_REPLICATION failed");
		pg_error_mark_lost(err, r->conn);
		pgs_error_prefix(err, "could not stream from replication slot \"%s\" at %s", r->slot, at);
	}
	PQclear(res);
	free(sql);
	return ok;
}

/*
 * Connection, slot check, START_REPLICATION, then the restart record (no
 * data of the new stream has been read yet): the first start and every
 * reconnect alike.
 */
static bool
connect_and_start(struct cdc_receiver *r, struct pgs_error *err)
{
	struct pg_session s = {"source", "pgshift cdc.stream", false, true, false, false};
	uint64_t confirmed, pos, durable;

	r->conn = pg_connect(r->conninfo, &s, err);
	if (!r->conn || !read_slot(r, &confirmed, err) ||
		!start_position(r, r->start_lsn, confirmed, &pos, err) || !start_streaming(r, pos, err))
		return false;
	durable = spool_durable_lsn(r->spool);
	r->pos = (struct cdc_position) {.lsn = durable > pos ? durable : pos};
	/* tells the applier that whatever is still open will come again, whole */
	if (!append(r, CDC_REC_RESTART, r->pos.lsn, NULL, 0, err) || !flush_spool(r, err))
		return false;
	atomic_max(&r->received_lsn, pos);
	r->last_feedback = r->last_flush = r->last_heard = cdc_pg_now();
	return true;
}

/*
 * After a crash the dead receiver's walsender keeps the slot active until
 * the server notices its client is gone (SQLSTATE 55006, "replication slot
 * ... is active for PID"): that is waited out with backoff, at the first
 * start too (a resume right after a kill -9). A lost connection is retried
 * only once the receiver has run (reconnecting): a source unreachable at
 * the first start fails it. Other errors are final.
 */
static bool
start_with_retries(struct cdc_receiver *r, bool reconnecting, struct pgs_error *err)
{
	for (;;) {
		/* a fresh error each attempt: no SQLSTATE of the last one may linger */
		pgs_error_clear(err);
		if (connect_and_start(r, err)) {
			pg_backoff_done(&r->backoff);
			return true;
		}
		PQfinish(r->conn);
		r->conn = NULL;
		if (strcmp(err->sqlstate, "55006") != 0 && !(reconnecting && pg_error_is_connection(err)))
			return false;
		if (!pg_backoff_wait(&r->backoff, err, &r->stop, err))
			return false;
	}
}

/*
 * The stream was lost: what arrived is good, so it is made durable first;
 * then the stream starts again from the spool's durable LSN.
 */
static bool
reconnect(struct cdc_receiver *r, struct pgs_error *err)
{
	if (r->dirty && !flush_spool(r, err))
		return false;
	PQfinish(r->conn);
	r->conn = NULL;
	return pg_backoff_wait(&r->backoff, err, &r->stop, err) && start_with_retries(r, true, err);
}

static void *
receiver_main(void *arg)
{
	struct cdc_receiver *r = arg;
	struct pgs_error err;
	bool ok;

	log_set_context("cdc.stream", NULL);
	pgs_error_clear(&err);
	while (!(ok = stream_loop(r, &err)) && !atomic_load(&r->stop) &&
		   pg_error_is_connection(&err) && reconnect(r, &err))
		pgs_error_clear(&err);
	/* on an error too: what was received is good, make it durable and say so */
	if (r->spool && r->dirty && !flush_spool(r, ok ? &err : &(struct pgs_error) {0}))
		ok = false;
	if (ok && PQstatus(r->conn) == CONNECTION_OK && send_feedback(r, false, &err))
		end_copy(r);
	if (!ok)
		set_error(r, &err);
	PQfinish(r->conn);
	r->conn = NULL;
	spool_close(r->spool);
	r->spool = NULL;
	atomic_store(&r->running, false);
	return NULL;
}

/* The spool, then the stream (waiting out a busy slot). */
static bool
prepare(struct cdc_receiver *r, const struct cdc_receiver_config *cfg, struct pgs_error *err)
{
	return spool_open_writer(r->spool_dir, cfg->segment_size, &r->spool, err) &&
		start_with_retries(r, false, err);
}

static struct cdc_receiver *
receiver_new(const struct cdc_receiver_config *cfg)
{
	struct cdc_receiver *r = xcalloc(1, sizeof(*r));

	r->conninfo = xstrdup(cfg->conninfo);
	r->slot = xstrdup(cfg->slot);
	r->publication = xstrdup(cfg->publication);
	r->spool_dir = xstrdup(cfg->spool_dir);
	r->plan_file = cfg->plan_file ? xstrdup(cfg->plan_file) : NULL;
	r->resume = cfg->resume ? xstrdup(cfg->resume) : NULL;
	r->start_lsn = cfg->start_lsn;
	r->want_messages = cfg->messages;
	snprintf(r->who, sizeof(r->who), "the CDC receiver of replication slot \"%s\"", cfg->slot);
	pg_backoff_init(&r->backoff, r->who, r->plan_file,
					cfg->reconnect_for_ms > 0 ? cfg->reconnect_for_ms : DEFAULT_RECONNECT_FOR_MS);
	pg_backoff_resume(&r->backoff, r->resume);
	r->feedback_ms = cfg->feedback_ms > 0 ? cfg->feedback_ms : 10000;
	r->applied_lsn = cfg->applied_lsn;
	r->applied_arg = cfg->applied_arg;
	pthread_mutex_init(&r->error_lock, NULL);
	pgs_error_clear(&r->error);
	return r;
}

bool
cdc_receiver_start(const struct cdc_receiver_config *cfg, struct cdc_receiver **out,
				   struct pgs_error *err)
{
	struct cdc_receiver *r = receiver_new(cfg);

	*out = NULL;
	if (!prepare(r, cfg, err))
		goto fail;
	atomic_store(&r->running, true);
	if (pthread_create(&r->thread, NULL, receiver_main, r) != 0) {
		atomic_store(&r->running, false);
		pgs_fail(err, "could not start the receiver thread of replication slot \"%s\"", r->slot);
		goto fail;
	}
	r->started = true;
	*out = r;
	return true;

fail:
	PQfinish(r->conn);
	r->conn = NULL;
	spool_close(r->spool);
	r->spool = NULL;
	cdc_receiver_free(r);
	return false;
}

void
cdc_receiver_stats(struct cdc_receiver *r, struct cdc_receiver_stats *out)
{
	out->received_lsn = atomic_load(&r->received_lsn);
	out->durable_lsn = atomic_load(&r->durable_lsn);
	out->confirmed_lsn = atomic_load(&r->confirmed_lsn);
	out->bytes = atomic_load(&r->bytes);
	out->messages = atomic_load(&r->messages);
	out->running = atomic_load(&r->running);
	out->failed = atomic_load(&r->failed);
}

bool
cdc_receiver_error(struct cdc_receiver *r, struct pgs_error *err)
{
	if (!atomic_load(&r->failed))
		return false;
	pthread_mutex_lock(&r->error_lock);
	*err = r->error;
	pthread_mutex_unlock(&r->error_lock);
	return true;
}

bool
cdc_receiver_stop(struct cdc_receiver *r, struct pgs_error *err)
{
	atomic_store(&r->stop, true);
	if (r->started && !r->joined) {
		pthread_join(r->thread, NULL);
		r->joined = true;
	}
	return !cdc_receiver_error(r, err);
}

void
cdc_receiver_free(struct cdc_receiver *r)
{
	struct pgs_error ignored;

	if (!r)
		return;
	cdc_receiver_stop(r, &ignored);
	pthread_mutex_destroy(&r->error_lock);
	free(r->conninfo);
	free(r->slot);
	free(r->publication);
	free(r->spool_dir);
	free(r->plan_file);
	free(r->resume);
	free(r);
}
