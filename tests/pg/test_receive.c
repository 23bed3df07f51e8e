/*
 * Publication, slot and receiver on a real source prepared by
 * tests/integration/receive.t (tables t, big, crash, events with two leaves,
 * skipped; ten rows in t; logical_decoding_work_mem = 64kB so big
 * transactions are streamed). In order:
 *   - the publication lists exactly the copied tables (leaves, not the
 *     partitioned root, not excluded ones), idempotently; a same-named one
 *     with other tables is refused;
 *   - the slot's exported snapshot sees the rows before the slot only;
 *   - the receiver spools DML of every kind (a 200k-row streamed
 *     transaction, 3000 small ones), the slot's confirmed_flush_lsn moves
 *     while it runs and never passes the spool's durable LSN, and the spool,
 *     decoded back with pgo_decode, holds exactly the messages written;
 *   - a receiver killed with SIGKILL in the middle of a streamed
 *     transaction and started again loses no committed transaction and
 *     repeats none (replayed as an applier would: see cdc_receive.h);
 *   - slot and publication drop twice, the slot while a receiver streams.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pgtest.h"
#include "tap.h"
#include "cdc/cdc_receive.h"
#include "cdc/cdc_slot.h"
#include "cdc/pgoutput.h"
#include "cdc/relcache.h"
#include "cdc/spool.h"
#include "pg/catalog.h"
#include "pg/conn.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define SMALL_TXNS 3000
#define BIG_ROWS 200000
#define CRASH_SMALL 1000
#define CRASH_BIG 100000
#define CRASH_IDS (CRASH_SMALL + CRASH_BIG + 1)

static const char plan_text[] =
	"version: 1\n"
	"name: receive_test\n"
	"source: { uri: \"${SOURCE_URI}\" }\n"
	"target: { uri: \"${TARGET_URI}\" }\n"
	"filters:\n"
	"  exclude_tables: [public.skipped]\n"
	"cdc:\n"
	"  slot: pgshift_recv\n"
	"  publication: pgshift_recv\n"
	"  spool_dir: ${SPOOL_DIR}\n";

static struct plan *plan;
static PGconn *src;

static uint64_t
lsn_of(const char *sql)
{
	char *v = pgtest_value(src, sql);
	uint64_t lsn = 0;

	if (!cdc_lsn_parse(v, &lsn))
		printf("# not an LSN: %s\n", v);
	free(v);
	return lsn;
}

static uint64_t
confirmed_flush(void)
{
	return lsn_of("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'pgshift_recv'");
}

/* ---- publication ---- */

static void
test_publication(const struct catalog *cat)
{
	struct pgs_error err;
	char *tables;
	char *saved = plan->cdc.publication;

	pgs_error_clear(&err);
	ok(cdc_create_publication(src, plan, cat, &err), "publication created");
	ok(cdc_create_publication(src, plan, cat, &err), "creating it again is accepted");
	tables = pgtest_value(src, "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY tablename)"
				   " FROM pg_publication_tables WHERE pubname = 'pgshift_recv'");
	is_str(tables, "public.big,public.crash,public.ev_a,public.ev_b,public.t",
		   "it publishes the copied tables: leaves, not the root, not the excluded one");
	free(tables);
	tables = pgtest_value(src, "SELECT pubviaroot::text FROM pg_publication WHERE pubname = 'pgshift_recv'");
	is_str(tables, "false", "publish_via_partition_root is off");
	free(tables);

	pgtest_exec(src, "CREATE PUBLICATION \"other pub\" FOR TABLE public.t");
	plan->cdc.publication = "other pub";
	ok(!cdc_create_publication(src, plan, cat, &err) &&
	   strstr(err.message, "publication \"other pub\" exists with another table set"),
	   "a same-named publication with other tables is refused");
	printf("# %s\n", err.message);
	plan->cdc.publication = saved;
	ok(cdc_drop_publication(src, "other pub", NULL, &err), "dropped the other publication");
}

/* ---- slot and snapshot ---- */

