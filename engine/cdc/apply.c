/*
 * The applier thread (see apply.h): reads the spool, hands each record to
 * apply_record, commits the open target transaction whenever the spool has
 * nothing more to give, and deletes the spool segments below what a
 * restart still needs, every few seconds. Start and stop are shaped like
 * the receiver's.
 *
 * A lost target connection (pg_error_is_connection) does not end the
 * thread: it forgets everything it held in memory (the open target
 * transaction rolled back with the session; whether its COMMIT landed is
 * what the target's applied LSN says), reconnects with backoff for at most
 * reconnect_for and starts over exactly as a new applier would, from the
 * applied LSN committed on the target and the spool's oldest segment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc/apply_int.h"
#include "cdc/cdc_receive.h"
#include "pg/conn.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"

/*
 * The spool ran dry: wait 1 ms, doubling while it stays dry, up to 5 ms.
 * The open target transaction is committed once the spool has been dry
 * DRY_COMMIT_US: while a backlog streams in, the receiver writes every few
 * milliseconds, and committing at each of those gaps made batches of a few
 * dozen transactions, each with its own small unprepared statements. Once
 * the batch's last source commit is less than LIVE_US old (pgshift's clock
 * against the source's commit time: a skewed clock only picks the other
 * wait), the applier follows a live stream, and the first gap of
 * DRY_COMMIT_LIVE_US commits: under pgbench -c 8 in tests/bench/cdc_lag.sh
 * 10 ms dry, 20 ms early sends and 20 ms sleeps gave visible lag p50
 * 0.29-0.48 s and p99 1.11-2.08 s, 2 ms, 5 ms and 5 ms in the same runs
 * 0.24-0.29 s and 0.55-1.19 s.
 *
 * EARLY_SEND_US: a dry spool while a batch is open means the applier has
 * caught up with the stream. The rows coalesced so far are sent then, at
 * most this often, so the target executes them while more arrive: sent only
 * at the commit, a steady stream's batch of a few hundred transactions kept
 * the commit waiting 90 ms on average (400 ms at worst) on a loaded target,
 * all of it lag.
 */
#define IDLE_SLEEP_MIN_MS 1
#define IDLE_SLEEP_MAX_MS 5
#define DRY_COMMIT_US INT64_C(10000)
#define DRY_COMMIT_LIVE_US INT64_C(2000)
#define LIVE_US INT64_C(1000000)
#define EARLY_SEND_US INT64_C(5000)
/*
 * CAUGHT_UP_COMMIT_US: a steady stream never leaves the spool dry for
 * DRY_COMMIT_US, so its batches committed at batch_ms, 500 ms, most of the
 * lag a reader of the target saw. A dry spool commits a batch this old; a
 * backlog, which keeps the spool busy, still fills batches of 10,000
 * changes or 500 ms.
 */
#define CAUGHT_UP_COMMIT_US INT64_C(100000)
#define GC_EVERY_US INT64_C(2000000)
#define RATE_EVERY_US INT64_C(1000000)
#define DEFAULT_RECONNECT_FOR_MS INT64_C(10000)

int64_t
apply_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
apply_lsn_text(uint64_t lsn, char out[PGO_LSN_TEXT_SIZE])
{
	pgo_lsn_text(lsn, out);
}

/* Spool segments below what a restart needs go; a failure only delays it. */
static bool
collect(struct cdc_applier *a, struct pgs_error *err)
{
	uint64_t keep = apply_keep_lsn(a);
	int removed = 0;

	if (keep <= a->gc_done)
		return true;
	/* the Relation messages in the segments about to go must survive them */
	if (a->rels_dirty && !apply_relfile_write(a, err))
		return false;
	if (!spool_remove_below(a->spool_dir, keep, &removed, err))
		return false;
	a->gc_done = keep;
	return true;
}

static void
measure(struct cdc_applier *a, int64_t now)
{
	uint64_t changes = atomic_load(&a->changes);

	if (a->rate_us && now - a->rate_us < RATE_EVERY_US)
		return;
	if (a->rate_us)
		atomic_store(&a->rate, (double) (changes - a->rate_changes) * 1e6 /
					 (double) (now - a->rate_us));
	a->rate_us = now;
	a->rate_changes = changes;
}

