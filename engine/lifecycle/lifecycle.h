/*
 * The end of a plan's life cycle outside `apply` (DESIGN.md §1): `cleanup`
 * drops what the migration left on the source (slot, publication), the
 * local spool and the state, and undoes fence_writes on request; `reset`
 * drops on the target what apply created, to start over. Both take the
 * plan's advisory lock first, so neither runs under a live apply.
 */
#ifndef PGSHIFT_LIFECYCLE_LIFECYCLE_H
#define PGSHIFT_LIFECYCLE_LIFECYCLE_H

#include <stdbool.h>

#include "plan/plan.h"
#include "util/error.h"

enum lifecycle_result {
	LIFECYCLE_OK,
	LIFECYCLE_FAILED,
	LIFECYCLE_LOCKED,           /* an apply of the plan holds its lock */
	LIFECYCLE_REFUSED,          /* reset without --yes: nothing was dropped */
};

/*
 * Idempotent: safe twice, after a failed run, or with nothing left. With
 * restore_identity, also puts back the source replica identities apply
 * changed (cdc/identity_restore.h).
 */
enum lifecycle_result cleanup_plan(const struct plan *plan, bool unfence, bool restore_identity,
								   bool force, struct pgs_error *err);

/*
 * The reverse stream of rollback.enabled (cleanup_reverse.c): ended once
 * rollback.keep_for has passed, the rollback is done, or force; else kept
 * (*kept), and unfence refused. A stream ended without a finished rollback
 * first sets the source's sequences from the target's (it replayed rows
 * holding the target's keys into the source).
 */
enum lifecycle_result cleanup_reverse(const struct plan *plan, bool force, bool unfence,
									  bool *kept, struct pgs_error *err);
/*
 * The same for reset, before it drops anything on the target: a kept
 * stream (the application may write to the target since the cutover)
 * refuses unless force; ended, the rollback's fence of the target goes too,
 * and the source's sequences are set as cleanup_reverse's are.
 */
enum lifecycle_result reset_reverse(const struct plan *plan, bool force, struct pgs_error *err);

/*
 * Prints (stdout) what it will drop, in drop order: every object of
 * pgshift.manifest, the roles of pgshift.created_objects and the plan's
 * state; without yes stops there. Objects apply did not create that depend
 * on those fail it, named, with nothing dropped, unless cascade. The
 * reverse stream of a cut-over plan is ended first (a slot left behind
 * would keep the target's WAL); while rollback.keep_for keeps it, reset
 * refuses unless force.
 */
struct reset_opts {
	bool yes;
	bool cascade;
	bool force;
};
enum lifecycle_result reset_plan(const struct plan *plan, const struct reset_opts *o,
								 struct pgs_error *err);

#endif
