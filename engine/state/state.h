/*
 * The run's state on the target, in schema "pgshift" (DESIGN.md §4): one row
 * per plan in pgshift.runs, one per step in pgshift.steps, and the objects
 * apply created in pgshift.created_objects (all `reset` ever drops). A
 * session-level advisory lock per plan keeps two applies apart.
 *
 * One struct state owns one target connection; its calls are serialised by
 * a mutex so worker threads can report through it.
 */
#ifndef PGSHIFT_STATE_STATE_H
#define PGSHIFT_STATE_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "plan/plan.h"
#include "util/error.h"

enum step_status { STEP_PENDING, STEP_RUNNING, STEP_DONE, STEP_FAILED };

struct state;

struct step_state {
	char *step_id;
	enum step_status status;
	int attempts;
	int64_t rows, bytes, total_bytes;
	double started_at, finished_at;     /* unix seconds, 0 when unset */
	char *error;
};

struct run_state {
	char *run_id;
	char *plan_sha256;
	char *status;                       /* running | failed | finished */
	double started_at, updated_at, finished_at;
	bool approved;                      /* cutover gate approved */
	bool fenced;                        /* fence_writes applied, not yet undone */
	char *applied_lsn, *received_lsn;   /* NULL without CDC */
	char *error;
	struct step_state *steps;
	size_t nsteps;
};

/*
 * Opens the state connection to the target and takes the plan's advisory
 * lock (pg_try_advisory_lock). When another apply holds it, returns false
 * with *locked = true so the caller exits 4.
 */
struct state *state_open(const struct plan *plan, bool *locked, struct pgs_error *err);
void state_close(struct state *st);

/* Creates schema pgshift and its tables if missing (idempotent). */
bool state_ensure_schema(struct state *st, struct pgs_error *err);

/*
 * Starts or resumes the plan's run. With a run present whose plan hash
 * differs, fails naming both hashes unless force. *resuming tells which.
 */
bool state_begin_run(struct state *st, const char *plan_sha256, bool force, bool *resuming,
					 char *run_id_out, size_t run_id_len, struct pgs_error *err);
bool state_finish_run(struct state *st, bool ok, const char *error, struct pgs_error *err);

bool state_step_started(struct state *st, const char *step_id, int64_t total_bytes,
						struct pgs_error *err);
bool state_step_progress(struct state *st, const char *step_id, int64_t rows, int64_t bytes,
						 struct pgs_error *err);
bool state_step_finished(struct state *st, const char *step_id, int64_t rows, int64_t bytes,
						 struct pgs_error *err);
bool state_step_failed(struct state *st, const char *step_id, const char *error,
					   struct pgs_error *err);

/* Records an object apply created on the target (kind: "schema", "table", ...). */
bool state_record_object(struct state *st, const char *kind, const char *schema,
						 const char *name, struct pgs_error *err);

/* Whether the cutover gate was approved (by `pgshift cutover` or apply --approve). */
bool state_approve(struct state *st, struct pgs_error *err);
bool state_is_approved(struct state *st, bool *approved, struct pgs_error *err);

/*
 * Reads the plan's run for `status` without taking the lock (a separate
 * read-only connection); false with err when there is no run.
 */
bool state_read(const struct plan *plan, struct run_state *out, bool *exists,
				struct pgs_error *err);
void run_state_free(struct run_state *rs);
const char *step_status_name(enum step_status s);

#endif
