/*
 * The run's state on the target, in schema "pgshift" (DESIGN.md §4): one row
 * per plan in pgshift.runs, one per step in pgshift.steps, and the objects
 * apply created in pgshift.manifest and pgshift.created_objects (roles):
 * all `reset` ever drops. A
 * session-level advisory lock per plan keeps two applies apart.
 *
 * One struct state owns one target connection; its calls are serialised by
 * a mutex so worker threads can report through it.
 *
 * Layout (created by state_ensure_schema; every row keyed by the plan name):
 *   pgshift.runs            plan PK, run_id uuid, plan_sha256, status
 *                           (running|failed|finished|interrupted|paused),
 *                           started_at, updated_at, finished_at, approved_at,
 *                           approved_by, gate_pid (state session waiting at
 *                           the gate), paused_step (--until), fenced,
 *                           source_lsn, received_lsn, applied_lsn,
 *                           applied_commit_at, error
 *   pgshift.steps           (plan, step_id) PK -> runs ON DELETE CASCADE;
 *                           status (pending|running|done|failed), attempts,
 *                           rows, bytes, total_bytes, started_at, finished_at,
 *                           updated_at, error
 *   pgshift.created_objects (plan, kind, schema_name, object_name) PK, created_at:
 *                           the roles apply created (cluster objects)
 *   pgshift.target_baseline (plan, classid, objid) PK -> runs ON DELETE
 *                           CASCADE: the target's objects before schema.pre
 *                           (runs.baseline_at says it was taken)
 *   pgshift.manifest        (plan, classid, objid) PK; kind, schema_name,
 *                           identity, recorded_at: every object apply
 *                           created, kept until reset
 *   pgshift.identity_changes (plan, schema_name, table_name) PK; old_identity,
 *                           old_index, new_identity, new_index (relreplident
 *                           values and index names), changed_at, restored_at:
 *                           replica identities changed on the SOURCE; rows not
 *                           restored survive state_drop
 *   pgshift.table_sync      (plan, schema_name, table_name) PK -> runs ON
 *                           DELETE CASCADE; sync_lsn, synced_at: tables a
 *                           resume copied again on a temporary slot's snapshot
 *   pgshift.run_dag         (plan, step_id) PK -> runs ON DELETE CASCADE; ord,
 *                           kind, schema_name, table_name, table_bytes: the
 *                           DAG the first apply compiled (runs.catalog_fingerprint
 *                           is the source catalog it was compiled from)
 *   pgshift.restore_batches (plan, step_id, batch) PK -> runs ON DELETE
 *                           CASCADE; entries: the schema restore batches
 *                           that committed, each row in its batch's transaction
 *
 * The lock is pg_try_advisory_lock(hashtextextended('pgshift:' || plan, 0)),
 * held by the state connection for its whole life. Approval and `status`
 * never take it: they only touch one row, so they work while apply runs;
 * they look at who holds it to tell a live run from a dead one.
 */
#ifndef PGSHIFT_STATE_STATE_H
#define PGSHIFT_STATE_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

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
	char *status;                       /* running | failed | finished | interrupted | paused */
	bool live;                          /* an apply holds the plan's lock */
	bool gate_waiting;                  /* that apply waits at the cutover gate */
	char *paused_step;                  /* the --until step a paused run stopped after; NULL */
	double started_at, updated_at, finished_at;
	bool approved;                      /* cutover gate approved */
	double approved_at;                 /* 0 when not approved */
	char *approved_by;                  /* role that approved; NULL when not approved */
	bool fenced;                        /* fence_writes applied, not yet undone */
	/* NULL without CDC; received is the spool's durable LSN, source the source's WAL position */
	char *source_lsn, *received_lsn, *applied_lsn;
	/* run_cdc.h's definition of lag; -1 when a position it needs is unknown */
	int64_t lag_bytes;                  /* source - applied */
	int64_t receive_lag_bytes;          /* source - received */
	int64_t apply_lag_bytes;            /* received - applied */
	double lag_seconds;                 /* age of the last applied commit while behind; -1 unknown */
	char *error;
	double read_at;                     /* the server's clock when read (durations, "ago") */
	struct step_state *steps;
	size_t nsteps;
	/* no run: the objects pgshift.manifest still records for the plan (cleanup dropped the rest) */
	long long dropped_run_objects;
};

