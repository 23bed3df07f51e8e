/*
 * The event stream of a run (DESIGN.md §5): every stage's started /
 * finished / failed, run.*, copy.table.finished, cutover.gate and cdc.lag.
 * One event goes to every subscriber whose `on:` globs match its name:
 * Lua hooks synchronously (a failing hook fails the step that emitted the
 * event), notification targets through a bounded background queue (never
 * blocking or failing the run).
 */
#ifndef PGSHIFT_EVENTS_EVENTS_H
#define PGSHIFT_EVENTS_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "plan/plan.h"
#include "util/error.h"

struct event {
	const char *name;           /* e.g. "copy.table.finished" */
	const char *plan;           /* plan name */
	const char *run_id;
	const char *step;           /* step id, NULL for run.* */
	double at;                  /* unix seconds */
	double duration;            /* seconds, for *.finished / *.failed; 0 otherwise */
	const char *table;          /* "schema.table" where one applies, else NULL */
	int64_t rows, bytes;        /* -1 when not applicable */
	const char *lsn;            /* applied LSN text where one applies, else NULL */
	int64_t lag_bytes;          /* -1 when not applicable */
	double lag_seconds;         /* -1 when not applicable */
	const char *error;          /* the error message on failure, else NULL */
};

struct event_bus;

/* Builds the subscribers of the plan (hooks, notify targets); NULL + err on failure. */
struct event_bus *event_bus_open(const struct plan *plan, const char *run_id,
								 struct pgs_error *err);
/*
 * Delivers ev to every matching subscriber. Returns false (err filled) only
 * when a Lua hook failed or returned false: the caller fails its step.
 */
bool event_emit(struct event_bus *bus, const struct event *ev, struct pgs_error *err);
/* Flushes queued notifications (bounded by their timeouts) and frees the bus. */
void event_bus_close(struct event_bus *bus);

/* An event with every optional field unset (rows/bytes/lags -1). */
struct event event_init(const char *name, const char *plan, const char *run_id, const char *step);

#endif
