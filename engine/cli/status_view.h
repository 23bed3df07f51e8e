/*
 * What `pgshift status` shows: the run read from the state, its steps
 * grouped by the stages of the plan's DAG (compiled offline, so stage order
 * matches `plan`), plus the DAG's fixed steps not started yet as pending.
 * Rendered as text for people or as one line of JSON for tools.
 */
#ifndef PGSHIFT_CLI_STATUS_VIEW_H
#define PGSHIFT_CLI_STATUS_VIEW_H

#include <stdio.h>

#include "dag/dag.h"
#include "state/state.h"
#include "util/buf.h"

struct status_row {
	const char *id;
	const char *stage;
	const struct step_state *st;        /* NULL: a DAG step with no state row yet (pending) */
};

struct status_stage {
	const char *name;
	int done, running, failed, pending;
};

struct status_view {
	const struct plan *plan;
	const struct run_state *rs;
	struct status_row *rows;            /* owned; by stage, then DAG order, then start time */
	size_t nrows;
	struct status_stage *stages;        /* owned; in DAG order */
	size_t nstages;
};

void status_view_build(struct status_view *v, const struct plan *plan, const struct dag *dag,
					   const struct run_state *rs);
void status_view_free(struct status_view *v);

void status_render_text(FILE *out, const struct status_view *v, const char *target_shown);
/* Pieces of the text form, shared with the compact view of --watch. */
void status_render_header(FILE *out, const struct status_view *v, const char *target_shown);
void status_render_step_titles(FILE *out);
void status_render_step(FILE *out, const struct status_row *r, double now);
/*
 * `status --watch` on a terminal: a view of at most rows lines of at most
 * cols - 1 characters (status_compact.c): the header, one line of totals
 * per stage, then only the running and failed steps, as many as fit, and
 * how many more there are.
 */
void status_render_compact(FILE *out, const struct status_view *v, const char *target_shown,
						   int cols, int rows);
/*
 * One line of JSON (so --watch --json gives JSON lines):
 * {plan, run_id, plan_sha256, status, started_at, updated_at, finished_at,
 *  approved, approved_at, approved_by, fenced, source_lsn, received_lsn,
 *  applied_lsn, lag_bytes, receive_lag_bytes, apply_lag_bytes, lag_seconds,
 *  error,
 *  stages: [{stage, done, running, failed, pending}],
 *  steps: [{id, stage, status, attempts, rows, bytes, total_bytes,
 *           started_at, finished_at, error}]}
 * Times are UTC "YYYY-MM-DDTHH:MM:SSZ" or null; unknown LSNs and lags null.
 */
void status_render_json(struct buf *b, const struct status_view *v);

#endif
