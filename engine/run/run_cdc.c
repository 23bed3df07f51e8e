/*
 * The run's CDC threads; see run_cdc.h. Each thread reads the other's
 * position through a callback that looks the other up under cdc_lock, so
 * neither needs the other to exist: the receiver runs alone during the copy,
 * and run_cdc_stop can take one away while the other still runs. cdc_lock is
 * never held while a thread is joined (the callbacks take it).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cdc/apply.h"
#include "cdc/cdc_receive.h"
#include "cdc/cdc_slot.h"
#include "cdc/spool_owner.h"
#include "cdc/pgoutput.h"
#include "pg/conn.h"
#include "pg/retry.h"
#include "run/run_cdc.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/xalloc.h"

/* The receiver's applied_lsn callback: the applier's, 0 before it starts, or where it stopped. */
static uint64_t
run_applied_lsn(void *arg)
{
	struct run *run = arg;
	uint64_t lsn;

	pthread_mutex_lock(&run->cdc_lock);
	lsn = run->applied_at_stop;
	if (run->applier)
		lsn = cdc_applier_applied_lsn(run->applier);
	pthread_mutex_unlock(&run->cdc_lock);
	return lsn;
}

/* The applier's durable_lsn callback: how far the spool is fdatasynced. */
static uint64_t
run_durable_lsn(void *arg)
{
	struct run *run = arg;
	struct cdc_receiver_stats st = {0};

	pthread_mutex_lock(&run->cdc_lock);
	if (run->receiver)
		cdc_receiver_stats(run->receiver, &st);
	pthread_mutex_unlock(&run->cdc_lock);
	return st.durable_lsn;
}

bool
run_cdc_start_receiver(struct run *run, struct pgs_error *err)
{
	const struct plan *plan = run->plan;
	struct cdc_receiver_config cfg = {
		.conninfo = plan->source_uri,
		.slot = plan->cdc.slot,
		.publication = plan->cdc.publication,
		.spool_dir = plan->cdc.spool_dir,
		.start_lsn = run->cdc_start_lsn,
		.reconnect_for_ms = plan->cdc.reconnect_for_ms,
		.plan_file = plan->file,
		/* confirm the spool every second: the source releases WAL that soon */
		.feedback_ms = 1000,
		.messages = plan->cdc.ddl == DDL_REPLICATE,
		.applied_lsn = run_applied_lsn,
		.applied_arg = run,
	};
	struct cdc_receiver *r;

	if (run->receiver)
		return true;
	if (!spool_claim(plan->cdc.spool_dir, plan->name, plan->cdc.slot, err) ||
		!cdc_receiver_start(&cfg, &r, err))
		return false;
	pthread_mutex_lock(&run->cdc_lock);
	run->receiver = r;
	pthread_mutex_unlock(&run->cdc_lock);
	log_info("cdc: receiving changes of replication slot \"%s\" into %s", plan->cdc.slot,
			 plan->cdc.spool_dir);
	return true;
}

/*
 * The tables a resume copied again, by source oid, with their sync points
 * (malloc'd, *n entries). A recorded table no longer in the catalog has no
 * change to skip.
 */
static bool
read_sync_points(struct run *run, struct cdc_table_sync **out, size_t *n, struct pgs_error *err)
{
	struct table_sync *rows;
	size_t nrows;

	*out = NULL;
	*n = 0;
	if (!state_list_table_sync(run->state, &rows, &nrows, err))
		return false;
	*out = xcalloc(nrows + 1, sizeof(**out));
	for (size_t i = 0; i < nrows; i++) {
		const struct cat_table *t = catalog_find_table(run->cat, rows[i].schema, rows[i].table);
		uint64_t lsn;

		if (!t || !cdc_lsn_parse(rows[i].lsn, &lsn))
			continue;
		(*out)[*n].relid = t->oid;
		(*out)[(*n)++].lsn = lsn;
		log_info("cdc: table %s.%s was copied again at %s: its changes that committed before "
				 "are in that copy and are skipped", t->schema, t->name, rows[i].lsn);
	}
	table_sync_free(rows, nrows);
	return true;
}

bool
run_cdc_start_applier(struct run *run, struct pgs_error *err)
{
	const struct plan *plan = run->plan;
	struct cdc_applier_config cfg = {
		.conninfo = plan->target_uri,
		.plan_name = plan->name,
		.spool_dir = plan->cdc.spool_dir,
		.start_lsn = run->cdc_start_lsn,
		.reconnect_for_ms = plan->cdc.reconnect_for_ms,
		.plan_file = plan->file,
		.cat = run->cat,
		.plan = plan,
		.durable_lsn = run_durable_lsn,
		.durable_arg = run,
	};
	struct cdc_applier *a;
	struct cdc_table_sync *sync;
	bool ok;

	if (run->applier)
		return true;
	if (!spool_claim(plan->cdc.spool_dir, plan->name, plan->cdc.slot, err) ||
		!read_sync_points(run, &sync, &cfg.nsync, err))
		return false;
	cfg.sync = sync;
	ok = cdc_applier_start(&cfg, &a, err);
	free(sync);
	if (!ok)
		return false;
	pthread_mutex_lock(&run->cdc_lock);
	run->applier = a;
	pthread_mutex_unlock(&run->cdc_lock);
	log_info("cdc: applying the spooled changes of plan \"%s\" on the target", plan->name);
	return true;
}

