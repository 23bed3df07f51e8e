/*
 * Lua hooks (DESIGN.md §5): each hook file returns function(event, ctx) and
 * runs in its own sandboxed Lua 5.4 state, created on first use and kept for
 * every later event of that file, with a memory cap and the plan's
 * hooks.timeout. A Lua error, a timeout, or `return false, "reason"` fails
 * the step that ran the hook. Two entry points: the event sink of
 * hooks.lua[] (hooks_attach) and the cutover `lua:` steps (hooks_run).
 */
#ifndef PGSHIFT_HOOKS_HOOKS_H
#define PGSHIFT_HOOKS_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events/events.h"
#include "plan/plan.h"
#include "util/error.h"

/*
 * Where pgshift.notify(text) goes besides the log. A sink cannot emit on the
 * bus it is called from (the bus holds its lock while delivering), so the
 * notification side hands hooks a direct way into its own queue instead.
 * post() must not block; it runs on the hook's thread.
 */
struct hooks_notifier {
	void (*post)(void *ctx, const char *hook_file, const struct event *ev, const char *text);
	void *ctx;
};

struct hooks_config {
	const char *source_uri;     /* for pgshift.query("source", ...); copied */
	const char *target_uri;     /* for pgshift.query("target", ...); copied */
	bool allow_shell;           /* pgshift.exec works */
	int64_t timeout_ms;         /* per call of a hook; <= 0: none */
	size_t mem_limit;           /* bytes per Lua state; 0: 64 MB */
	struct hooks_notifier notifier;     /* post may be NULL: notify only logs */
};

struct hooks;

/* The configuration a plan gives its hooks (no notifier). */
struct hooks_config hooks_config_from_plan(const struct plan *plan);

struct hooks *hooks_new(const struct hooks_config *cfg);
/* Closes every Lua state and its connections. NULL is fine. */
void hooks_free(struct hooks *h);

/*
 * Calls the function file returns with (ev->name, ctx built from ev). False
 * with err filled when the hook raised an error (message "FILE:LINE: ...",
 * the Lua traceback in err->detail), timed out, ran out of memory, or
 * returned false (its second value is the reason). Thread-safe: one hook
 * call at a time per hooks object.
 */
bool hooks_run(struct hooks *h, const char *file, const struct event *ev, struct pgs_error *err);

/*
 * Adds a sink to bus that runs every plan->hooks.lua[] entry whose `on:`
 * globs match an event, in plan order; the first failure fails the
 * emitting step. The bus owns the sink (and its states). True when the plan
 * has no lua hooks (nothing is added).
 */
bool hooks_attach(struct event_bus *bus, const struct plan *plan, struct pgs_error *err);
bool hooks_attach_with(struct event_bus *bus, const struct plan *plan,
					   const struct hooks_notifier *notifier, struct pgs_error *err);

/*
 * Compiles file as Lua text (no binary chunks) without running it; false
 * with err->message "FILE:LINE: message" on a syntax error.
 */
bool hooks_compile(const char *file, struct pgs_error *err);

#endif
