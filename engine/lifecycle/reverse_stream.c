/*
 * The reverse stream's threads; see reverse_stream.h. Like run_cdc.c, each
 * thread reads the other's position through a callback that looks it up
 * under rs->lock, and the lock is never held while a thread is joined.
 */
#include <stdlib.h>

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
	if (rs->applier)
		lsn = cdc_applier_applied_lsn(rs->applier);
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
	pthread_mutex_unlock(&rs->lock);
	return st.durable_lsn;
}

bool
reverse_stream_start(struct reverse_stream *rs, const struct plan *plan, uint64_t start_lsn,
					 struct pgs_error *err)
{
	struct cdc_receiver_config rcfg = {
		.conninfo = plan->target_uri,
		.slot = plan->rollback.slot,
		.publication = plan->rollback.publication,
		.spool_dir = plan->rollback.spool_dir,
		.start_lsn = start_lsn,
		.feedback_ms = 1000,
		.reconnect_for_ms = plan->cdc.reconnect_for_ms,
		.plan_file = plan->file,
		.applied_lsn = applied_lsn,
		.applied_arg = rs,
	};
	struct cdc_applier_config acfg = {
		.conninfo = plan->source_uri,
		.plan_name = plan->rollback.slot,
		.spool_dir = plan->rollback.spool_dir,
		.start_lsn = start_lsn,
		.reconnect_for_ms = plan->cdc.reconnect_for_ms,
		.plan_file = plan->file,
		/* the reverse publication lists exactly the migrated tables whose data moved */
		.cat = NULL,
		.durable_lsn = durable_lsn,
		.durable_arg = rs,
	};
	struct cdc_receiver *r;
	struct cdc_applier *a;

	pthread_mutex_init(&rs->lock, NULL);
	rs->receiver = NULL;
	rs->applier = NULL;
	if (!spool_claim(plan->rollback.spool_dir, plan->name, plan->rollback.slot, err) ||
		!cdc_receiver_start(&rcfg, &r, err)) {
		pgs_error_prefix(err, "the reverse stream (target -> source)");
		return false;
	}
	pthread_mutex_lock(&rs->lock);
	rs->receiver = r;
	pthread_mutex_unlock(&rs->lock);
	if (!cdc_applier_start(&acfg, &a, err)) {
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
		rs->applier = NULL;
		pthread_mutex_unlock(&rs->lock);
		cdc_applier_free(a);
	}
	pthread_mutex_lock(&rs->lock);
	r = rs->receiver;
	rs->receiver = NULL;
	pthread_mutex_unlock(&rs->lock);
	if (r) {
		pgs_error_clear(&e2);
		if (!cdc_receiver_stop(r, &e2) && ok) {
			pgs_error_swap_sides(&e2);
			*err = e2;
			ok = false;
		}
		cdc_receiver_free(r);
	}
	return ok;
}