static bool
thread_error(struct run *run, struct pgs_error *err)
{
	bool failed = false;

	pthread_mutex_lock(&run->cdc_lock);
	/* a lost connection given up on says itself which thread it was */
	if (run->receiver && cdc_receiver_error(run->receiver, err)) {
		if (!pg_error_is_connection(err))
			pgs_error_prefix(err, "the CDC receiver of replication slot \"%s\" stopped",
							 run->plan->cdc.slot);
		snprintf(err->step, sizeof(err->step), "cdc.stream");
		failed = true;
	} else if (run->applier && cdc_applier_error(run->applier, err)) {
		if (!pg_error_is_connection(err))
			pgs_error_prefix(err, "the CDC applier stopped");
		snprintf(err->step, sizeof(err->step), "cdc.catchup");
		failed = true;
	}
	pthread_mutex_unlock(&run->cdc_lock);
	return failed;
}

bool
run_cdc_threads_ok(struct run *run, struct pgs_error *err)
{
	return !thread_error(run, err);
}

bool
run_cdc_tick(struct run *run, struct pgs_error *err)
{
	struct run_cdc_view v;
	char lsn[PGO_LSN_TEXT_SIZE], source[PGO_LSN_TEXT_SIZE], lag[32];
	struct pgs_error werr;

	if (thread_error(run, err) || !state_check_lock(run->state, err))
		return false;
	run_cdc_view(run, &v);
	if (!v.receiving)
		return true;
	run_cdc_read_source_lsn(run);
	v.source_lsn = atomic_load(&run->source_lsn);
	v.source_lag_s = atomic_load(&run->source_lag_s);
	if (v.durable_lsn <= run->reported_received && v.source_lsn <= run->reported_source &&
		v.source_lag_s == run->reported_lag_s)
		return true;
	pgo_lsn_text(v.durable_lsn, lsn);
	pgo_lsn_text(v.source_lsn, source);
	snprintf(lag, sizeof(lag), "%.3f", v.source_lag_s);
	pgs_error_clear(&werr);
	/* status only: a failed write is said, not fatal */
	if (state_set_received_lsn(run->state, v.source_lsn ? source : NULL, v.source_lsn ? lag : NULL,
							   lsn, &werr)) {
		run->reported_received = v.durable_lsn;
		run->reported_source = v.source_lsn;
		run->reported_lag_s = v.source_lag_s;
	} else {
		log_report(LOG_WARNING, &werr);
	}
	return true;
}

/*
 * Only calls that take no lock of the run: the applier's full stats would
 * call run_durable_lsn, which takes cdc_lock again.
 */
void
run_cdc_view(struct run *run, struct run_cdc_view *out)
{
	struct cdc_receiver_stats rs = {0};

	pthread_mutex_lock(&run->cdc_lock);
	out->receiving = run->receiver != NULL;
	out->applying = run->applier != NULL;
	if (run->receiver)
		cdc_receiver_stats(run->receiver, &rs);
	out->applied_lsn = run->applier ? cdc_applier_applied_lsn(run->applier) : run->applied_at_stop;
	out->applied_commit_time = run->applier ? cdc_applier_commit_time(run->applier) : 0;
	pthread_mutex_unlock(&run->cdc_lock);
	if (!out->applied_lsn)
		out->applied_lsn = run->cdc_start_lsn;
	out->durable_lsn = rs.durable_lsn;
	out->source_lsn = atomic_load(&run->source_lsn);
	out->source_lag_s = atomic_load(&run->source_lag_s);
}

bool
run_cdc_stop_applier(struct run *run, struct pgs_error *err)
{
	struct cdc_applier *a;
	bool ok = true;

	pthread_mutex_lock(&run->cdc_lock);
	a = run->applier;
	pthread_mutex_unlock(&run->cdc_lock);
	if (!a)
		return true;
	ok = cdc_applier_stop(a, err);
	if (!ok && !pg_error_is_connection(err))
		pgs_error_prefix(err, "the CDC applier failed");
	pthread_mutex_lock(&run->cdc_lock);
	run->applied_at_stop = cdc_applier_applied_lsn(a);
	run->applier = NULL;
	pthread_mutex_unlock(&run->cdc_lock);
	cdc_applier_free(a);
	return ok;
}

bool
run_cdc_stop(struct run *run, struct pgs_error *err)
{
	struct cdc_receiver *r;
	struct pgs_error e2;
	bool ok = run_cdc_stop_applier(run, err);

	pthread_mutex_lock(&run->cdc_lock);
	r = run->receiver;
	run->receiver = NULL;
	pthread_mutex_unlock(&run->cdc_lock);
	if (r) {
		pgs_error_clear(&e2);
		if (!cdc_receiver_stop(r, &e2) && ok) {
			*err = e2;
			if (!pg_error_is_connection(err))
				pgs_error_prefix(err, "the CDC receiver of replication slot \"%s\" failed",
								 run->plan->cdc.slot);
			ok = false;
		}
		cdc_receiver_free(r);
	}
	run_cdc_close_source(run);
	return ok;
}

