/*
 * Which plan a spool directory belongs to. Two plans in one directory, or
 * two whose cdc.spool_dir is the same, must never read or remove each
 * other's changes: the receiver claims its spool with a marker file
 * (OWNER: the plan and its replication slot), a plan finding another's
 * marker stops naming it, and cleanup removes only its own spool.
 */
#ifndef PGSHIFT_CDC_SPOOL_OWNER_H
#define PGSHIFT_CDC_SPOOL_OWNER_H

#include <stdbool.h>

#include "util/error.h"

/* The plan named in dir's marker, malloc'd; NULL when there is none. */
char *spool_owner(const char *dir);

/*
 * Creates dir if needed and marks it as plan's (slot: its replication
 * slot). A spool already marked for plan is fine; one without a marker (an
 * older pgshift's) is marked; one marked for another plan is an error
 * naming that plan and what to do.
 */
bool spool_claim(const char *dir, const char *plan, const char *slot, struct pgs_error *err);

/*
 * Removes dir unless another plan's marker is in it (then logs that it
 * stays), and its parent when the parent is the plan's default
 * .pgshift/<plan> directory and is left empty.
 */
bool spool_remove_own(const char *dir, const char *plan, struct pgs_error *err);

#endif
