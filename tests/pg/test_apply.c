/*
 * The CDC applier on real servers prepared by tests/integration/cdc_apply.t
 * (same tables and rows on both; publication pgshift_apply FOR ALL TABLES;
 * logical_decoding_work_mem = 64kB so big transactions are streamed).
 *
 * Phase "run": slot, receiver (a thread here), applier (a child process,
 * so it can be killed with SIGKILL), then a workload of every kind: nasty
 * text values bound as parameters, a TOASTed value kept across an update of
 * another column, a key change, REPLICA IDENTITY FULL duplicates and NULLs,
 * identity and generated columns, TRUNCATE, FK cascades, partitions, a
 * 200,000-row streamed transaction with a rolled-back savepoint, an aborted
 * streamed transaction, thousands of small transactions; the applier is
 * killed twice mid-apply and restarted. It ends when the applied LSN in
 * pgshift.runs passes the source's WAL end (pgtest_wal_end); the .t compares.
 *
 * Phase "coalesce": a backlog written while no applier runs, so many source
 * transactions land in each target transaction and are coalesced per key
 * (apply_batch.c): hot keys updated hundreds of times, unchanged TOAST,
 * insert-update-delete of one key, delete then insert of one key, a key
 * change, TRUNCATE in the middle, a second unique index, a key-less table;
 * then a second backlog with the applier killed with SIGKILL mid-batch.
 *
 * Phase "schema": a column added on the source stops the applier with an
 * error naming the table and the column; then slot and publication go.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pgtest.h"
#include "tap.h"
#include "cdc/apply.h"
#include "cdc/cdc_receive.h"
#include "cdc/cdc_slot.h"
#include "cdc/pgoutput.h"
#include "pg/catalog.h"
#include "pg/conn.h"
#include "state/state.h"
#include "util/xalloc.h"
#include "util/clock.h"

#define BIG_ROWS 200000
#define SMALL_TXNS 3000
#define CRASH_SMALL 1000
#define CRASH_BIG 100000

static const char plan_text[] =
	"version: 1\n"
	"name: apply_test\n"
	"source: { uri: \"${SOURCE_URI}\" }\n"
	"target: { uri: \"${TARGET_URI}\" }\n"
	"filters:\n"
	"  exclude_tables: [public.skipped]\n"
	"  exclude_table_data: [public.nodata]\n"
	"cdc:\n"
	"  slot: pgshift_apply\n"
	"  publication: pgshift_apply\n"
	"  spool_dir: ${SPOOL_DIR}\n";

static struct plan *plan;
static struct catalog cat;
static PGconn *src, *dst;
static volatile sig_atomic_t term;

static bool
exec_params(PGconn *conn, const char *sql, int n, const char *const *params)
{
	struct pgs_error err;

	pgs_error_clear(&err);
	if (pg_exec(conn, sql, n, params, &err))
		return true;
	printf("# %s: %s\n", sql, err.message);
	return false;
}

static uint64_t
lsn_parsed(char *v)
{
	uint64_t lsn = 0;

	cdc_lsn_parse(v, &lsn);
	free(v);
	return lsn;
}

static uint64_t
lsn_of(PGconn *conn, const char *sql)
{
	return lsn_parsed(pgtest_value(conn, sql));
}

static uint64_t
source_wal_end(void)
{
	return lsn_parsed(pgtest_wal_end(src));
}

static uint64_t
applied_lsn(void)
{
	return lsn_of(dst, "SELECT applied_lsn FROM pgshift.runs WHERE plan = 'apply_test'");
}

/* Waits until the applied LSN on the target reaches lsn (or the child died). */
static bool
wait_applied(uint64_t lsn, pid_t child, int seconds)
{
	for (int i = 0; i < seconds * 20; i++) {
		int status;

		if (applied_lsn() >= lsn)
			return true;
		if (child > 0 && waitpid(child, &status, WNOHANG) == child) {
			printf("# the applier exited (status %d)\n", status);
			return false;
		}
		pgtest_sleep_ms(50);
	}
	return false;
}

