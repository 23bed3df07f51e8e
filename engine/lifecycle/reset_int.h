/*
 * What the files of reset share (reset.c drives; not for use elsewhere).
 *
 * reset_order.c: the order in which reset drops the manifest's objects:
 * dependents before what they depend on (pg_depend's normal dependencies
 * between what each object owns), so that no DROP needs CASCADE. Objects
 * that depend on each other in a cycle (two tables with foreign keys to each
 * other) form one group, dropped by one statement.
 */
#ifndef PGSHIFT_LIFECYCLE_RESET_INT_H
#define PGSHIFT_LIFECYCLE_RESET_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "state/state.h"
#include "util/error.h"

struct drop_group {
	size_t *members;                    /* owned: indexes into manifest.objects */
	size_t n;
};

/* Fills *groups (owned by the caller) in drop order; returns how many. */
size_t reset_order(const struct manifest *m, struct drop_group **groups);
void drop_groups_free(struct drop_group *groups, size_t n);

/*
 * reset_drop.c: drops one group on dst, with CASCADE only when cascade (a
 * DROP without it fails over an object that appeared since the check).
 * False with err naming the objects, also for a kind reset cannot drop.
 */
bool reset_drop_group(PGconn *dst, const struct manifest *m, const struct drop_group *g,
					  bool cascade, struct pgs_error *err);
/* Whether reset has a DROP for a pg_identify_object type. */
bool reset_can_drop(const char *kind);
/*
 * A role or (recorded by an older pgshift) a relation, schema or extension
 * of pgshift.created_objects; a role still used elsewhere is kept, said.
 */
bool reset_drop_created(PGconn *dst, const struct created_object *o, struct pgs_error *err);

#endif
