/*
 * The event bus: an ordered list of sinks (Lua hooks first, so a failing
 * hook is known before notifications say anything; then notification
 * targets). Events of parallel steps are delivered concurrently: each sink
 * is thread-safe on its own (hook files serialise their own Lua state,
 * notification targets queue under their own lock), so a slow hook never
 * holds up a worker whose event it does not want. The lock only keeps the
 * sink list still while events pass through it.
 */
#include <pthread.h>
#include <stdlib.h>

#include "events/events.h"
#include "util/xalloc.h"

struct event_bus {
	pthread_rwlock_t lock;      /* write: adding a sink; read: delivering */
	struct event_sink *sinks;
	size_t n, cap;
};

struct event_bus *
event_bus_new(void)
{
	struct event_bus *bus = xcalloc(1, sizeof(*bus));

	pthread_rwlock_init(&bus->lock, NULL);
	return bus;
}

void
event_bus_add(struct event_bus *bus, struct event_sink sink)
{
	pthread_rwlock_wrlock(&bus->lock);
	if (bus->n == bus->cap) {
		bus->cap = bus->cap ? bus->cap * 2 : 4;
		bus->sinks = xrealloc(bus->sinks, bus->cap * sizeof(*bus->sinks));
	}
	bus->sinks[bus->n++] = sink;
	pthread_rwlock_unlock(&bus->lock);
}

bool
event_emit(struct event_bus *bus, const struct event *ev, struct pgs_error *err)
{
	bool ok = true;

	if (!bus)
		return true;
	pthread_rwlock_rdlock(&bus->lock);
	for (size_t i = 0; i < bus->n && ok; i++)
		ok = bus->sinks[i].deliver(bus->sinks[i].ctx, ev, err);
	pthread_rwlock_unlock(&bus->lock);
	return ok;
}

void
event_bus_free(struct event_bus *bus)
{
	if (!bus)
		return;
	for (size_t i = 0; i < bus->n; i++)
		if (bus->sinks[i].close)
			bus->sinks[i].close(bus->sinks[i].ctx);
	free(bus->sinks);
	pthread_rwlock_destroy(&bus->lock);
	free(bus);
}