/* The applier's target session has been inside one transaction for a while. */
static bool
applier_busy(void)
{
	char *v = pgtest_value(dst, "SELECT count(*) FROM pg_stat_activity WHERE application_name ="
					" 'pgshift cdc.catchup' AND now() - xact_start > interval '30 ms'");
	bool busy = strcmp(v, "1") == 0;

	free(v);
	return busy;
}

static bool
open_run(struct state **st)
{
	struct pgs_error err;
	bool locked, resuming;
	char run_id[64];

	pgs_error_clear(&err);
	*st = state_open(plan, &locked, &err);
	if (!*st || !state_begin_run(*st, plan->sha256, true, &resuming, run_id, sizeof(run_id), &err)) {
		printf("# %s\n", err.message);
		return false;
	}
	return true;
}

static struct cdc_receiver *
start_receiver(uint64_t start_lsn)
{
	struct cdc_receiver_config cfg = {0};
	struct cdc_receiver *r = NULL;
	struct pgs_error err;

	cfg.conninfo = plan->source_uri;
	cfg.slot = plan->cdc.slot;
	cfg.publication = plan->cdc.publication;
	cfg.spool_dir = plan->cdc.spool_dir;
	cfg.segment_size = 1024 * 1024;
	cfg.start_lsn = start_lsn;
	cfg.feedback_ms = 500;
	pgs_error_clear(&err);
	if (cdc_receiver_start(&cfg, &r, &err))
		return r;
	printf("# %s\n", err.message);
	return NULL;
}

static uint64_t
receiver_durable(void *arg)
{
	struct cdc_receiver_stats st;

	cdc_receiver_stats(arg, &st);
	return st.durable_lsn;
}

static struct cdc_applier_config
applier_config(uint64_t start_lsn)
{
	struct cdc_applier_config cfg = {0};

	cfg.conninfo = plan->target_uri;
	cfg.plan_name = plan->name;
	cfg.spool_dir = plan->cdc.spool_dir;
	cfg.start_lsn = start_lsn;
	cfg.cat = &cat;
	return cfg;
}

/* ---- the applier in a child process ---- */

static void
on_term(int sig)
{
	(void) sig;
	term = 1;
}

static void
child_applier(uint64_t start_lsn)
{
	struct cdc_applier_config cfg = applier_config(start_lsn);
	struct cdc_applier *a;
	struct cdc_applier_stats st;
	struct pgs_error err;
	bool ok;

	signal(SIGTERM, on_term);
	pgs_error_clear(&err);
	if (!cdc_applier_start(&cfg, &a, &err)) {
		printf("# applier: %s\n", err.message);
		_exit(3);
	}
	do {
		pgtest_sleep_ms(50);
		cdc_applier_stats(a, &st);
	} while (!term && !st.failed);
	ok = cdc_applier_stop(a, &err);
	if (!ok)
		printf("# applier: %s\n# detail: %s\n", err.message, err.detail);
	cdc_applier_stats(a, &st);
	printf("# applier child: %llu changes in %llu transactions, %llu target commits\n",
		   (unsigned long long) st.changes, (unsigned long long) st.transactions,
		   (unsigned long long) st.batches);
	fflush(stdout);
	cdc_applier_free(a);
	_exit(ok ? 0 : 1);
}

/*
 * fork + exec, not fork alone: this process runs the receiver's thread, and
 * a child forked from a threaded process may inherit a lock held by another
 * thread (ASan's allocator does hang that way).
 */
static pid_t
spawn_applier(uint64_t start_lsn)
{
	char lsn[32];
	pid_t pid;

	snprintf(lsn, sizeof(lsn), "%llu", (unsigned long long) start_lsn);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", "test_apply", "applier", lsn, (char *) NULL);
		_exit(127);
	}
	return pid;
}

