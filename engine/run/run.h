/*
 * One execution of a plan's DAG (`apply`): the context every step receives.
 * Steps run on worker threads; each opens and owns its own connections.
 * Shared fields are written once before the steps that read them start
 * (the DAG orders them), or are atomics, or are guarded by the named mutex.
 */
#ifndef PGSHIFT_RUN_RUN_H
#define PGSHIFT_RUN_RUN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "dag/dag.h"
#include "pg/catalog.h"
#include "plan/plan.h"
#include "state/state.h"
#include "util/error.h"

struct step_progress {
	atomic_llong rows;
	atomic_llong bytes;
	atomic_llong total_bytes;
	atomic_bool running;
	atomic_bool finished;
	double started_at, finished_at;
};

struct run {
	const struct plan *plan;
	const struct catalog *cat;
	const struct dag *dag;
	struct state *state;
	char run_id[40];
	bool approve;                       /* apply --approve */
	char workdir[4096];                 /* scratch files of this run (dumps) */

	/* set by the snapshot step; read by copy/schema steps that run after it */
	char snapshot[128];
	PGconn *snapshot_conn;              /* holds the snapshot open; owned by the run */
	pthread_mutex_t snapshot_lock;      /* guards releasing snapshot_conn */

	struct step_progress *progress;     /* one per dag step */
	atomic_bool cancel;                 /* a step failed: stop long loops */
	bool drop_state_at_end;             /* set by the cleanup step */
};

/* Runs one step of run->dag; the scheduler calls it from a worker thread. */
bool step_execute(struct run *run, size_t step, struct pgs_error *err);

/* Connections for steps: session settings of pg/conn.h, application_name per step. */
PGconn *run_connect_source(struct run *run, const char *step_id, struct pgs_error *err);
PGconn *run_connect_target(struct run *run, const char *step_id, struct pgs_error *err);

#endif
