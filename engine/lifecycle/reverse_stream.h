/*
 * The reverse stream's two threads (rollback.enabled, README "Rollback"):
 * the CDC receiver reads the TARGET's reverse slot into the reverse spool,
 * the CDC applier replays it into the source, committing its applied LSN in
 * the source's pgshift.runs row of the reverse stream (reverse_state.h) with
 * the changes. The same code as the forward direction, so the same
 * guarantees: a kill -9 anywhere resumes from the spool's durable LSN and
 * the applied LSN, no change lost or applied twice.
 */
#ifndef PGSHIFT_LIFECYCLE_REVERSE_STREAM_H
#define PGSHIFT_LIFECYCLE_REVERSE_STREAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cdc/apply.h"
#include "cdc/cdc_receive.h"
#include "plan/plan.h"
#include "util/error.h"

struct reverse_stream {
	pthread_mutex_t lock;       /* guards the two pointers, which each thread's callback reads */
	struct cdc_receiver *receiver;  /* owned */
	struct cdc_applier *applier;    /* owned */
	char resume[512];           /* the command that resumes, for the threads' hints */
	uint64_t last_durable, last_applied;   /* where the threads were when stopped */
	const char *plan_file;      /* borrowed: named in hints */
};

/*
 * Starts both threads; start_lsn is the reverse slot's consistent point,
 * used only by an empty spool and a source row without an applied LSN.
 * app_name names the applier's session on the source (NULL: the applier's
 * default), so a rollback stopped by a signal can cancel what it applies.
 */
bool reverse_stream_start(struct reverse_stream *rs, const struct plan *plan, uint64_t start_lsn,
						  const char *app_name, struct pgs_error *err);

/* The spool's durable LSN and the applied LSN (0 when unknown); once stopped, the last ones. */
void reverse_stream_positions(struct reverse_stream *rs, uint64_t *durable, uint64_t *applied);

/*
 * False with the error of a thread that ended on one; a change the source
 * refuses for a column or type it lacks gets the hint of a schema change made
 * on the target after the cutover.
 */
bool reverse_stream_ok(struct reverse_stream *rs, struct pgs_error *err);

/* Stops the applier (it commits what it applied), then the receiver; safe twice. */
bool reverse_stream_stop(struct reverse_stream *rs, struct pgs_error *err);

#endif
