/*
 * The DAG scheduler (after pg_restore's restore_toc_entries_parallel): a
 * count of unfinished dependencies per step and a ready queue per class of
 * step, served by a fixed pool of worker threads started once per run:
 * copy.table_jobs workers for copies, copy.index_jobs for indexes,
 * constraints and vacuums, and a few for the rest (schema, snapshot, CDC,
 * cutover steps; the CDC receiver, applier and notification threads are
 * their own, long-lived). A finished step decrements its dependents'
 * counts and queues those that reach zero, so a run costs O(steps + edges)
 * plus a heap operation per step. A failed step stops new work; running
 * steps finish (or notice run->cancel) and the run reports the first
 * failure. run->cancel set from outside (SIGINT, run/stop.c) stops new work
 * the same way: the pool drains and the run fails, saying how many steps
 * were left.
 */
#ifndef PGSHIFT_LIFECYCLE_SCHEDULER_H
#define PGSHIFT_LIFECYCLE_SCHEDULER_H

#include <stdbool.h>

#include "run/run.h"

/* workers of the class of schema, snapshot, CDC and cutover steps */
#define SCHED_OTHER_WORKERS 4

struct sched_hooks {
	/* runs one step on a worker thread (step_execute in pgshift; a fake in tests) */
	bool (*execute)(struct run *run, size_t step, struct pgs_error *err);
	/* called on the worker thread around each step; may be NULL */
	void (*started)(struct run *run, size_t step);
	void (*finished)(struct run *run, size_t step, bool ok, const struct pgs_error *err);
	/* every copy step is done: the snapshot can be let go; may be NULL */
	void (*copies_done)(struct run *run);
	/*
	 * called about once a second on the scheduler's thread while steps run,
	 * without the scheduler's lock; false fails the run with err as if a
	 * step had failed (a CDC thread died). May be NULL.
	 */
	bool (*tick)(struct run *run, struct pgs_error *err);
};

/*
 * Runs every step of run->dag that is wanted[i] (all when wanted is NULL)
 * and not already done[i] (done may be NULL). Ready steps of a class start
 * in DAG order (lowest index first), copies largest first (est_bytes, then
 * DAG order). On failure fills err with the first
 * failed step's error, err->step naming it.
 */
bool scheduler_run(struct run *run, const bool *done, const bool *wanted,
				   const struct sched_hooks *hooks, struct pgs_error *err);

#endif
