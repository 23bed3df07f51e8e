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
/* live: draw the live view when stderr is a terminal. */
void progress_start(struct run *run, bool live);
void progress_stop(struct run *run);

#endif