/* The open batch's rows go to the target now, unless they went very recently. */
static bool
send_early(struct cdc_applier *a, int64_t now, struct pgs_error *err)
{
	int64_t since = a->sent_us > a->tgt.started_us ? a->sent_us : a->tgt.started_us;

	if (!a->tgt.in_txn || now - since < EARLY_SEND_US)
		return true;
	a->sent_us = now;
	return apply_batch_send(a, err) && apply_target_push(&a->tgt, err);
}

/* How long a dry spool waits before the commit (see DRY_COMMIT_US). */
static int64_t
dry_commit_us(const struct cdc_applier *a)
{
	return a->next_commit_time && cdc_pg_now() - a->next_commit_time < LIVE_US ?
		DRY_COMMIT_LIVE_US : DRY_COMMIT_US;
}

/* Nothing to read: commit what is applied, tidy the spool, wait a little. */
static bool
idle(struct cdc_applier *a, struct pgs_error *err)
{
	int64_t now = apply_now_us();
	int64_t max_age = (int64_t) a->batch_ms * 1000 < CAUGHT_UP_COMMIT_US ?
		(int64_t) a->batch_ms * 1000 : CAUGHT_UP_COMMIT_US;

	if (!a->dry_since_us)
		a->dry_since_us = now;
	if (now - a->dry_since_us >= dry_commit_us(a) ||
		(a->tgt.in_txn && now - a->tgt.started_us >= max_age)) {
		if (!apply_flush(a, err))
			return false;
	} else if (!send_early(a, now, err))
		return false;
	measure(a, now);
	if (now - a->last_gc_us >= GC_EVERY_US) {
		a->last_gc_us = now;
		if (!collect(a, err))
			return false;
	}
	clock_sleep_ms(a->idle_ms);
	a->idle_ms = a->idle_ms * 2 > IDLE_SLEEP_MAX_MS ? IDLE_SLEEP_MAX_MS : a->idle_ms * 2;
	return true;
}

static bool
apply_loop(struct cdc_applier *a, struct pgs_error *err)
{
	unsigned n = 0;

	while (!atomic_load(&a->stop)) {
		struct spool_record rec;
		int got = spool_next(a->reader, &rec, err);

		if (got < 0)
			return false;
		if (got == 0) {
			if (!idle(a, err))
				return false;
			continue;
		}
		a->idle_ms = IDLE_SLEEP_MIN_MS;
		a->dry_since_us = 0;
		if (!apply_record(a, &rec, err))
			return false;
		/* a busy spool never idles: measure and collect on the way */
		if (++n % 4096 == 0) {
			measure(a, apply_now_us());
			if (apply_now_us() - a->last_gc_us >= GC_EVERY_US && !a->tgt.in_txn) {
				a->last_gc_us = apply_now_us();
				if (!collect(a, err))
					return false;
			}
		}
	}
	/* only whole source transactions are in the open target transaction */
	return apply_flush(a, err);
}

static int
cmp_table(const void *x, const void *y)
{
	return strcmp(*(char *const *) x, *(char *const *) y);
}

static void
copy_tables(struct cdc_applier *a, const struct catalog *cat)
{
	a->filtered = cat != NULL;
	if (!cat)
		return;
	a->tables = xcalloc(cat->ntables + 1, sizeof(char *));
	for (size_t i = 0; i < cat->ntables; i++)
		if (cat_table_copies_data(&cat->tables[i]))
			a->tables[a->ntables++] = xasprintf("%s\n%s", cat->tables[i].schema,
												cat->tables[i].name);
	qsort(a->tables, a->ntables, sizeof(char *), cmp_table);
	apply_expect_load(a, cat);
	for (size_t i = 0; i < cat->ntables; i++)
		for (size_t c = 0; c < cat->tables[i].ncols; c++) {
			const struct cat_table *t = &cat->tables[i];

			if (t->cols[c].identity != 'a')
				continue;
			a->always = xrealloc(a->always, (a->nalways + 1) * sizeof(char *));
			a->always[a->nalways++] = xasprintf("%s\n%s\n%s", t->schema, t->name,
												t->cols[c].name);
		}
	if (a->nalways)
		qsort(a->always, a->nalways, sizeof(char *), cmp_table);
}

