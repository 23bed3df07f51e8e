/*
 * apply: execute a plan (DESIGN.md §4). Takes the plan's lock on the target
 * before anything else, reads the source catalog, checks a saved plan
 * (--expect), runs preflight, records the run in the target's state and
 * hands the DAG to the scheduler; a re-run resumes where the last stopped.
 */
#ifndef PGSHIFT_LIFECYCLE_APPLY_PLAN_H
#define PGSHIFT_LIFECYCLE_APPLY_PLAN_H

#include <stdbool.h>

#include "plan/plan.h"
#include "util/error.h"

/*
 * APPLY_INTERRUPTED: stopped by SIGINT/SIGTERM (stop_signal() says which), recorded interrupted.
 * APPLY_BLOCKED: a resume found new tables in the source catalog and no --replan; nothing changed.
 */
enum apply_result { APPLY_OK, APPLY_FAILED, APPLY_LOCKED, APPLY_DECLINED, APPLY_INTERRUPTED,
					APPLY_BLOCKED };

struct metrics_server;

struct apply_options {
	const char *expect;         /* saved plan to compare against, or NULL */
	const char *until;          /* step id or stage to stop after, or NULL */
	bool approve, yes, force, progress;
	bool replan;                /* a resume adds the new tables' steps to the recorded DAG */
	struct metrics_server *metrics; /* --metrics-listen, bound; NULL without; the caller's */
};

enum apply_result apply_plan(const struct plan *plan, const struct apply_options *opts,
							 struct pgs_error *err);

#endif