static PGconn *
repl_connect(void)
{
	struct pg_session s = {"source", "pgshift test repl", false, true, false, false};
	struct pgs_error err;
	PGconn *conn;

	pgs_error_clear(&err);
	conn = pg_connect(plan->source_uri, &s, &err);
	if (!conn)
		printf("# %s\n", err.message);
	return conn;
}

static void
test_snapshot(const char *snapshot)
{
	PGconn *other = pgtest_connect(plan->source_uri, "source", true);
	char *sql = xasprintf("SET TRANSACTION SNAPSHOT '%s'", snapshot);
	PGresult *res;

	pgtest_exec(src, "INSERT INTO public.t VALUES (11, 'after the slot')");
	ok(pgtest_exec(other, "BEGIN ISOLATION LEVEL REPEATABLE READ") && pgtest_exec(other, sql),
	   "another session imports the slot's snapshot");
	res = PQexec(other, "SELECT count(*), max(id) FROM public.t");
	is_str(PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0) : "?", "10",
		   "the snapshot sees the ten rows from before the slot only");
	PQclear(res);
	pgtest_exec(other, "COMMIT");
	res = PQexec(other, "SELECT count(*) FROM public.t");
	is_str(PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0) : "?", "11",
		   "outside it the new row is visible");
	PQclear(res);
	free(sql);
	PQfinish(other);
}

static uint64_t
create_slot(void)
{
	PGconn *repl = repl_connect();
	struct pgs_error err;
	char *snapshot = NULL;
	uint64_t lsn = 0, again = 0;

	pgs_error_clear(&err);
	ok(repl && cdc_create_slot(repl, "pgshift_recv", &snapshot, &lsn, &err),
	   "slot created with an exported snapshot");
	if (!snapshot) {
		printf("# %s\n", err.message);
		PQfinish(repl);
		return 0;
	}
	ok(lsn > 0, "the slot has a consistent point");
	test_snapshot(snapshot);
	free(snapshot);
	PQfinish(repl);
	repl = repl_connect();
	ok(!cdc_create_slot(repl, "pgshift_recv", &snapshot, &again, &err) &&
	   strcmp(err.sqlstate, "42710") == 0 && strstr(err.hint, "pgshift cleanup"),
	   "a second slot of that name is refused with a hint");
	printf("# %s\n", err.message);
	PQfinish(repl);
	return lsn;
}

/* ---- reading the spool back as an applier would ---- */

struct xact {
	uint32_t xid;               /* 0 for the open non-streamed transaction */
	long *ids;                  /* ids inserted into "crash" */
	size_t n, cap;
};

struct replay {
	long counts[256];           /* spool records by type */
	long inserts_by_table[8];   /* t, big, crash, ev_a, ev_b, other */
	long pre_slot_rows;         /* inserts into t with id <= 10: must be none */
	long bad, nonmonotonic;
	uint64_t last_lsn;
	struct xact open;           /* the non-streamed transaction */
	struct xact streams[16];    /* open streamed transactions */
	size_t nstreams;
	uint32_t current_stream;    /* xid between Stream Start and Stream Stop */
	unsigned char *committed;   /* per crash id: times committed */
	struct pgo_relcache *rc;
};

static int
table_index(const char *name)
{
	static const char *const names[] = {"t", "big", "crash", "ev_a", "ev_b"};

	for (int i = 0; i < 5; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return 5;
}

static struct xact *
stream_xact(struct replay *rp, uint32_t xid)
{
	for (size_t i = 0; i < rp->nstreams; i++)
		if (rp->streams[i].xid == xid)
			return &rp->streams[i];
	if (rp->nstreams == 16)
		return NULL;
	rp->streams[rp->nstreams] = (struct xact) {xid, NULL, 0, 0};
	return &rp->streams[rp->nstreams++];
}

static void
xact_add(struct xact *x, long id)
{
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 64;
		x->ids = xrealloc(x->ids, x->cap * sizeof(long));
	}
	x->ids[x->n++] = id;
}

