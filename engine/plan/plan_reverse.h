/*
 * The reverse stream of rollback.enabled (README "Rollback") seen as a plan
 * of its own: the target is its source, the source its target, and its
 * slot, publication, spool and state row are plan->rollback's. Code written
 * for the forward direction (publication, receiver, applier, fence,
 * verify) then runs unchanged on it.
 */
#ifndef PGSHIFT_PLAN_PLAN_REVERSE_H
#define PGSHIFT_PLAN_PLAN_REVERSE_H

#include "plan/plan.h"

/*
 * Fills *rev as a shallow copy of plan with the directions swapped. Every
 * string is borrowed from plan: never plan_free(rev), and plan must outlive
 * it. rev->name is the reverse slot's name, the key of the reverse state row.
 */
void plan_reverse(const struct plan *plan, struct plan *rev);

#endif
