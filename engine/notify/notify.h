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

#include "events/events.h"
#include "plan/plan.h"
#include "util/error.h"

/*
 * Adds one sink for all of plan->notify to bus (nothing when the plan has
 * no targets) and starts its workers. The sink's close drains the queues,
 * bounded by the HTTP timeouts. False only when a target cannot be set up
 * (a whsec_ secret that is not base64, no thread): nothing is added then.
 */
bool notify_attach(struct event_bus *bus, const struct plan *plan, const char *run_id,
				   struct pgs_error *err);

/* validate: a notification URL curl can parse, http(s), with a host. *why when not. */
bool notify_url_check(const char *url, const char **why);
/* validate: a whsec_ secret must be base64. *why when not. */
bool notify_secret_check(const char *secret, const char **why);

#endif
