/*
 * The events of one apply (DESIGN.md §5): run.started/finished/failed;
 * STAGE.started before a stage's first step runs and STAGE.finished after
 * its last one (or STAGE.failed when one of its steps fails);
 * copy.table.finished once every copy part of a table is done;
 * cutover.gate when the gate starts waiting; cdc.lag every 60 s while CDC
 * runs. Stage and step events are emitted on the step's own worker thread,
 * so a sink that refuses one (a Lua hook) fails that very step.
 */
#ifndef PGSHIFT_RUN_RUN_EVENTS_H
#define PGSHIFT_RUN_RUN_EVENTS_H

#include <stdbool.h>

#include "run/run.h"

/*
 * Creates run->bus with its sinks, counts the steps of each stage that this
 * run will execute (not done, wanted; either may be NULL) and emits
 * run.started. False (nothing to free but run_events_end) when a sink
 * cannot be set up or refuses run.started.
 */
bool run_events_begin(struct run *run, const bool *done, const bool *wanted,
					  struct pgs_error *err);

/* The scheduler's execute hook: step_execute wrapped in its stage events. */
bool run_step_execute(struct run *run, size_t step, struct pgs_error *err);

/* cutover.gate: the gate step begins to wait for approval. */
bool run_events_gate(struct run *run, size_t step, struct pgs_error *err);

/* From the once-a-second CDC tick: cdc.lag when 60 s have passed since the last. */
bool run_events_cdc_tick(struct run *run, struct pgs_error *err);

/*
 * Emits run.finished or run.failed (with failure's message), then closes
 * every sink (notifications drain, bounded by their timeouts) and frees
 * the bus. Safe when run_events_begin failed or never ran.
 */
void run_events_end(struct run *run, bool ok, const struct pgs_error *failure);

#endif
