/*
 * Slack and webhook notifications (DESIGN.md §5): an event sink that hands
 * each matching event to a background worker per target. One worker and one
 * bounded queue per target, so a dead endpoint delays nobody but itself;
 * delivery never blocks or fails the run, and a target that cannot be
 * reached is logged once per run.
 */
#ifndef PGSHIFT_NOTIFY_NOTIFY_H
#define PGSHIFT_NOTIFY_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "events/events.h"
#include "plan/plan.h"
#include "util/error.h"

struct notifier;

/*
 * Starts the workers of plan->notify. NULL when the plan has no targets
 * (err untouched) or when one cannot be set up (a whsec_ secret that is not
 * base64, no thread: err filled).
 */
struct notifier *notify_open(const struct plan *plan, struct pgs_error *err);
/* Adds nf to bus as a sink; the bus closes it, draining the queues within the HTTP timeouts. */
void notify_add(struct event_bus *bus, struct notifier *nf);
/* pgshift.notify(text) of a hook (matches struct hooks_notifier's post). */
void notify_post_text(void *ctx, const char *hook_file, const struct event *ev, const char *text);

/* Messages waiting in every target's queue, and those dropped or given up on so far. */
void notify_counts(struct notifier *nf, size_t *queued, size_t *dropped);

#endif
