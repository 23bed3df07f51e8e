/*
 * The catalogue of events pgshift emits (DESIGN.md §5). Hooks and notifiers
 * subscribe with globs over these names; the plan checker warns about a glob
 * that matches none of them.
 */
#ifndef PGSHIFT_EVENTS_EVENT_NAMES_H
#define PGSHIFT_EVENTS_EVENT_NAMES_H

#include <stdbool.h>
#include <stddef.h>

extern const char *const event_names[];
extern const size_t event_names_count;

bool event_glob_matches_any(const char *glob);

#endif