static void
xact_commit(struct replay *rp, struct xact *x)
{
	for (size_t i = 0; i < x->n; i++)
		if (x->ids[i] >= 1 && x->ids[i] <= CRASH_IDS && rp->committed[x->ids[i]] < 255)
			rp->committed[x->ids[i]]++;
	x->n = 0;
}

static void
drop_stream(struct replay *rp, uint32_t xid)
{
	for (size_t i = 0; i < rp->nstreams; i++) {
		if (rp->streams[i].xid != xid)
			continue;
		free(rp->streams[i].ids);
		rp->streams[i] = rp->streams[--rp->nstreams];
		return;
	}
}

/* A restart: whatever is not committed will come again from its start. */
static void
discard_open(struct replay *rp)
{
	rp->open.n = 0;
	while (rp->nstreams > 0)
		drop_stream(rp, rp->streams[0].xid);
}

/* Value bytes are not NUL-terminated: the next record's bytes follow them. */
static long
text_to_long(const struct pgo_value *v)
{
	char digits[24];

	if (v->len == 0 || v->len >= sizeof(digits))
		return -1;
	memcpy(digits, v->data, v->len);
	digits[v->len] = '\0';
	return strtol(digits, NULL, 10);
}

static void
on_insert(struct replay *rp, const struct pgo_msg *m)
{
	const struct pgo_relation *rel = pgo_relcache_get(rp->rc, m->u.change.relid);
	const struct pgo_value *v0 = m->u.change.new.ncols ? &m->u.change.new.cols[0] : NULL;
	long id = v0 && v0->kind == PGO_VALUE_TEXT ? text_to_long(v0) : -1;
	int t = rel ? table_index(rel->relname) : 5;
	struct xact *x = m->stream_xid ? stream_xact(rp, rp->current_stream) : &rp->open;

	rp->inserts_by_table[t]++;
	if (t == 0 && id <= 10)
		rp->pre_slot_rows++;
	if (t == 2 && x)
		xact_add(x, id);
}

static void
replay_msg(struct replay *rp, const struct pgo_msg *m)
{
	bool changed;

	switch (m->kind) {
		case PGO_RELATION:
			pgo_relcache_put(rp->rc, &m->u.relation, &changed);
			break;
		case PGO_INSERT:
			on_insert(rp, m);
			break;
		case PGO_BEGIN:
			rp->open.n = 0;
			break;
		case PGO_COMMIT:
			xact_commit(rp, &rp->open);
			break;
		case PGO_STREAM_START:
			rp->current_stream = m->u.stream_start.xid;
			break;
		case PGO_STREAM_COMMIT:
			if (stream_xact(rp, m->u.stream_commit.xid))
				xact_commit(rp, stream_xact(rp, m->u.stream_commit.xid));
			drop_stream(rp, m->u.stream_commit.xid);
			break;
		case PGO_STREAM_ABORT:
			drop_stream(rp, m->u.stream_abort.xid);
			break;
		default:
			break;
	}
}

static void
replay_record(struct replay *rp, const struct spool_record *rec, bool *in_stream)
{
	struct pgo_msg m;
	struct pgs_error err;

	rp->counts[rec->type]++;
	if (getenv("DUMP_SPOOL") && rec->type != 'I')
		printf("# rec %c %X/%X len %u\n", rec->type, (unsigned) (rec->lsn >> 32), (unsigned) rec->lsn, rec->len);
	if (rec->lsn < rp->last_lsn)
		rp->nonmonotonic++;
	rp->last_lsn = rec->lsn;
	if (rec->type == CDC_REC_RESTART) {
		discard_open(rp);
		*in_stream = false;
		return;
	}
	if (rec->type == CDC_REC_KEEPALIVE)
		return;
	pgs_error_clear(&err);
	if (!pgo_decode(rec->payload, rec->len, *in_stream, &m, &err)) {
		if (rp->bad++ == 0)
			printf("# %s\n", err.message);
		return;
	}
	if (m.kind == PGO_STREAM_START)
		*in_stream = true;
	else if (m.kind == PGO_STREAM_STOP)
		*in_stream = false;
	replay_msg(rp, &m);
	pgo_msg_free(&m);
}

