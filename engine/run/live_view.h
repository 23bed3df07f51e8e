/*
 * The frame of apply's live view (progress.c redraws it in place every
 * second): an overall bar with throughput and ETA, one line per stage under
 * way, CDC positions and lags, the gate's instruction, then the running
 * steps — every line cut to the terminal's width so none wraps (the redraw
 * moves the cursor up by lines) and the frame cut to its height.
 */
#ifndef PGSHIFT_RUN_LIVE_VIEW_H
#define PGSHIFT_RUN_LIVE_VIEW_H

#include "run/run.h"
#include "util/buf.h"

/* Appends the frame of run at now (unix seconds) for a cols x rows terminal to b. */
void live_view_render(struct run *run, double now, int cols, int rows, struct buf *b);

#endif