static bool
kill_applier(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/* ---- the workload ---- */

static void
nasty_values(void)
{
	static const char *const texts[] = {
		"null", "NULL", NULL, "it's", "''hello world''", "back\\slash \\N \\\\", "",
		"ünïcødé ✓ 𝄞 日本", "tab\there\nnewline", "\"double\" quotes",
	};
	bool all = true;

	for (int i = 0; i < 10; i++) {
		char id[16];
		const char *p[8] = {id, texts[i], i % 2 ? "NaN" : "-1.50", i % 3 ? "Infinity" : "-0",
							"\\x00ff27", "{\"a\": \"it's\", \"b\": null, \"c\": \"\\\\\"}",
							"{1,NULL,3}", "2024-02-29 12:34:56.789+05:30"};

		snprintf(id, sizeof(id), "%d", 100 + i);
		all = exec_params(src, "INSERT INTO public.vals (id, t, n, f, b, j, a, ts)"
						  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", 8, p) && all;
	}
	ok(all, "inserts with nasty values, bound as parameters on the source too");
	ok(pgtest_exec(src, "UPDATE public.vals SET t = 'changed ''x''' WHERE id IN (100, 102)") &&
	   pgtest_exec(src, "UPDATE public.vals SET t = NULL WHERE id = 101") &&
	   pgtest_exec(src, "DELETE FROM public.vals WHERE id = 103"), "updates and a delete of them");
}

static void
varied_changes(void)
{
	ok(pgtest_exec(src, "UPDATE public.vals SET n = 42 WHERE id = 1"),
	   "an update of a small column of the row with a TOASTed value");
	ok(pgtest_exec(src, "UPDATE public.vals SET id = 1001, t = 'moved' WHERE id = 3") &&
	   pgtest_exec(src, "UPDATE public.vals SET id = 1 WHERE id = 1") &&
	   pgtest_exec(src, "UPDATE public.vals SET id = 1002 WHERE id = 2"), "primary key changes");
	ok(pgtest_exec(src, "DELETE FROM public.full_t WHERE ctid = (SELECT ctid FROM public.full_t"
			" WHERE a = 1 LIMIT 1)") &&
	   pgtest_exec(src, "UPDATE public.full_t SET b = 'was null' WHERE a = 2") &&
	   pgtest_exec(src, "UPDATE public.full_t SET b = NULL WHERE a = 3") &&
	   pgtest_exec(src, "INSERT INTO public.full_t VALUES (4, 'x'), (4, 'x'), (NULL, NULL)") &&
	   pgtest_exec(src, "UPDATE public.full_t SET b = 'y' WHERE ctid = (SELECT ctid FROM public.full_t"
			" WHERE a = 4 LIMIT 1)") &&
	   pgtest_exec(src, "DELETE FROM public.full_t WHERE a IS NULL"),
	   "REPLICA IDENTITY FULL: one of two duplicates deleted, NULLs matched");
	ok(pgtest_exec(src, "INSERT INTO public.ident (v) VALUES ('one'), ('three')") &&
	   pgtest_exec(src, "UPDATE public.ident SET v = 'eleven' WHERE v = 'one'"),
	   "identity and generated columns");
	ok(pgtest_exec(src, "INSERT INTO public.trunc_me SELECT generate_series(1, 50)") &&
	   pgtest_exec(src, "TRUNCATE public.trunc_me") &&
	   pgtest_exec(src, "INSERT INTO public.trunc_me VALUES (7)") &&
	   pgtest_exec(src, "BEGIN; INSERT INTO public.trunc_me VALUES (8); TRUNCATE public.trunc_me,"
			" public.skipped, public.nodata; INSERT INTO public.trunc_me VALUES (9); COMMIT"),
	   "TRUNCATE, also inside a transaction and with filtered tables");
	ok(pgtest_exec(src, "INSERT INTO public.events VALUES (1, '2023-06-01', 'a'), (2, '2024-06-01', 'b')") &&
	   pgtest_exec(src, "UPDATE public.events SET at = '2024-07-01' WHERE id = 1") &&
	   pgtest_exec(src, "INSERT INTO public.skipped VALUES (1)") &&
	   pgtest_exec(src, "INSERT INTO public.nodata VALUES (1)") &&
	   pgtest_exec(src, "DELETE FROM public.parent_fk WHERE id = 1") &&
	   pgtest_exec(src, "INSERT INTO public.\"odd \"\"name\"\"\" VALUES ('k2', 'it''s odd')") &&
	   pgtest_exec(src, "UPDATE public.\"odd \"\"name\"\"\" SET \"Mixed Case\" = NULL WHERE k = 'k1'"),
	   "partition move, filtered tables, an FK cascade, odd identifiers");
}

/* 200,000 rows in one transaction (streamed), with a savepoint rolled back. */
static uint64_t
big_transaction(void)
{
	bool all = pgtest_exec(src, "BEGIN") &&
		pgtest_exec(src, "INSERT INTO public.big SELECT i, repeat('x', 20) || i FROM generate_series(1, 100000) i") &&
		pgtest_exec(src, "SAVEPOINT s") &&
		pgtest_exec(src, "INSERT INTO public.big SELECT i, 'rolled back' FROM generate_series(300001, 350000) i") &&
		pgtest_exec(src, "ROLLBACK TO SAVEPOINT s") &&
		pgtest_exec(src, "INSERT INTO public.big SELECT i, repeat('y', 20) || i FROM generate_series(100001, 200000) i") &&
		pgtest_exec(src, "COMMIT");

	ok(all, "a 200,000-row transaction with a rolled-back savepoint");
	ok(pgtest_exec(src, "BEGIN") &&
	   pgtest_exec(src, "INSERT INTO public.big SELECT i, 'aborted' FROM generate_series(400001, 450000) i") &&
	   pgtest_exec(src, "ROLLBACK"), "a big transaction rolled back");
	return source_wal_end();
}

static bool
small_transactions(void)
{
	bool all = true;

	for (int i = 1; i <= SMALL_TXNS && all; i++) {
		char sql[160];

		if (i % 3 == 0)
			snprintf(sql, sizeof(sql), "UPDATE public.small SET v = 'upd %d' WHERE id = %d", i, i - 1);
		else if (i % 7 == 0)
			snprintf(sql, sizeof(sql), "DELETE FROM public.small WHERE id = %d", i - 2);
		else
			snprintf(sql, sizeof(sql), "INSERT INTO public.small VALUES (%d, 'small %d')", i, i);
		all = pgtest_exec(src, sql);
	}
	return all;
}

static bool
crash_rows(int from, int to)
{
	bool all = true;

	for (int i = from; i <= to && all; i++) {
		char sql[160];

		snprintf(sql, sizeof(sql), "BEGIN; INSERT INTO public.crash VALUES (%d, 'c'); "
				 "INSERT INTO public.crash_full VALUES (%d, 'c'); COMMIT", i, i);
		all = pgtest_exec(src, sql);
	}
	return all;
}

/* ---- phase run ---- */

static uint64_t
create_slot(void)
{
	struct pg_session s = {"source", "pgshift test repl", false, true, false, false};
	struct pgs_error err;
	PGconn *repl;
	char *snapshot = NULL;
	uint64_t lsn = 0;

	pgs_error_clear(&err);
	repl = pg_connect(plan->source_uri, &s, &err);
	ok(repl && cdc_create_slot(repl, plan->cdc.slot, &snapshot, &lsn, &err),
	   "slot created (no copy: both sides hold the same rows already)");
	if (err.message[0])
		printf("# %s\n", err.message);
	free(snapshot);
	PQfinish(repl);
	return lsn;
}

static void
measure_big(pid_t child)
{
	double t0 = clock_mono_s();
	uint64_t lsn = big_transaction();
	bool done = wait_applied(lsn, child, 300);
	double secs = clock_mono_s() - t0;

	ok(done, "the streamed transaction was applied");
	printf("# 200,000-row streamed transaction: written, received and applied in %.2f s"
		   " (%.0f changes/s end to end)\n", secs, BIG_ROWS / secs);
}

static void
measure_small(pid_t child)
{
	double t0 = clock_mono_s();
	bool all = small_transactions();
	double written = clock_mono_s() - t0;
	uint64_t lsn = source_wal_end();

	ok(all, "3000 small transactions");
	ok(wait_applied(lsn, child, 120), "applied");
	printf("# %d single-change transactions: written in %.2f s, applied %.2f s after the first\n",
		   SMALL_TXNS, written, clock_mono_s() - t0);
}

static void
crash_section(pid_t *child, uint64_t start_lsn)
{
	PGconn *big = pgtest_connect(plan->source_uri, "source", false);
	char sql[400];
	uint64_t commit;
	int i;

	ok(crash_rows(1, CRASH_SMALL / 2), "small transactions on the crash tables");
	snprintf(sql, sizeof(sql), "BEGIN; INSERT INTO public.crash SELECT i, 'b' FROM"
			 " generate_series(%d, %d) i; INSERT INTO public.crash_full SELECT i, 'b' FROM"
			 " generate_series(%d, %d) i; COMMIT", CRASH_SMALL + 1, CRASH_SMALL + CRASH_BIG,
			 CRASH_SMALL + 1, CRASH_SMALL + CRASH_BIG);
	ok(pgtest_exec(big, sql), "a big transaction on the crash tables");
	PQfinish(big);
	commit = source_wal_end();
	/* kill while the big transaction is being read back and applied */
	for (i = 0; i < 1000 && applied_lsn() < commit && !applier_busy(); i++)
		pgtest_sleep_ms(5);
	ok(kill_applier(*child), "applier killed with SIGKILL while applying");
	printf("# at the kill the big transaction was %s\n",
		   applied_lsn() >= commit ? "already applied" : "not yet committed on the target");
	*child = spawn_applier(start_lsn);
	ok(crash_rows(CRASH_SMALL / 2 + 1, CRASH_SMALL - 100), "more small transactions");
	pgtest_sleep_ms(50);
	ok(kill_applier(*child), "applier killed with SIGKILL again, among small transactions");
	*child = spawn_applier(start_lsn);
	ok(crash_rows(CRASH_SMALL - 99, CRASH_SMALL), "the last small transactions");
}

static void
phase_run(void)
{
	struct state *st;
	struct cdc_receiver *r;
	uint64_t start_lsn, end_lsn;
	pid_t child;
	int status;
	char *v;

	if (!open_run(&st))
		return;
	start_lsn = create_slot();
	r = start_receiver(start_lsn);
	ok(r != NULL, "receiver started");
	child = spawn_applier(start_lsn);
	nasty_values();
	varied_changes();
	measure_big(child);
	measure_small(child);
	crash_section(&child, start_lsn);
	pgtest_exec(src, "UPDATE public.crash_full SET v = 'after' WHERE id = 5");
	pgtest_exec(src, "DELETE FROM public.crash_full WHERE id = 6");
	end_lsn = source_wal_end();
	ok(wait_applied(end_lsn, child, 300), "the applied LSN passed the source's WAL position");
	kill(child, SIGTERM);
	waitpid(child, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the applier stopped cleanly on SIGTERM");
	v = pgtest_value(dst, "SELECT applied_commit_at IS NOT NULL FROM pgshift.runs WHERE plan = 'apply_test'");
	is_str(v, "t", "the source commit time of the last applied transaction is recorded");
	free(v);
	v = pgtest_value(dst, "SELECT count(*) FROM public.big");
	is_str(v, "200000", "big: the savepoint's and the aborted transaction's rows are not there");
	free(v);
	cdc_receiver_free(r);
	state_close(st);
}

/* ---- phase coalesce ---- */

/* Each its own source transaction: a backlog the applier reads in few target transactions. */
static bool
each(const char *fmt, int from, int to)
{
	char sql[400];
	bool all = true;

	for (int i = from; i <= to; i++) {
		snprintf(sql, sizeof(sql), fmt, i, i, i);
		all &= pgtest_exec(src, sql);
	}
	return all;
}

static bool
backlog(void)
{
	bool all = pgtest_exec(src, "INSERT INTO public.coal SELECT i, 'v0', 0, NULL"
						   " FROM generate_series(1, 100) i");

	all &= pgtest_exec(src, "UPDATE public.coal SET big = (SELECT string_agg(md5(g::text), '')"
					   " FROM generate_series(1, 600) g) WHERE id <= 5");
	/* hot keys, big unchanged (TOAST not sent) on ids 1..5 */
	all &= each("UPDATE public.coal SET n = n + 1, v = 'v%d' WHERE id = %d %% 10 + 1", 1, 300);
	/* insert, update, and for odd ones delete: of one key, in separate transactions */
	all &= each("INSERT INTO public.coal VALUES (1000 + %d, 'new', %d, NULL)", 1, 50);
	all &= each("UPDATE public.coal SET v = 'upd ' || n WHERE id = 1000 + %d AND %d > 0", 1, 50);
	all &= each("DELETE FROM public.coal WHERE id = 1000 + %d AND %d %% 2 = 1", 1, 50);
	/* a delete, then the same key inserted again and updated: a barrier */
	all &= pgtest_exec(src, "DELETE FROM public.coal WHERE id = 50");
	all &= pgtest_exec(src, "INSERT INTO public.coal VALUES (50, 'again', 0, NULL)");
	all &= pgtest_exec(src, "UPDATE public.coal SET n = 7 WHERE id = 50");
	/* a key change among coalesced updates of the old and the new key */
	all &= pgtest_exec(src, "UPDATE public.coal SET n = 1 WHERE id = 60");
	all &= pgtest_exec(src, "UPDATE public.coal SET id = 10060 WHERE id = 60");
	all &= pgtest_exec(src, "UPDATE public.coal SET v = 'after key change' WHERE id = 10060");
	all &= pgtest_exec(src, "INSERT INTO public.coal VALUES (60, 'reused key', 2, NULL)");
	/* TRUNCATE in the middle of the batch */
	all &= each("INSERT INTO public.coal_t VALUES (%d, 'before')", 1, 20);
	all &= each("UPDATE public.coal_t SET v = 'upd' WHERE id = %d", 1, 20);
	all &= pgtest_exec(src, "TRUNCATE public.coal_t");
	all &= each("INSERT INTO public.coal_t VALUES (%d, 'after')", 1, 5);
	all &= pgtest_exec(src, "UPDATE public.coal_t SET v = 'after, updated' WHERE id = 1");
	/* a second unique index: reordering these would collide, so they keep their order */
	all &= pgtest_exec(src, "UPDATE public.coal_uq SET email = 'tmp' WHERE id = 1");
	all &= pgtest_exec(src, "UPDATE public.coal_uq SET email = 'a' WHERE id = 2");
	all &= pgtest_exec(src, "UPDATE public.coal_uq SET email = 'b' WHERE id = 1");
	/* no key at all: runs of INSERTs only, duplicates kept */
	all &= each("INSERT INTO public.coal_nopk VALUES (%d %% 7, 'r' || %d)", 1, 100);
	/* keys updated in descending order: the run goes in key order (cdc_apply.t checks) */
	all &= each("UPDATE public.coal_ord SET pad = 'updated' WHERE id = 201 - %d AND %d > 0"
				" AND %d > 0", 1, 200);
	return all;
}

/* The applier's target session has a transaction open: it is in the middle of a batch. */
static bool
applier_in_txn(void)
{
	char *v = pgtest_value(dst, "SELECT count(*) FROM pg_stat_activity WHERE application_name ="
						   " 'pgshift cdc.catchup' AND xact_start IS NOT NULL");
	bool busy = v && strcmp(v, "0") != 0;

	free(v);
	return busy;
}

/* Waits until the spool holds everything the source wrote. */
static bool
spooled(struct cdc_receiver *r)
{
	uint64_t lsn = source_wal_end();
	int i;

	for (i = 0; i < 1200 && receiver_durable(r) < lsn; i++)
		pgtest_sleep_ms(50);
	return i < 1200;
}

static long
target_updates(const char *table)
{
	char sql[200];
	char *v;
	long n;

	snprintf(sql, sizeof(sql), "SELECT n_tup_upd FROM pg_stat_user_tables"
			 " WHERE relid = 'public.%s'::regclass", table);
	pgtest_exec(dst, "SELECT pg_stat_clear_snapshot()");
	v = pgtest_value(dst, sql);
	n = v ? strtol(v, NULL, 10) : -1;
	free(v);
	return n;
}

/*
 * A row missing on the target, updated in a run of coalesced updates: the
 * applier stops naming its key, table and source transaction; once the row
 * is back, a new applier applies the run.
 */
static void
missing_row(struct cdc_receiver *r)
{
	struct cdc_applier_config cfg = applier_config(0);
	struct cdc_applier *a = NULL;
	struct cdc_applier_stats stats;
	struct pgs_error err;
	uint64_t lsn;
	int i;

	cfg.durable_lsn = receiver_durable;
	cfg.durable_arg = r;
	pgtest_exec(dst, "UPDATE public.coal SET id = -77 WHERE id = 77");
	/* 40 rows: the first 32, 77 among them, go as a prepared statement (apply_bulk.c) */
	ok(each("UPDATE public.coal SET n = n + 1 WHERE id = 59 + %d AND %d > 0", 1, 40) && spooled(r),
	   "forty updates of forty keys, one of them missing on the target");
	pgs_error_clear(&err);
	ok(cdc_applier_start(&cfg, &a, &err), "applier started");
	for (i = 0; a && i < 1200; i++) {
		cdc_applier_stats(a, &stats);
		if (!stats.running)
			break;
		pgtest_sleep_ms(50);
	}
	ok(a && !cdc_applier_stop(a, &err), "the applier stopped on the missing row");
	printf("# %s\n# detail: %s\n", err.message, err.detail);
	ok(strstr(err.message, "public.coal") && strstr(err.message, "0 rows matched") &&
	   strstr(err.detail, "(id)=(77)"), "the error names the table and the missing key");
	cdc_applier_free(a);
	pgtest_exec(dst, "UPDATE public.coal SET id = 77 WHERE id = -77");
	lsn = source_wal_end();
	pgs_error_clear(&err);
	ok(cdc_applier_start(&cfg, &a, &err), "with the row back, a new applier starts");
	for (i = 0; a && i < 1200 && cdc_applier_applied_lsn(a) < lsn; i++)
		pgtest_sleep_ms(50);
	ok(a && i < 1200 && cdc_applier_stop(a, &err), "and applies the run");
	cdc_applier_free(a);
}

static void
phase_coalesce(void)
{
	struct cdc_receiver *r;
	struct state *st;
	uint64_t lsn;
	uint64_t before;
	pid_t child;
	int status;
	long updates;

	if (!open_run(&st))
		return;
	r = start_receiver(0);
	ok(r && backlog(), "a backlog of small transactions, written while no applier runs");
	ok(spooled(r), "the backlog is in the spool");
	lsn = source_wal_end();
	child = spawn_applier(0);
	ok(wait_applied(lsn, child, 120), "the applier caught up");
	kill(child, SIGTERM);
	waitpid(child, &status, 0);
	updates = target_updates("coal");
	printf("# the target updated %ld rows of public.coal for the source's 300 hot-key updates\n",
		   updates);
	ok(updates >= 0 && updates < 100, "the hot-key updates were coalesced per key");

	/* kill -9 in the middle of a batch, then resume: still identical */
	ok(each("UPDATE public.coal SET n = n + %d WHERE id = %d %% 40 + 1", 1, 1500) &&
	   each("INSERT INTO public.coal_nopk VALUES (%d, 'crash ' || %d)", 1, 1500),
	   "a second backlog");
	ok(spooled(r), "the second backlog is in the spool");
	lsn = source_wal_end();
	before = applied_lsn();
	/* a lock on the target holds the applier inside its batch, however fast the batch would commit */
	ok(pgtest_exec(dst, "BEGIN") && pgtest_exec(dst, "LOCK TABLE public.coal IN EXCLUSIVE MODE"),
	   "public.coal locked on the target");
	child = spawn_applier(0);
	for (int i = 0; i < 5000 && !applier_in_txn(); i++)
		pgtest_sleep_ms(1);
	ok(kill_applier(child), "applier killed with SIGKILL in the middle of the batch");
	ok(applied_lsn() == before, "the batch it was applying is not committed on the target");
	ok(pgtest_exec(dst, "ROLLBACK"), "the lock released");
	child = spawn_applier(0);
	ok(wait_applied(lsn, child, 120), "the restarted applier caught up");
	/* a change after the restart: the applier runs (and handles SIGTERM) */
	ok(pgtest_exec(src, "UPDATE public.coal SET v = 'last' WHERE id = 2"), "a change after the restart");
	ok(wait_applied(source_wal_end(), child, 60), "it is applied");
	kill(child, SIGTERM);
	waitpid(child, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the applier stopped cleanly on SIGTERM");
	missing_row(r);
	cdc_receiver_free(r);
	state_close(st);
}

/* ---- phase schema ---- */

static void
phase_schema(void)
{
	struct cdc_applier_config cfg = applier_config(0);
	struct cdc_applier *a = NULL;
	struct cdc_applier_stats stats;
	struct cdc_receiver *r;
	struct state *st;
	struct pgs_error err;
	uint64_t lsn;
	int i;

	if (!open_run(&st))
		return;
	r = start_receiver(0);
	cfg.durable_lsn = receiver_durable;
	cfg.durable_arg = r;
	pgs_error_clear(&err);
	ok(r && cdc_applier_start(&cfg, &a, &err), "receiver and applier resume on the spool");
	if (!a) {
		printf("# %s\n", err.message);
		return;
	}
	pgtest_exec(src, "INSERT INTO public.vals (id, t) VALUES (5000, 'before the ALTER')");
	lsn = source_wal_end();
	for (i = 0; i < 600 && cdc_applier_applied_lsn(a) < lsn; i++)
		pgtest_sleep_ms(50);
	ok(i < 600, "a change before the schema change is applied");
	cdc_applier_stats(a, &stats);
	ok(stats.lag_bytes >= 0 && stats.running && !stats.failed, "stats: running, lag known");
	pgtest_exec(src, "ALTER TABLE public.vals ADD COLUMN extra integer");
	pgtest_exec(src, "INSERT INTO public.vals (id, t, extra) VALUES (5001, 'after', 7)");
	for (i = 0; i < 600; i++) {
		cdc_applier_stats(a, &stats);
		if (!stats.running)
			break;
		pgtest_sleep_ms(50);
	}
	ok(!cdc_applier_stop(a, &err), "the applier stopped on the schema change");
	printf("# %s\n# hint: %s\n", err.message, err.hint);
	ok(strstr(err.message, "public.vals") && strstr(err.message, "\"extra\""),
	   "the error names the table and the column");
	cdc_applier_free(a);
	cdc_receiver_free(r);
	pgs_error_clear(&err);
	ok(cdc_drop_slot(src, plan->cdc.slot, NULL, &err) &&
	   cdc_drop_publication(src, plan->cdc.publication, NULL, &err), "slot and publication dropped");
	state_close(st);
}

int
main(int argc, char **argv)
{
	struct pgs_error err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	plan = pgtest_load_plan(plan_text);
	src = plan ? pgtest_connect(plan->source_uri, "source", false) : NULL;
	dst = plan ? pgtest_connect(plan->target_uri, "target", false) : NULL;
	pgs_error_clear(&err);
	if (!src || !dst || !catalog_load(src, plan, &cat, &err)) {
		printf("# %s\nBail out! no servers\n", err.message);
		return 1;
	}
	if (argc > 2 && strcmp(argv[1], "applier") == 0)
		child_applier(strtoull(argv[2], NULL, 10));
	else if (argc > 1 && strcmp(argv[1], "schema") == 0)
		phase_schema();
	else if (argc > 1 && strcmp(argv[1], "coalesce") == 0)
		phase_coalesce();
	else
		phase_run();
	catalog_free(&cat);
	PQfinish(src);
	PQfinish(dst);
	plan_free(plan);
	return done_testing();
}