static bool
replay_spool(struct replay *rp)
{
	struct spool_reader *r;
	struct spool_record rec;
	struct pgs_error err;
	bool in_stream = false;
	int got;

	memset(rp, 0, sizeof(*rp));
	rp->committed = xcalloc(CRASH_IDS + 1, 1);
	rp->rc = pgo_relcache_new();
	pgs_error_clear(&err);
	if (!spool_open_reader(getenv("SPOOL_DIR"), 0, &r, &err)) {
		printf("# %s\n", err.message);
		return false;
	}
	while ((got = spool_next(r, &rec, &err)) == 1)
		replay_record(rp, &rec, &in_stream);
	if (got < 0)
		printf("# %s\n", err.message);
	spool_close_reader(r);
	return got == 0;
}

static void
replay_free(struct replay *rp)
{
	discard_open(rp);
	free(rp->open.ids);
	free(rp->committed);
	pgo_relcache_free(rp->rc);
}

/* ---- the receiver ---- */

static struct cdc_receiver_config
receiver_config(uint64_t start_lsn)
{
	struct cdc_receiver_config cfg = {0};

	cfg.conninfo = plan->source_uri;
	cfg.slot = plan->cdc.slot;
	cfg.publication = plan->cdc.publication;
	cfg.spool_dir = plan->cdc.spool_dir;
	cfg.segment_size = 1024 * 1024;     /* many segments */
	cfg.start_lsn = start_lsn;
	cfg.feedback_ms = 1000;
	return cfg;
}

/* Starts a receiver, retrying while the slot is still held by a dead one's walsender. */
static struct cdc_receiver *
start_receiver(uint64_t start_lsn)
{
	struct cdc_receiver_config cfg = receiver_config(start_lsn);
	struct cdc_receiver *r = NULL;
	struct pgs_error err;

	/* no retry here: the receiver itself waits out a dead walsender's slot */
	pgs_error_clear(&err);
	if (cdc_receiver_start(&cfg, &r, &err))
		return r;
	printf("# %s\n", err.message);
	return NULL;
}

/*
 * Waits until the receiver has made durable, and the slot confirmed,
 * everything the source wrote so far. While waiting, checks that the slot
 * never confirms more than the spool holds.
 */
static bool
wait_caught_up(struct cdc_receiver *r, long *over_durable, uint64_t *first_moved)
{
	char *end = pgtest_wal_end(src);
	uint64_t target = 0;

	cdc_lsn_parse(end, &target);
	free(end);

	for (int i = 0; i < 1200; i++) {
		struct cdc_receiver_stats st;
		uint64_t confirmed = confirmed_flush();

		cdc_receiver_stats(r, &st);
		if (confirmed > st.durable_lsn)
			(*over_durable)++;
		if (first_moved && *first_moved == 0 && confirmed > 0)
			*first_moved = confirmed;
		if (st.failed)
			return false;
		if (st.durable_lsn >= target && confirmed >= target)
			return true;
		pgtest_sleep_ms(50);
	}
	return false;
}

/* The DML of the first run; returns the number of plain (non-streamed) transactions. */
static void
run_workload(long *txns)
{
	pgtest_exec(src, "INSERT INTO public.t VALUES (12, 'null'), (13, NULL), (14, 'it''s \"quoted\"'), (15, '')");
	pgtest_exec(src, "UPDATE public.t SET v = 'updated' WHERE id <= 5");
	pgtest_exec(src, "DELETE FROM public.t WHERE id IN (6, 7)");
	pgtest_exec(src, "INSERT INTO public.events VALUES (1, '2023-06-01', 'a'), (2, '2024-06-01', 'b')");
	pgtest_exec(src, "TRUNCATE public.ev_a");
	pgtest_exec(src, "INSERT INTO public.skipped VALUES (1)");    /* not published: no transaction */
	pgtest_exec(src, "INSERT INTO public.big SELECT i, repeat('x', 20) FROM generate_series(1, 200000) i");
	*txns = 6;      /* t: 11 (the snapshot test), 12-15, update, delete; events; truncate */
	for (int i = 0; i < SMALL_TXNS; i++) {
		char sql[96];

		snprintf(sql, sizeof(sql), "INSERT INTO public.t VALUES (%d, 'small %d')", 1000 + i, i);
		if (pgtest_exec(src, sql))
			(*txns)++;
	}
}

