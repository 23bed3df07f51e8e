/*
 * The reverse stream's threads; see reverse_stream.h. Like run_cdc.c, each
 * thread reads the other's position through a callback that looks it up
 * under rs->lock, and the lock is never held while a thread is joined.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/spool_owner.h"
#include "lifecycle/reverse_stream.h"
#include "pg/retry.h"
#include "util/log.h"

static uint64_t
applied_lsn(void *arg)
{
	struct reverse_stream *rs = arg;
	uint64_t lsn = 0;

	pthread_mutex_lock(&rs->lock);
	lsn = rs->applier ? cdc_applier_applied_lsn(rs->applier) : rs->last_applied;
	pthread_mutex_unlock(&rs->lock);
	return lsn;
}

static uint64_t
durable_lsn(void *arg)
{
	struct reverse_stream *rs = arg;
	struct cdc_receiver_stats st = {0};

	pthread_mutex_lock(&rs->lock);
	if (rs->receiver)
		cdc_receiver_stats(rs->receiver, &st);
	else
		st.durable_lsn = rs->last_durable;
	pthread_mutex_unlock(&rs->lock);
	return st.durable_lsn;
}

bool
reverse_stream_start(struct reverse_stream *rs, const struct plan *plan, uint64_t start_lsn,
					 const char *app_name, struct pgs_error *err)
{
	struct cdc_receiver_config rcfg;
	struct cdc_applier_config acfg;
	struct cdc_receiver *r;
	struct cdc_applier *a;

	snprintf(rs->resume, sizeof(rs->resume), "`pgshift rollback %s --follow` (or the rollback "
			 "itself)", plan->file);
	rcfg = (struct cdc_receiver_config) {
		.conninfo = plan->target_uri,
		.slot = plan->rollback.slot,
		.publication = plan->rollback.publication,
		.spool_dir = plan->rollback.spool_dir,
		.start_lsn = start_lsn,
		.feedback_ms = 1000,
		.reconnect_for_ms = plan->cdc.reconnect_for_ms,
		.plan_file = plan->file,
		.resume = rs->resume,
		.applied_lsn = applied_lsn,
		.applied_arg = rs,
	};
	acfg = (struct cdc_applier_config) {
		.conninfo = plan->source_uri,
		.plan_name = plan->rollback.slot,
		.spool_dir = plan->rollback.spool_dir,
		.start_lsn = start_lsn,
		.reconnect_for_ms = plan->cdc.reconnect_for_ms,
		.plan_file = plan->file,
		.app_name = app_name,
		.resume = rs->resume,
		/* the reverse publication lists exactly the migrated tables whose data moved */
		.cat = NULL,
		.durable_lsn = durable_lsn,
		.durable_arg = rs,
	};
	pthread_mutex_init(&rs->lock, NULL);
	rs->receiver = NULL;
	rs->applier = NULL;
	rs->last_durable = 0;
	rs->last_applied = 0;
	rs->plan_file = plan->file;
	if (!spool_claim(plan->rollback.spool_dir, plan->name, plan->rollback.slot, err)) {
		pgs_error_prefix(err, "the reverse stream (target -> source)");
		return false;
	}
	if (!cdc_receiver_start(&rcfg, &r, err)) {
		/* the receiver's messages name the server it reads from the source */
		pgs_error_swap_sides(err);
		pgs_error_prefix(err, "the reverse stream (target -> source)");
		return false;
	}
	pthread_mutex_lock(&rs->lock);
	rs->receiver = r;
	pthread_mutex_unlock(&rs->lock);
	if (!cdc_applier_start(&acfg, &a, err)) {
		pgs_error_swap_sides(err);
		pgs_error_prefix(err, "the reverse stream (target -> source)");
		reverse_stream_stop(rs, &(struct pgs_error) {0});
		return false;
	}
	pthread_mutex_lock(&rs->lock);
	rs->applier = a;
	pthread_mutex_unlock(&rs->lock);
	log_info("rollback: streaming the changes of replication slot \"%s\" on the target into the "
			 "source (spool %s)", plan->rollback.slot, plan->rollback.spool_dir);
	return true;
}

void
reverse_stream_positions(struct reverse_stream *rs, uint64_t *durable, uint64_t *applied)
{
	*durable = durable_lsn(rs);
	*applied = applied_lsn(rs);
}

/*
 * The reverse stream carries no DDL: a column added or retyped on the target
 * since the cutover reaches the source as rows it cannot take. The source
 * is fenced, so the fix needs a writable session there.
 */
static void
hint_schema_change(const struct reverse_stream *rs, struct pgs_error *err)
{
	/* undefined column or table, datatype mismatch; invalid text, too long, out of range */
	static const char *const codes[] = {"42703", "42P01", "42804", "22P02", "22001", "22003"};
	size_t i = 0;

	while (i < sizeof(codes) / sizeof(codes[0]) && strcmp(err->sqlstate, codes[i]) != 0)
		i++;
	if (i == sizeof(codes) / sizeof(codes[0]))
		return;
	pgs_error_hint(err, "a schema change made on the target after the cutover is not carried "
				   "back: make the source's table match the target's (a column added there: "
				   "ALTER TABLE ... ADD COLUMN on the source, in a session that first runs SET "
				   "default_transaction_read_only = off, or in a BEGIN READ WRITE transaction, "
				   "as the source is fenced), then run `pgshift rollback %s --yes` (or --follow) "
				   "again: it continues from the change that failed", rs->plan_file);
}

bool
reverse_stream_ok(struct reverse_stream *rs, struct pgs_error *err)
{
	bool failed = false;

	pthread_mutex_lock(&rs->lock);
	if (rs->receiver && cdc_receiver_error(rs->receiver, err)) {
		pgs_error_swap_sides(err);
		if (!pg_error_is_connection(err))
			pgs_error_prefix(err, "the reverse stream's receiver (target slot) stopped");
		failed = true;
	} else if (rs->applier && cdc_applier_error(rs->applier, err)) {
		pgs_error_swap_sides(err);
		if (!pg_error_is_connection(err))
			pgs_error_prefix(err, "the reverse stream's applier (into the source) stopped");
		hint_schema_change(rs, err);
		failed = true;
	}
	pthread_mutex_unlock(&rs->lock);
	return !failed;
}

bool
reverse_stream_stop(struct reverse_stream *rs, struct pgs_error *err)
{
	struct cdc_applier *a;
	struct cdc_receiver *r;
	struct pgs_error e2;
	bool ok = true;

	pthread_mutex_lock(&rs->lock);
	a = rs->applier;
	pthread_mutex_unlock(&rs->lock);
	if (a) {
		ok = cdc_applier_stop(a, err);
		if (!ok)
			pgs_error_swap_sides(err);
		pthread_mutex_lock(&rs->lock);
		rs->last_applied = cdc_applier_applied_lsn(a);
		rs->applier = NULL;
		pthread_mutex_unlock(&rs->lock);
		cdc_applier_free(a);
	}
	pthread_mutex_lock(&rs->lock);
	r = rs->receiver;
	rs->receiver = NULL;
	pthread_mutex_unlock(&rs->lock);
	if (r) {
		struct cdc_receiver_stats st = {0};

		pgs_error_clear(&e2);
		if (!cdc_receiver_stop(r, &e2) && ok) {
			pgs_error_swap_sides(&e2);
			*err = e2;
			ok = false;
		}
		cdc_receiver_stats(r, &st);
		pthread_mutex_lock(&rs->lock);
		rs->last_durable = st.durable_lsn;
		pthread_mutex_unlock(&rs->lock);
		cdc_receiver_free(r);
	}
	return ok;
}
