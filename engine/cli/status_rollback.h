/*
 * What `pgshift status` says about the reverse stream of rollback.enabled
 * (README "Rollback"): its row on the source (reverse_state.h) and the
 * target's WAL position now, both read on read-only sessions, so it works
 * while `rollback --follow` runs. lag_bytes = target WAL - applied into the
 * source, the same definition as the forward lag.
 */
#ifndef PGSHIFT_CLI_STATUS_ROLLBACK_H
#define PGSHIFT_CLI_STATUS_ROLLBACK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cdc/pgoutput.h"
#include "plan/plan.h"
#include "util/buf.h"

struct rollback_status {
	bool found;                 /* the source holds the reverse row */
	char status[16];            /* the row's: running, finished, failed, interrupted */
	bool target_fenced;         /* the target database's own setting, read also without the row */
	bool streaming;             /* a rollback or rollback --follow holds the stream's lock */
	double started_at, keep_until, now;    /* unix seconds, the source's clock */
	/* "" unknown; target_lsn is read now, or the one the follower recorded */
	char target_lsn[PGO_LSN_TEXT_SIZE], received_lsn[PGO_LSN_TEXT_SIZE], applied_lsn[PGO_LSN_TEXT_SIZE];
	int64_t lag_bytes;          /* -1 unknown */
	char error[512];            /* the last rollback's failure; "" none */
};

/*
 * found false when rollback is off, the source has no row or cannot be read
 * (a warning); the target is read whenever rollback is on.
 */
void status_rollback_read(const struct plan *plan, struct rollback_status *out);
void status_rollback_text(FILE *f, const struct rollback_status *rs);
/*
 * `"rollback":{...}` (no leading comma); status null without the row, and
 * the row's running told apart: streaming (a rollback or --follow holds the
 * lock) or kept (nothing streams it now)
 */
void status_rollback_json(struct buf *b, const struct rollback_status *rs);

#endif