static void
test_stream(uint64_t start_lsn)
{
	struct cdc_receiver *r = start_receiver(start_lsn);
	struct cdc_receiver_stats st;
	struct replay rp;
	struct pgs_error err;
	long txns = 0, over = 0;
	uint64_t moved = 0;

	ok(r != NULL, "receiver started from the slot's consistent point");
	if (!r)
		return;
	run_workload(&txns);
	ok(wait_caught_up(r, &over, &moved), "the receiver caught up with the source");
	ok(moved > start_lsn, "the slot's confirmed_flush_lsn moved while the receiver ran");
	is_int(over, 0, "the slot never confirmed more than the spool had made durable");
	pgs_error_clear(&err);
	ok(cdc_receiver_stop(r, &err), "receiver stopped cleanly");
	cdc_receiver_stats(r, &st);
	ok(confirmed_flush() <= st.durable_lsn, "after stop, confirmed_flush_lsn <= durable LSN");
	ok(st.messages > BIG_ROWS && st.bytes > 0 && st.received_lsn >= st.durable_lsn,
	   "the counters moved");
	cdc_receiver_free(r);

	ok(replay_spool(&rp), "the spool reads back to its end");
	is_int(rp.bad, 0, "every record decodes with pgo_decode");
	is_int(rp.nonmonotonic, 0, "record LSNs never decrease");
	ok(confirmed_flush() <= rp.last_lsn, "the slot confirmed no more than the last record on disk");
	is_int(rp.counts[CDC_REC_RESTART], 1, "one restart record");
	is_int(rp.counts['B'], txns, "one Begin per plain transaction");
	is_int(rp.counts['C'], txns, "one Commit per plain transaction");
	is_int(rp.counts['I'], 1 + 4 + 2 + BIG_ROWS + SMALL_TXNS, "every insert");
	is_int(rp.counts['U'], 5, "every update");
	is_int(rp.counts['D'], 2, "every delete");
	is_int(rp.counts['T'], 1, "the truncate");
	ok(rp.counts['S'] >= 2 && rp.counts['S'] == rp.counts['E'], "the big transaction came in stream chunks");
	is_int(rp.counts['c'], 1, "one Stream Commit");
	is_int(rp.inserts_by_table[1], BIG_ROWS, "all of big's rows, inside the stream");
	is_int(rp.inserts_by_table[5], 0, "nothing from the excluded table");
	is_int(rp.pre_slot_rows, 0, "no row from before the slot");
	replay_free(&rp);
}

/* ---- kill -9 and restart ---- */

static void
child_receiver(uint64_t start_lsn)
{
	struct cdc_receiver *r = start_receiver(start_lsn);

	if (!r)
		_exit(3);
	for (;;)
		pgtest_sleep_ms(1000);
}

static bool
small_crash_txns(int from, int to)
{
	bool all = true;

	for (int i = from; i <= to; i++) {
		char sql[64];

		snprintf(sql, sizeof(sql), "INSERT INTO public.crash VALUES (%d)", i);
		all = pgtest_exec(src, sql) && all;
	}
	return all;
}

