/*
 * Progress of a running apply: every step's start and end recorded in the
 * target's state and logged; on a terminal a live view of running steps
 * (bytes done/total, rows, rate, ETA) and an overall bar, redrawn every
 * second; plain log lines otherwise (no TTY, --no-progress, JSON logs).
 */
#ifndef PGSHIFT_RUN_PROGRESS_H
#define PGSHIFT_RUN_PROGRESS_H

#include <stdbool.h>

#include "run/run.h"

void progress_step_started(struct run *run, size_t step);
void progress_step_finished(struct run *run, size_t step, bool ok, const struct pgs_error *err);
/*
 * The scheduler's once-a-second tick: the rows and bytes of every running
 * step that moved since the last tick go into the state, so `status` from
 * another shell shows a running copy's progress.
 */
void progress_tick(struct run *run);
/* live: draw the live view when stderr is a terminal. */
void progress_start(struct run *run, bool live);
void progress_stop(struct run *run);

#endif