/*
 * Opens the state connection to the target and takes the plan's advisory
 * lock (pg_try_advisory_lock) before anything is written. When another apply
 * holds it, returns NULL with *locked = true so the caller exits 4; any other
 * failure returns NULL with *locked = false.
 */
struct state *state_open(const struct plan *plan, bool *locked, struct pgs_error *err);
void state_close(struct state *st);

/*
 * A lost state connection (a target restart) is opened again within
 * cdc.reconnect_for and the lock taken again, by the single-statement calls
 * below. False with why once another apply took the lock meanwhile: the run
 * must stop, as it no longer owns the state.
 */
bool state_check_lock(struct state *st, struct pgs_error *err);

/*
 * Creates schema pgshift and its tables if missing (idempotent, and safe
 * when two processes race: both serialise on a transaction advisory lock,
 * and a duplicate-object error from anyone else is retried).
 */
bool state_ensure_schema(struct state *st, struct pgs_error *err);

/*
 * Starts or resumes the plan's run (creating the schema when missing). With
 * no row, inserts one with a new run id (UUID v4). With a row - whatever its
 * status, finished included - resumes it: same run id, status running, steps
 * that were running (interrupted) back to pending with their attempts kept,
 * done steps stay done so the scheduler skips them (a finished run re-applied
 * does nothing; `pgshift reset` starts over). A row whose plan hash differs
 * fails naming both hashes, unless force (then the new hash is recorded).
 */
bool state_begin_run(struct state *st, const char *plan_sha256, bool force, bool *resuming,
					 char *run_id_out, size_t run_id_len, struct pgs_error *err);
/* Marks the run finished (ok) or failed with error; sets finished_at. */
bool state_finish_run(struct state *st, bool ok, const char *error, struct pgs_error *err);
/*
 * Records a run that stopped before its end and that `apply` continues:
 * "interrupted" (a signal) or "paused" (--until; paused_step names the step
 * it stopped after). Steps still marked running go back to pending.
 */
bool state_stop_run(struct state *st, const char *status, const char *paused_step,
					struct pgs_error *err);

/*
 * Step transitions on pgshift.steps (and runs.updated_at):
 * started: running, attempts + 1, rows/bytes 0, started_at, error cleared;
 * progress: rows/bytes; finished: done, finished_at; failed: error text.
 * started and progress are only queued (losing them in a crash loses
 * nothing a resume needs: the step was not done); finished and failed write
 * the queue, themselves included, in one statement before they return, so
 * a step is recorded done before anything that depends on it starts. Times
 * are pgshift's clock at the transition, not the write's.
 */
bool state_step_started(struct state *st, const char *step_id, int64_t total_bytes,
						struct pgs_error *err);
bool state_step_progress(struct state *st, const char *step_id, int64_t rows, int64_t bytes,
						 struct pgs_error *err);
bool state_step_finished(struct state *st, const char *step_id, int64_t rows, int64_t bytes,
						 struct pgs_error *err);
bool state_step_failed(struct state *st, const char *step_id, const char *error,
					   struct pgs_error *err);
/* Writes the queued transitions (one statement, none when nothing is queued). */
bool state_flush_steps(struct state *st, struct pgs_error *err);

/*
 * Records an object apply created on the target (kind: "schema", "table",
 * ...; schema NULL for objects outside a schema). Recording twice is fine.
 */
bool state_record_object(struct state *st, const char *kind, const char *schema,
						 const char *name, struct pgs_error *err);
/*
 * Schema restore batches (steps/schema_batches.c). state_mark_batch runs on
 * conn, the restoring session, inside the batch's open transaction: the row
 * commits with the batch's objects or not at all. state_batches_done sets
 * done[b] for each batch b < nbatches of step_id that committed, and
 * *marked to how many batches of it are marked.
 */
bool state_mark_batch(PGconn *conn, const char *plan, const char *step_id, size_t batch,
					  size_t entries, struct pgs_error *err);
bool state_batches_done(struct state *st, const char *step_id, bool *done, size_t nbatches,
						size_t *marked, struct pgs_error *err);

/* A replica identity pgshift set on a source table (kinds are relreplident values). */
struct identity_change {
	char *schema, *table;               /* owned */
	char old_identity, new_identity;    /* 'd' 'n' 'f' 'i' */
	char *old_index, *new_index;        /* owned; the index for 'i', else NULL */
};

