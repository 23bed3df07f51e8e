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
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "dag/dag.h"
#include "events/events.h"
#include "hooks/hooks.h"
#include "pg/catalog.h"
#include "plan/plan.h"
#include "state/state.h"
#include "util/error.h"

struct cdc_receiver;
struct cdc_applier;
struct run_events;

struct step_progress {
	atomic_llong rows;
	atomic_llong bytes;
	atomic_llong total_bytes;
	atomic_bool running;
	atomic_bool finished;
	_Atomic double started_at, finished_at;   /* written by the worker, read by the view thread */
	long long recorded_bytes;           /* last bytes progress_tick wrote; its thread only */
};

struct run {
	const struct plan *plan;
	const struct catalog *cat;
	const struct dag *dag;
	struct state *state;
	char run_id[40];
	bool approve;                       /* apply --approve */
	char workdir[4096];                 /* scratch files of this run (dumps) */
	char ddl_mem[32];                   /* maintenance_work_mem of DDL sessions, "" until the
										 * first (steps_ddl_session) */

	/* set by the snapshot step; read by copy/schema steps that run after it */
	char snapshot[128];
	PGconn *snapshot_conn;              /* holds the snapshot open; owned by the run */
	pthread_mutex_t snapshot_lock;      /* guards releasing snapshot_conn */

	/*
	 * CDC (cdc.enabled). cdc_start_lsn is the slot's consistent point, set
	 * by the snapshot step (or read back from the state on resume) before
	 * cdc.stream runs. The receiver (cdc.stream) and the applier
	 * (cdc.catchup) outlive their steps: they run until run_cdc_stop at the
	 * end of apply or in cleanup (the applier alone may stop earlier, at
	 * wait_for_catchup: run_cdc_stop_applier). cdc_lock guards the two
	 * pointers and applied_at_stop; the threads they own are stopped and
	 * freed only by those two functions.
	 */
	uint64_t cdc_start_lsn;
	pthread_mutex_t cdc_lock;
	struct cdc_receiver *receiver;      /* owned by the run */
	struct cdc_applier *applier;        /* owned by the run */
	uint64_t applied_at_stop;           /* the applier's applied LSN when it was stopped */
	uint64_t reported_received;         /* last received LSN written to the state */
	uint64_t reported_source;           /* last source LSN written to the state */
	/*
	 * The source's WAL position (pg_current_wal_lsn), read every tick over
	 * source_conn: what every lag is measured from (run_lag.c). The
	 * scheduler's thread writes both; source_lsn is read by any thread.
	 */
	PGconn *source_conn;                /* owned; NULL until the first tick or after a failure */
	_Atomic uint64_t source_lsn;        /* 0 until first read */
	/*
	 * lag_seconds at the moment source_lsn was read, from the applied LSN
	 * of that moment: the applier commits more often than the position is
	 * read, so a later applied LSN usually passes it while the source goes
	 * on writing, and the lag would read 0 under a steady load
	 */
	_Atomic double source_lag_s;
	double reported_lag_s;              /* last source_lag_s written to the state */
	bool source_lsn_warned;             /* the failure to read it was said */
	double ddl_checked_at;              /* run_ddl_tick's last look (monotonic s);
										 * the scheduler's thread only */
	/*
	 * Every migrated table was emptied in one TRUNCATE before this run's
	 * copies (a CDC resume that copies again): copy steps do not truncate
	 * their own table, which a foreign key built by the earlier attempt
	 * would refuse.
	 */
	bool copy_pretruncated;
	/*
	 * A CDC resume with copies left (DESIGN.md §4b): resync_tables (owned by
	 * apply, one per catalog table, NULL otherwise) marks the tables copied
	 * again. The snapshot step then takes the snapshot of a temporary slot and
	 * records its consistent point for each of them; the original slot, its
	 * spool and the finished tables are kept.
	 */
	bool *resync_tables;
	/*
	 * apply --replan took new tables into the run: schema.pre runs again and
	 * restores only the tables the target lacks; with CDC the resync snapshot
	 * adds them to the publication first.
	 */
	bool replan;

	struct event_bus *bus;              /* hooks and notifications; NULL when none */
	struct hooks_notifier notifier;     /* where hooks' pgshift.notify goes (post NULL: log only) */
	struct run_events *events;          /* owned; what run_events.c counts per stage */
	struct step_progress *progress;     /* one per dag step */
	atomic_bool cancel;                 /* a step failed: stop long loops */
	bool drop_state_at_end;             /* set by the cleanup step */
};

/* Runs one step of run->dag; the scheduler calls it from a worker thread. */
bool step_execute(struct run *run, size_t step, struct pgs_error *err);

/*
 * The application_name of run run_id's sessions for step_id (or another
 * part, such as "rollback"), which run_end_sessions finds: out holds
 * RUN_APP_NAME_SIZE bytes.
 */
#define RUN_APP_NAME_SIZE 64
void run_app_name(const char *run_id, const char *step_id, char *out, size_t size);

/* Connections for steps: session settings of pg/conn.h, application_name per step. */
PGconn *run_connect_source(struct run *run, const char *step_id, struct pgs_error *err);
PGconn *run_connect_target(struct run *run, const char *step_id, struct pgs_error *err);
/* A replication=database session on the source, tagged with the run like the others. */
PGconn *run_connect_source_replication(struct run *run, const char *step_id,
									   struct pgs_error *err);
/* A target session that writes the user's rows or builds their objects: see pg/conn.c. */
PGconn *run_connect_target_rows(struct run *run, const char *step_id, struct pgs_error *err);

/*
 * The sessions of run run_id's steps on both servers (their application_name):
 * terminate false cancels what they execute; true ends them and waits until
 * they are gone (a resume after kill -9: the dead run's index build would
 * otherwise go on). *n (may be NULL) counts the sessions signalled.
 */
bool run_end_sessions(const struct plan *plan, const char *run_id, bool terminate, int *n,
					  struct pgs_error *err);

#endif
