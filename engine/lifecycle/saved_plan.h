/* Reading a saved plan (plan --out) back for apply --expect, and comparing. */
#ifndef PGSHIFT_LIFECYCLE_SAVED_PLAN_H
#define PGSHIFT_LIFECYCLE_SAVED_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "dag/dag.h"
#include "plan/plan.h"
#include "util/error.h"

struct saved_plan {
	char *plan_sha256;
	char *fingerprint;
	char **step_ids;
	size_t nsteps;
};

bool saved_plan_read(const char *path, struct saved_plan *sp, struct pgs_error *err);
void saved_plan_free(struct saved_plan *sp);
/* False, naming what drifted, when the plan or the source no longer match. */
bool saved_plan_check(const struct saved_plan *sp, const struct plan *plan,
					  const char *fingerprint, const struct dag *dag, struct pgs_error *err);

#endif
