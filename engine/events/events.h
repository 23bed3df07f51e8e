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
	int64_t lag_bytes;          /* source - applied (run_cdc.h); -1 when not applicable */
	int64_t receive_lag_bytes;  /* source - spooled; -1 when not applicable */
	int64_t apply_lag_bytes;    /* spooled - applied; -1 when not applicable */
	double lag_seconds;         /* -1 when not applicable */
	const char *error;          /* the error message on failure, else NULL */
	size_t error_values_from;   /* pgs_error.values_from of that error */
	const char *error_detail;   /* its detail (keys of rows, server DETAIL), else NULL */
	const char *text;           /* a hook's pgshift.notify(text) (event hook.notify), else NULL */
};

/*
 * A subscriber: deliver() gets every event and filters by its own `on:`
 * globs; returning false (err filled) fails the step that emitted the event
 * (Lua hooks). close() flushes and frees ctx (notifications drain their
 * queue there, bounded by their timeouts). Both run on the emitting thread.
 */
struct event_sink {
	bool (*deliver)(void *ctx, const struct event *ev, struct pgs_error *err);
	void (*close)(void *ctx);
	void *ctx;
};

struct event_bus;

struct event_bus *event_bus_new(void);
/* Takes ownership of the sink (its close() runs in event_bus_free). */
void event_bus_add(struct event_bus *bus, struct event_sink sink);
/* Delivers ev to every sink, in order; false with err from the first that failed. */
bool event_emit(struct event_bus *bus, const struct event *ev, struct pgs_error *err);
/* Closes every sink, then frees the bus. NULL is fine. */
void event_bus_free(struct event_bus *bus);

/* An event with every optional field unset (rows/bytes/lags -1). */
struct event event_init(const char *name, const char *plan, const char *run_id, const char *step);

/* The failure's message and detail, for *.failed events; e must outlive ev. */
void event_set_error(struct event *ev, const struct pgs_error *e);

#endif