static void
test_crash(uint64_t start_lsn)
{
	PGconn *big = pgtest_connect(plan->source_uri, "source", false);
	struct cdc_receiver *r;
	struct replay rp;
	struct pgs_error err;
	long over = 0, dup = 0, lost = 0;
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		child_receiver(start_lsn);
	ok(small_crash_txns(1, CRASH_SMALL / 2), "small transactions while the first receiver runs");
	/* a big transaction that is being streamed when the receiver dies */
	pgtest_exec(big, "BEGIN");
	pgtest_exec(big, "INSERT INTO public.crash SELECT i FROM generate_series(1001, 101000) i");
	pgtest_sleep_ms(1500);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ok(WIFSIGNALED(status), "receiver killed with SIGKILL mid-stream");
	pgtest_exec(big, "COMMIT");
	PQfinish(big);
	small_crash_txns(CRASH_SMALL / 2 + 1, CRASH_SMALL);
	pgtest_exec(src, "INSERT INTO public.crash VALUES (101001)");

	r = start_receiver(start_lsn);
	ok(r != NULL, "a new receiver starts on the same spool and slot");
	if (!r)
		return;
	ok(wait_caught_up(r, &over, NULL), "it caught up");
	is_int(over, 0, "the slot never confirmed more than the spool held");
	pgs_error_clear(&err);
	ok(cdc_receiver_stop(r, &err), "stopped cleanly");
	cdc_receiver_free(r);

	ok(replay_spool(&rp), "the spool reads back");
	for (long id = 1; id <= CRASH_IDS; id++) {
		if (rp.committed[id] == 0 && lost++ < 5)
			printf("# id %ld lost\n", id);
		if (rp.committed[id] > 1 && dup++ < 5)
			printf("# id %ld committed %d times\n", id, rp.committed[id]);
	}
	is_int(lost, 0, "no committed row of the crash table was lost");
	is_int(dup, 0, "none was committed twice");
	is_int(rp.counts[CDC_REC_RESTART], 3, "a restart record per receiver start");
	is_int(rp.nonmonotonic, 0, "record LSNs never decrease across restarts");
	is_int(rp.bad, 0, "every record decodes");
	replay_free(&rp);
}

/* ---- drops ---- */

static void
test_drops(uint64_t start_lsn)
{
	struct cdc_receiver *r = start_receiver(start_lsn);
	struct cdc_receiver_stats st;
	struct pgs_error err;
	bool dropped;
	char *n;

	ok(r != NULL, "a receiver streams from the slot");
	pgtest_sleep_ms(300);
	pgs_error_clear(&err);
	ok(cdc_drop_slot(src, "pgshift_recv", &dropped, &err) && dropped,
	   "the active slot is dropped (walsender terminated)");
	if (err.message[0])
		printf("# %s\n", err.message);
	for (int i = 0; i < 100 && r; i++) {
		cdc_receiver_stats(r, &st);
		if (!st.running)
			break;
		pgtest_sleep_ms(50);
	}
	pgs_error_clear(&err);
	ok(r && !cdc_receiver_stop(r, &err) && strstr(err.message, "replication slot \"pgshift_recv\""),
	   "the receiver ended with an error naming the slot");
	printf("# %s\n", err.message);
	cdc_receiver_free(r);
	pgs_error_clear(&err);
	ok(cdc_drop_slot(src, "pgshift_recv", &dropped, &err) && !dropped,
	   "dropping it again is fine, and says there was none");
	ok(cdc_drop_publication(src, plan->cdc.publication, &dropped, &err) && dropped,
	   "publication dropped");
	ok(cdc_drop_publication(src, plan->cdc.publication, &dropped, &err) && !dropped,
	   "and again, saying there was none");
	n = pgtest_value(src, "SELECT (SELECT count(*) FROM pg_replication_slots) + (SELECT count(*) FROM pg_publication)");
	is_str(n, "0", "no slot or publication left");
	free(n);
}

int
main(void)
{
	struct catalog cat;
	struct pgs_error err;
	uint64_t start_lsn;

	setvbuf(stdout, NULL, _IOLBF, 0);
	plan = pgtest_load_plan(plan_text);
	src = plan ? pgtest_connect(plan->source_uri, "source", false) : NULL;
	pgs_error_clear(&err);
	if (!src || !catalog_load(src, plan, &cat, &err)) {
		printf("# %s\nBail out! no source\n", err.message);
		return 1;
	}
	test_publication(&cat);
	start_lsn = create_slot();
	test_stream(start_lsn);
	test_crash(start_lsn);
	test_drops(start_lsn);
	catalog_free(&cat);
	PQfinish(src);
	plan_free(plan);
	return done_testing();
}
