/*
 * The event sink of hooks.lua[]: every entry whose `on:` globs match the
 * event runs, in plan order, and the first failure fails the step that
 * emitted the event. Events of parallel steps arrive here concurrently;
 * each hook file's state takes one call at a time (hooks_run), so a hook
 * that sleeps or queries delays only the events it is subscribed to.
 */
#include <stdlib.h>

#include "hooks/hooks_int.h"
#include "util/glob.h"
#include "util/xalloc.h"

struct hooks_sink {
	const struct plan *plan;    /* borrowed: outlives the bus */
	struct hooks *hooks;        /* owned */
};

static bool
subscribed(const struct lua_hook *lh, const char *name)
{
	for (size_t i = 0; i < lh->on.n; i++)
		if (glob_match(lh->on.items[i], name))
			return true;
	return false;
}

static bool
sink_deliver(void *ctx, const struct event *ev, struct pgs_error *err)
{
	struct hooks_sink *s = ctx;

	for (size_t i = 0; i < s->plan->hooks.nlua; i++) {
		const struct lua_hook *lh = &s->plan->hooks.lua[i];

		if (subscribed(lh, ev->name) && !hooks_run(s->hooks, lh->file, ev, err)) {
			pgs_error_prefix(err, "hooks.lua[%zu] on %s", i + 1, ev->name);
			return false;
		}
	}
	return true;
}

static void
sink_close(void *ctx)
{
	struct hooks_sink *s = ctx;

	hooks_free(s->hooks);
	free(s);
}

bool
hooks_attach_with(struct event_bus *bus, const struct plan *plan,
				  const struct hooks_notifier *notifier, struct pgs_error *err)
{
	struct hooks_config cfg = hooks_config_from_plan(plan);
	struct hooks_sink *s;

	(void) err;         /* states open lazily: their errors belong to the event that needs them */
	if (plan->hooks.nlua == 0)
		return true;
	if (notifier)
		cfg.notifier = *notifier;
	s = xcalloc(1, sizeof(*s));
	s->plan = plan;
	s->hooks = hooks_new(&cfg);
	event_bus_add(bus, (struct event_sink) {sink_deliver, sink_close, s});
	return true;
}

bool
hooks_attach(struct event_bus *bus, const struct plan *plan, struct pgs_error *err)
{
	return hooks_attach_with(bus, plan, NULL, err);
}