static int
cmp_sync(const void *x, const void *y)
{
	uint32_t a = ((const struct cdc_table_sync *) x)->relid;
	uint32_t b = ((const struct cdc_table_sync *) y)->relid;

	return a < b ? -1 : a > b;
}

static void
copy_sync(struct cdc_applier *a, const struct cdc_applier_config *cfg)
{
	if (cfg->nsync == 0)
		return;
	a->sync = xcalloc(cfg->nsync, sizeof(*a->sync));
	memcpy(a->sync, cfg->sync, cfg->nsync * sizeof(*a->sync));
	a->nsync = cfg->nsync;
	qsort(a->sync, a->nsync, sizeof(*a->sync), cmp_sync);
}

static struct cdc_applier *
applier_new(const struct cdc_applier_config *cfg)
{
	struct cdc_applier *a = xcalloc(1, sizeof(*a));

	a->conninfo = xstrdup(cfg->conninfo);
	a->plan_name = xstrdup(cfg->plan_name);
	a->spool_dir = xstrdup(cfg->spool_dir);
	a->plan_file = cfg->plan_file ? xstrdup(cfg->plan_file) : NULL;
	a->app_name = xstrdup(cfg->app_name ? cfg->app_name : "pgshift cdc.catchup");
	a->resume = cfg->resume ? xstrdup(cfg->resume) : NULL;
	a->start_lsn = cfg->start_lsn;
	pg_backoff_init(&a->backoff, "the CDC applier", a->plan_file,
					cfg->reconnect_for_ms > 0 ? cfg->reconnect_for_ms : DEFAULT_RECONNECT_FOR_MS);
	pg_backoff_resume(&a->backoff, a->resume);
	a->batch_changes = cfg->batch_changes > 0 ? cfg->batch_changes : 10000;
	a->batch_ms = cfg->batch_ms > 0 ? cfg->batch_ms : 500;
	a->plan = cfg->plan;
	a->idle_ms = IDLE_SLEEP_MIN_MS;
	a->durable_lsn = cfg->durable_lsn;
	a->durable_arg = cfg->durable_arg;
	copy_tables(a, cfg->cat);
	copy_sync(a, cfg);
	buf_init(&a->txn.data);
	buf_init(&a->batch.data);
	a->rc = pgo_relcache_new();
	pthread_mutex_init(&a->error_lock, NULL);
	pgs_error_clear(&a->error);
	return a;
}

/* Target session, the applied LSN it recorded, and the spool from its oldest segment. */
static bool
prepare(struct cdc_applier *a, uint64_t start_lsn, struct pgs_error *err)
{
	bool found;
	uint64_t lsn;

	if (!apply_target_connect(&a->tgt, a->conninfo, a->app_name, err) ||
		!apply_target_read_applied(&a->tgt, a->plan_name, &found, &lsn, err) ||
		!apply_target_read_plain(&a->tgt, &a->plain, &a->nplain, err) ||
		!apply_target_pipeline(&a->tgt, err))
		return false;
	a->applied = a->next_applied = found ? lsn : start_lsn;
	a->gc_done = 0;
	atomic_store(&a->applied_lsn, a->applied);
	if (!apply_relfile_load(a, err))
		return false;
	/*
	 * From the oldest segment, not from the applied LSN: the first chunk of a
	 * streamed transaction still open may lie before it (GC kept it).
	 */
	return spool_open_reader(a->spool_dir, 0, &a->reader, err);
}

/* Back to what applier_new left: no connection, no reader, nothing held. */
static void
forget(struct cdc_applier *a)
{
	apply_target_close(&a->tgt);
	a->tgt.changes = 0;
	spool_close_reader(a->reader);
	a->reader = NULL;
	apply_txn_state_reset(a);
	apply_rels_free(a);
	pgo_relcache_free(a->rc);
	a->rc = pgo_relcache_new();
}

static bool
reconnect(struct cdc_applier *a, struct pgs_error *err)
{
	do {
		forget(a);
		if (!pg_backoff_wait(&a->backoff, err, &a->stop, err))
			return false;
		/* a fresh error each attempt: no SQLSTATE of the last one may linger */
		pgs_error_clear(err);
		if (prepare(a, a->start_lsn, err)) {
			pg_backoff_done(&a->backoff);
			return true;
		}
	} while (pg_error_is_connection(err));
	return false;
}