/*
 * Records a change before it is made. A table already recorded and not
 * restored keeps its first old identity (a resumed run changes nothing back).
 */
bool state_record_identity(struct state *st, const struct identity_change *c,
						   struct pgs_error *err);
/* The plan's changes not yet restored, by schema and table; none when no state. */
bool state_list_identities(struct state *st, struct identity_change **out, size_t *n,
						   struct pgs_error *err);
bool state_identity_restored(struct state *st, const char *schema, const char *table,
							 struct pgs_error *err);
void identity_changes_free(struct identity_change *c, size_t n);

/*
 * CDC and fencing fields of the run row. lsn (the spool's durable LSN) NULL
 * clears it; source_lsn (the source's WAL position) and source_lag_s (the
 * lag in seconds when it was read, run_cdc.h) NULL keep the last ones.
 */
bool state_set_received_lsn(struct state *st, const char *source_lsn, const char *source_lag_s,
							const char *lsn, struct pgs_error *err);
bool state_set_fenced(struct state *st, bool fenced, struct pgs_error *err);
/* Only for the slot's consistent point; the applier records every later value itself. */
bool state_set_applied_lsn(struct state *st, const char *lsn, struct pgs_error *err);

/*
 * The statement the CDC applier runs on its own target connection, in the
 * same transaction as the changes it applies (DESIGN.md §4), so the applied
 * LSN commits with the data. Parameters: $1 plan name, $2 applied LSN
 * (text), $3 source commit time of that transaction (timestamptz text, may
 * be NULL). It updates one row and needs no lock.
 */
extern const char state_applied_lsn_sql[];

/*
 * Records in pgshift.manifest every object of the target not in the run's
 * baseline ($1 plan name): what state_manifest_record runs, for the
 * applier's own connection after a replicated DDL (cdc.ddl: replicate), in
 * the transaction that ran it, so reset drops what the DDL created.
 */
extern const char state_manifest_record_sql[];

/*
 * A table a resumed run copies again on the snapshot of a temporary slot
 * whose consistent point is lsn (DESIGN.md §4b): the applier skips its
 * spooled changes that committed before lsn, which the copy holds.
 */
struct table_sync {
	char *schema, *table, *lsn;         /* owned; lsn as text */
};

/* Records (or moves) a table's sync point, before its copy starts. */
bool state_set_table_sync(struct state *st, const char *schema, const char *table,
						  const char *lsn, struct pgs_error *err);
/* The plan's tables copied again, by schema and name. */
bool state_list_table_sync(struct state *st, struct table_sync **out, size_t *n,
						   struct pgs_error *err);
void table_sync_free(struct table_sync *s, size_t n);

/*
 * The DAG a run's first apply compiled (DESIGN.md §4b): its step ids in
 * order, for each copy step its table and the size (heap + TOAST) its
 * split was computed from, and the fingerprint of the source catalog.
 */
struct dag_record_step {
	char *step_id, *kind;               /* owned */
	char *schema, *table;               /* owned; NULL for a step of no table */
	int64_t table_bytes;                /* copy steps; -1 otherwise */
};

struct dag_record {
	char *fingerprint;                  /* owned; NULL: nothing recorded */
	struct dag_record_step *steps;      /* owned, n entries; none: nothing recorded */
	size_t n;
};

/* The plan's recorded DAG; an empty record when there is none (no state, a first run). */
bool state_read_dag(struct state *st, struct dag_record *out, struct pgs_error *err);
/*
 * Records the steps of each of the nchunks JSON arrays chunk(ctx, i) makes
 * (malloc'd, freed here once sent) of {ord, id, kind,
 * schema, table, bytes} not recorded yet, and the catalog's fingerprint, in
 * one transaction: a resume never finds half a DAG. Chunks, so that no
 * statement (and no libpq buffer, which never shrinks) holds 100,000 steps.
 */
bool state_record_dag(struct state *st, const char *fingerprint,
					  char *(*chunk)(void *ctx, size_t i), void *ctx, size_t nchunks,
					  struct pgs_error *err);
void dag_record_free(struct dag_record *r);

/* Approves the cutover gate of the locked run (apply --approve). */
bool state_approve(struct state *st, struct pgs_error *err);
/*
 * The gate's wait, as `pgshift cutover` sees it: waiting records this state
 * session as the one at the gate (and clears any earlier approval, so only
 * a decision taken while this process waits counts); not waiting clears it.
 */
