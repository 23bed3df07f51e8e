/*
 * The CDC applier (step cdc.catchup): one thread with its own target
 * connection reads the spool the receiver writes (cdc_receive.h), decodes
 * each record with pgo_decode and replays the source's transactions on the
 * target in source commit order, in the manner of PostgreSQL's logical
 * apply worker (worker.c):
 *
 *   - every change is a prepared statement per (table, shape), executed with
 *     bound text parameters exactly as pgoutput sent them (NULL as NULL);
 *   - session_replication_role = replica, so the target's triggers and FK
 *     actions do not fire a second time;
 *   - many small source transactions go into one target transaction, sent in
 *     libpq pipeline mode, and that target transaction also records the
 *     applied LSN in pgshift.runs (state_applied_lsn_sql): the applied LSN
 *     commits atomically with the data, so a crash never loses or repeats a
 *     change;
 *   - spool segments nobody needs any more are deleted as the applied LSN
 *     moves.
 *
 * The applied LSN A means: every source transaction whose commit record
 * starts before A is on the target, and no other. On start the applier
 * reads A from pgshift.runs and reads the spool from its oldest segment,
 * skipping what A says is applied; it keeps (does not GC) the segments that
 * hold the first chunk of a streamed transaction still open, so a restart
 * finds it.
 *
 * An UPDATE or DELETE that matches no row on the target, an INSERT that
 * conflicts, or any other failed statement stops the applier with an error
 * naming the table, the source xid, the commit LSN and (for a missing row)
 * the key: the target has diverged from the source and no automatic choice
 * is right. With a correct copy it cannot happen: the copy reads the slot's
 * exported snapshot, so every transaction the slot decodes committed after
 * the copied state, and every row an UPDATE or DELETE touches was either
 * copied or inserted by an earlier decoded transaction.
 */
#ifndef PGSHIFT_CDC_APPLY_H
#define PGSHIFT_CDC_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pg/catalog.h"
#include "util/error.h"

/*
 * A table a resume copied again on a temporary slot's snapshot taken at
 * lsn (DESIGN.md §4b): its changes that committed before lsn are in that
 * copy, so the applier skips them; those from lsn on it applies.
 */
struct cdc_table_sync {
	uint32_t relid;             /* the source table's oid */
	uint64_t lsn;
};

struct cdc_applier_config {
	const char *conninfo;       /* the target */
	const char *plan_name;      /* its row in pgshift.runs must exist (state_begin_run) */
	const char *spool_dir;
	/*
	 * Applied LSN to use when pgshift.runs has none yet (a first start): the
	 * slot's consistent point, or 0. A recorded applied LSN always wins.
	 */
	uint64_t start_lsn;
	/*
	 * The migrated tables (borrowed; read only in cdc_applier_start).
	 * Changes to a table that is not in it, or whose data is not copied
	 * (exclude_table_data, partitioned roots), are skipped. NULL: every
	 * table the spool names is applied.
	 */
	const struct catalog *cat;
	/*
	 * The plan (borrowed, outlives the applier). With cdc.ddl: replicate,
	 * 'pgshift.ddl' messages run on the target, Relation messages are not
	 * held to the copy's columns (the DDL changed them on both sides), and
	 * a table the catalog never read is migrated when the filters say so.
	 */
	const struct plan *plan;
	const struct cdc_table_sync *sync;  /* borrowed, nsync entries; copied at start */
	size_t nsync;
	int batch_changes;          /* commit the target transaction after this many changes; 0: 10000 */
	int batch_ms;               /* ... or this long after its first change; 0: 500 */
	/*
	 * A lost target connection (target restarted, network drop) is retried
	 * with backoff for this long (0: 10 s); the applier then continues from
	 * the applied LSN the target committed, reading the spool again.
	 */
	int64_t reconnect_for_ms;
	const char *plan_file;      /* named in the resume hint when that gives up; may be NULL */
	/*
	 * The target session's application_name, for a command that cancels
	 * its sessions by name on a signal (the rollback); NULL: "pgshift cdc.catchup".
	 */
	const char *app_name;
	/* The command that resumes, in hints, when not `pgshift apply PLAN` (cdc_receiver_config's) */
	const char *resume;
	/* The receiver's durable LSN, for lag_bytes (NULL: lag unknown). Any thread. */
	uint64_t (*durable_lsn)(void *arg);
	void *durable_arg;
};

struct cdc_applier_stats {
	uint64_t applied_lsn;       /* committed on the target with the data */
	int64_t applied_commit_time;/* source commit time of the last applied transaction:
								 * microseconds since 2000-01-01 UTC; 0 unknown */
	uint64_t changes;           /* rows inserted, updated, deleted; tables truncated */
	uint64_t transactions;      /* source transactions applied (skipped ones not counted) */
	uint64_t batches;           /* target transactions committed */
	double changes_per_sec;     /* over the last few seconds */
	int64_t lag_bytes;          /* durable_lsn - applied_lsn; -1 unknown */
	bool running;
	bool failed;
};

struct cdc_applier;

/*
 * Connects to the target (session_replication_role = replica), reads the
 * applied LSN from pgshift.runs, opens the spool and starts the thread.
 */
bool cdc_applier_start(const struct cdc_applier_config *cfg, struct cdc_applier **out,
					   struct pgs_error *err);

/* Any thread, any time before cdc_applier_free. */
void cdc_applier_stats(struct cdc_applier *a, struct cdc_applier_stats *out);

/* The committed applied LSN; the receiver's applied_lsn callback (arg: the applier). */
uint64_t cdc_applier_applied_lsn(void *applier);

/* Source commit time of the last applied transaction (µs since 2000-01-01 UTC), 0 unknown. */
int64_t cdc_applier_commit_time(void *applier);

/* Copies the error the thread ended with; false when it has not failed. */
bool cdc_applier_error(struct cdc_applier *a, struct pgs_error *err);

/*
 * Asks the thread to stop and waits: it commits the whole source
 * transactions it has applied so far (with their applied LSN) and closes its
 * connection. Returns false with the thread's error when it had failed.
 */
bool cdc_applier_stop(struct cdc_applier *a, struct pgs_error *err);

/* Frees an applier, stopping it first when needed. NULL is ignored. */
void cdc_applier_free(struct cdc_applier *a);

#endif