static bool
step_done(struct run *run, const bool *done, enum step_kind kind)
{
	for (size_t i = 0; i < run->dag->n; i++)
		if (run->dag->steps[i].kind == kind)
			return done[i];
	return false;
}

/*
 * One TRUNCATE of every migrated table: in one statement, foreign keys
 * among them (built by the earlier attempt) do not stop it. Partitioned
 * roots are listed too (whole: TRUNCATE ONLY refuses them), since FKs
 * between partitioned tables hang on the roots; every table and leaf is
 * listed ONLY, so an inheritance child the filters left out keeps its rows.
 * A leaf listed again under its root is truncated once.
 */
static bool
truncate_all(struct run *run, struct pgs_error *err)
{
	const struct catalog *cat = run->cat;
	PGconn *dst = run_connect_target(run, "copy prepare", err);
	struct buf sql;
	size_t n = 0;
	bool ok;

	if (!dst)
		return false;
	buf_init(&sql);
	buf_puts(&sql, "TRUNCATE TABLE ");
	for (size_t i = 0; i < cat->ntables; i++) {
		const struct cat_table *t = &cat->tables[i];
		char *q;

		if (t->relkind == 'p' && t->is_partition)
			continue;
		q = pg_quote_qualified(dst, t->schema, t->name);
		buf_printf(&sql, "%s%s%s", n++ ? ", " : "", t->relkind == 'p' ? "" : "ONLY ", q);
		free(q);
	}
	ok = n == 0 || (pg_exec(dst, "BEGIN", 0, NULL, err) &&
					pg_exec(dst, "SET LOCAL session_replication_role = replica", 0, NULL, err) &&
					pg_exec(dst, sql.data, 0, NULL, err) && pg_exec(dst, "COMMIT", 0, NULL, err));
	if (!ok) {
		pgs_error_prefix(err, "could not empty the migrated tables on the target before copying "
						 "them again");
		pgs_error_hint(err, "start over with pgshift reset PLAN --yes, then apply");
	}
	buf_free(&sql);
	PQfinish(dst);
	return ok;
}

static bool
restart_copy(struct run *run, const bool *done, struct pgs_error *err)
{
	const struct plan *plan = run->plan;
	PGconn *src = run_connect_source(run, "snapshot", err);
	bool ok;

	if (!src)
		return false;
	ok = cdc_drop_slot(src, plan->cdc.slot, NULL, err);
	PQfinish(src);
	if (!ok)
		return false;
	if (!spool_remove_own(plan->cdc.spool_dir, plan->name, err))
		return false;
	log_info("resume: the previous run stopped before replication slot \"%s\" had its "
			 "consistent point recorded: the slot is created again and every table copied",
			 plan->cdc.slot);
	if (!step_done(run, done, STEP_SCHEMA_PRE))
		return true;
	run->copy_pretruncated = true;
	return truncate_all(run, err);
}

bool
run_is_last_catchup(const struct plan *plan, const struct cutover_step *cs)
{
	const struct cutover_step *last = NULL;

	for (size_t i = 0; i < plan->cutover.nsteps; i++)
		if (plan->cutover.steps[i].kind == CUTOVER_WAIT_FOR_CATCHUP)
			last = &plan->cutover.steps[i];
	return last == cs;
}

/*
 * The last wait_for_catchup done: the applier stopped there and the held
 * triggers got their state back, so a resume must not replay (and fire
 * them) again.
 */
static bool
catchup_waited(struct run *run, const bool *done)
{
	for (size_t i = 0; i < run->dag->n; i++)
		if (run->dag->steps[i].kind == STEP_CUTOVER && done[i] &&
			run_is_last_catchup(run->plan, &run->plan->cutover.steps[run->dag->steps[i].object]))
			return true;
	return false;
}

/*
 * Only cleanup is left: the cutover is past, nothing is replayed any more,
 * and the cleanup that died may already have removed the spool (a receiver
 * started on it would find the slot confirmed past its empty spool).
 */
static bool
only_cleanup_left(struct run *run, const bool *done)
{
	for (size_t i = 0; i < run->dag->n; i++) {
		const struct step *st = &run->dag->steps[i];

		if (st->kind != STEP_CLEANUP)
			continue;
		for (size_t k = 0; k < st->ndeps; k++)
			if (!done[step_deps(run->dag, st)[k]])
				return false;
		return true;
	}
	return false;
}

bool
run_cdc_prepare_resume(struct run *run, const bool *done, bool recopy, struct pgs_error *err)
{
	if (!run->plan->cdc.enabled || step_done(run, done, STEP_CLEANUP) ||
		only_cleanup_left(run, done))
		return true;
	if (recopy)
		return restart_copy(run, done, err);
	if (step_done(run, done, STEP_CDC_STREAM) && !run_cdc_start_receiver(run, err))
		return false;
	return !step_done(run, done, STEP_CDC_CATCHUP) || catchup_waited(run, done) ||
		run_cdc_start_applier(run, err);
}
