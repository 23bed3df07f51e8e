/* event_init: an event with its optional fields marked unset. */
#include "events/events.h"
#include "util/clock.h"

struct event
event_init(const char *name, const char *plan, const char *run_id, const char *step)
{
	return (struct event) {
		.name = name, .plan = plan, .run_id = run_id, .step = step,
		.at = clock_wall_s(),
		.rows = -1, .bytes = -1, .lag_bytes = -1, .receive_lag_bytes = -1, .apply_lag_bytes = -1, .lag_seconds = -1,
	};
}

void
event_set_error(struct event *ev, const struct pgs_error *e)
{
	ev->error = e->message;
	ev->error_values_from = e->values_from;
	ev->error_detail = e->detail[0] ? e->detail : NULL;
}