bool state_gate_wait(struct state *st, bool waiting, struct pgs_error *err);
/* Whether the gate this session waits at was approved (by `pgshift cutover` or --approve). */
bool state_is_approved(struct state *st, bool *approved, struct pgs_error *err);

/* What state_approve_plan found and did. Strings owned; free with approval_free. */
struct approval {
	bool exists;                        /* false: no run of the plan on the target */
	bool live;                          /* an apply holds the plan's lock */
	bool waiting;                       /* that apply waits at the gate: only then it is approved */
	bool already;                       /* it was approved before this call */
	char *run_id, *status, *approved_by;
	double approved_at;
};

/*
 * `pgshift cutover`: approves the plan's run on its own connection, without
 * the plan's lock, so it works from any machine while apply holds the lock.
 * Only a live apply waiting at the gate is approved (a->waiting); an
 * approval never waits in the state for a later run. A first approval is
 * kept (time and role) when approved twice. With no run, returns true and
 * a->exists = false.
 */
bool state_approve_plan(const struct plan *plan, struct approval *a, struct pgs_error *err);
void approval_free(struct approval *a);

/*
 * Deletes the plan's rows (runs, steps, baseline ...) on the locked
 * connection but keeps what apply created (manifest, created_objects) for
 * reset; drops schema pgshift when no plan has rows left in it. For cleanup
 * and keep_state: false, which hold the lock so no apply of the plan can run
 * meanwhile; st stays open (and locked) afterwards. state_drop_all (reset)
 * deletes the manifest and created_objects too.
 */
bool state_drop(struct state *st, struct pgs_error *err);
bool state_drop_all(struct state *st, struct pgs_error *err);

/* An object apply created on the target (pgshift.created_objects). */
struct created_object {
	char *kind;                         /* owned: "schema", "table", "view", ... */
	char *schema;                       /* owned; NULL for schemas and extensions */
	char *name;                         /* owned */
};

/*
 * On the locked connection: whether the plan has a run row (*has_run) and
 * the objects apply recorded, in the order reset drops them (views, tables,
 * sequences, then extensions and schemas). No state at all is not an
 * error: *has_run false and no objects.
 */
bool state_list_objects(struct state *st, bool *has_run, struct created_object **objs,
						size_t *n, struct pgs_error *err);
void created_objects_free(struct created_object *objs, size_t n);

/*
 * The manifest (state_manifest.c): baseline lists the target's objects
 * before anything is restored, once per run (a resume keeps the first);
 * record adds every whole object that appeared since, and is a no-op for a
 * run without baseline. Both are safe to call again.
 */
bool state_manifest_baseline(struct state *st, struct pgs_error *err);
bool state_manifest_record(struct state *st, struct pgs_error *err);
/* The same on conn, a restoring session inside its open transaction. */
bool state_manifest_record_on(PGconn *conn, const char *plan, struct pgs_error *err);

struct manifest_object {
	uint32_t classid, objid;
	char *kind;                         /* owned: pg_identify_object's type: "table", "cast" ... */
	char *identity;                     /* owned: its identity, quoted as SQL takes it */
};

/* objects[from] has a normal dependency on objects[to]: from is dropped first. */
struct manifest_edge {
	size_t from, to;
};

/* An object apply did not create that depends on one it did (pg_describe_object text). */
struct manifest_foreign {
	char *dependent, *on;               /* owned */
};

struct manifest {
	struct manifest_object *objects;    /* owned; those that still exist */
	size_t nobjects;
	struct manifest_edge *edges;        /* owned */
	size_t nedges;
	struct manifest_foreign *foreign;   /* owned */
	size_t nforeign;
};

/* On the locked connection; no state at all is an empty manifest. */
bool state_manifest_read(struct state *st, struct manifest *m, struct pgs_error *err);
void manifest_free(struct manifest *m);

/*
 * Reads the plan's run for `status` without taking the lock (a separate
 * read-only connection). No schema, table or row: true with *exists = false.
 * Steps come ordered by started_at (unstarted last), then step id.
 */
bool state_read(const struct plan *plan, struct run_state *out, bool *exists,
				struct pgs_error *err);
void run_state_free(struct run_state *rs);
const char *step_status_name(enum step_status s);

#endif