static void *
applier_main(void *arg)
{
	struct cdc_applier *a = arg;
	struct pgs_error err;
	bool ok;

	log_set_context("cdc.catchup", NULL);
	pgs_error_clear(&err);
	while (!(ok = apply_loop(a, &err)) && !atomic_load(&a->stop) &&
		   pg_error_is_connection(&err) && reconnect(a, &err))
		pgs_error_clear(&err);
	if (!ok) {
		pthread_mutex_lock(&a->error_lock);
		a->error = err;
		pthread_mutex_unlock(&a->error_lock);
		atomic_store(&a->failed, true);
	}
	apply_target_close(&a->tgt);
	atomic_store(&a->running, false);
	return NULL;
}

bool
cdc_applier_start(const struct cdc_applier_config *cfg, struct cdc_applier **out,
				  struct pgs_error *err)
{
	struct cdc_applier *a = applier_new(cfg);

	*out = NULL;
	if (!prepare(a, cfg->start_lsn, err)) {
		pgs_error_prefix(err, "could not start the CDC applier of plan \"%s\"", a->plan_name);
		goto fail;
	}
	a->last_gc_us = apply_now_us();
	atomic_store(&a->running, true);
	if (pthread_create(&a->thread, NULL, applier_main, a) != 0) {
		atomic_store(&a->running, false);
		pgs_fail(err, "could not start the CDC applier thread of plan \"%s\"", a->plan_name);
		goto fail;
	}
	a->started = true;
	*out = a;
	return true;

fail:
	apply_target_close(&a->tgt);
	cdc_applier_free(a);
	return false;
}

void
cdc_applier_stats(struct cdc_applier *a, struct cdc_applier_stats *out)
{
	uint64_t durable = a->durable_lsn ? a->durable_lsn(a->durable_arg) : 0;

	out->applied_lsn = atomic_load(&a->applied_lsn);
	out->applied_commit_time = atomic_load(&a->commit_time);
	out->changes = atomic_load(&a->changes);
	out->transactions = atomic_load(&a->transactions);
	out->batches = atomic_load(&a->batches);
	out->changes_per_sec = atomic_load(&a->rate);
	out->lag_bytes = !a->durable_lsn ? -1 :
		durable > out->applied_lsn ? (int64_t) (durable - out->applied_lsn) : 0;
	out->running = atomic_load(&a->running);
	out->failed = atomic_load(&a->failed);
}

uint64_t
cdc_applier_applied_lsn(void *applier)
{
	struct cdc_applier *a = applier;

	return atomic_load(&a->applied_lsn);
}

int64_t
cdc_applier_commit_time(void *applier)
{
	struct cdc_applier *a = applier;

	return atomic_load(&a->commit_time);
}

bool
cdc_applier_error(struct cdc_applier *a, struct pgs_error *err)
{
	if (!atomic_load(&a->failed))
		return false;
	pthread_mutex_lock(&a->error_lock);
	*err = a->error;
	pthread_mutex_unlock(&a->error_lock);
	return true;
}

bool
cdc_applier_stop(struct cdc_applier *a, struct pgs_error *err)
{
	atomic_store(&a->stop, true);
	if (a->started && !a->joined) {
		pthread_join(a->thread, NULL);
		a->joined = true;
	}
	return !cdc_applier_error(a, err);
}

void
cdc_applier_free(struct cdc_applier *a)
{
	struct pgs_error ignored;

	if (!a)
		return;
	cdc_applier_stop(a, &ignored);
	spool_close_reader(a->reader);
	apply_txn_state_free(a);
	apply_batch_free(&a->batch);
	apply_rels_free(a);
	pgo_relcache_free(a->rc);
	for (size_t i = 0; i < a->ntables; i++)
		free(a->tables[i]);
	free(a->tables);
	free(a->sync);
	apply_expect_free(a);
	for (size_t i = 0; i < a->nalways; i++)
		free(a->always[i]);
	free(a->always);
	for (size_t i = 0; i < a->nplain; i++)
		free(a->plain[i]);
	free(a->plain);
	pthread_mutex_destroy(&a->error_lock);
	free(a->conninfo);
	free(a->plan_name);
	free(a->spool_dir);
	free(a->plan_file);
	free(a->app_name);
	free(a->resume);
	free(a);
}
