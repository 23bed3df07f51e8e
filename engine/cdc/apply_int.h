/*
 * The applier's parts, shared by its files (one job each):
 *   apply.c         the thread: spool loop, start/stop, stats, spool GC
 *   apply_txn.c     record by record: Begin/Commit buffering, streamed
 *                   transactions, restarts, skipping what is applied
 *   apply_rel.c     the relation cache of the target side: names, filters,
 *                   schema-change checks
 *   apply_expect.c  the columns the copy read, that Relation messages must carry
 *   apply_stmt.c    SQL of each (relation, shape), prepared once
 *   apply_batch.c   changes of many source transactions coalesced per row key
 *   apply_bulk.c    a run of coalesced rows as one multi-row statement
 *   apply_target.c  the target connection: pipeline, batches, row counts,
 *                   the applied LSN committed with the data
 * Everything here is owned by the applier's thread once it runs.
 */
#ifndef PGSHIFT_CDC_APPLY_INT_H
#define PGSHIFT_CDC_APPLY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "cdc/apply.h"
#include "cdc/pgoutput.h"
#include "cdc/relcache.h"
#include "cdc/spool.h"
#include "pg/retry.h"
#include "util/buf.h"
#include "util/error.h"

/* One prepared statement of a relation: its shape and its server-side name. */
struct apply_stmt {
	char *shape;                /* owned; see apply_shape() */
	char name[24];              /* "pgs_apply_N" */
	struct apply_stmt *next;    /* owned */
};

/* What the applier knows of one source relation, keyed by relid. */
struct apply_rel {
	uint32_t relid;             /* 0: a free slot of the hash table */
	char *display;              /* owned: schema.name as the operator reads it */
	char *qname;                /* owned: "schema"."name", quoted for SQL */
	bool applied;               /* migrated: its changes are applied */
	char *mismatch;             /* owned: how its schema differs from the copy's, which
								 * stops the applier at its first change; NULL: same */
	bool *always;               /* owned, per column: GENERATED ALWAYS AS IDENTITY */
	uint8_t *raw;               /* owned: its last Relation message, as received */
	uint32_t raw_len;
	bool raw_stream;            /* it was inside a stream chunk (carries an xid) */
	unsigned epoch;             /* the applier's ddl_epoch when it was described */
	char coalesce;              /* apply_batch.c may merge its changes per key ('k'),
								 * join its runs of INSERTs ('a'), or neither (0) */
	struct apply_stmt *stmts;   /* owned list */
};

/* A column a migrated table's Relation messages must carry, as the copy read it. */
struct apply_expect_col {
	char *name;                 /* owned */
	char *type;                 /* owned: format_type() text */
	uint32_t type_oid;
	int typmod;
};

/*
 * A migrated table as the copy created it on the target, keyed by its
 * source oid (the relid of its Relation messages): the columns pgoutput
 * sends, in order (not dropped, not generated).
 */
struct apply_expect {
	uint32_t oid;
	char *schema, *name;        /* owned */
	struct apply_expect_col *cols;  /* owned, ncols entries */
	size_t ncols;
};

/* A record's place in the spool: its LSN and how many records of that LSN precede it. */
struct apply_pos {
	uint64_t lsn;
	uint32_t eq;
};

/* What the source transaction being applied is, for statements and errors. */
struct apply_ctx {
	uint32_t xid;
	uint64_t commit_lsn;
};

/*
 * A multi-row statement's rows, to name the one that matched nothing. Its
 * key text is built only then, from the coalesced values, which stay until
 * the target transaction ends (apply_batch_reset), after every answer of it.
 */
struct apply_bulk {
	size_t nrows;
	const struct apply_batch *batch;    /* borrowed: the rows' values */
	size_t *vals;               /* owned: each row's first value in batch->vals */
	struct apply_ctx *ctx;      /* owned: each row's last source transaction */
	uint16_t nkeys;
	uint16_t *key_cols;         /* owned: the key columns' numbers, nkeys entries */
	char **key_names;           /* owned: their names, as the relation had them */
};

/* One statement sent in the pipeline whose result is not read yet. */
struct apply_pending {
	char what;                  /* 'P' prepare, 'B' begin, 'I' 'U' 'D' 'T' change,
								 * 'X' replicated DDL, 'Q' its role or search_path,
								 * 'M' the manifest after it,
								 * 'S' applied LSN, 'C' commit */
	bool expect_one;            /* must affect exactly one row */
	const char *table;          /* borrowed from its apply_rel; NULL for no table */
	uint32_t xid;
	uint64_t lsn;               /* commit LSN of the source transaction */
	char *key;                  /* owned: the key shown when no row matched; may be NULL */
};

struct apply_target {
	PGconn *conn;
	bool in_txn;                /* BEGIN sent, COMMIT not yet */
	struct apply_pending *pending;  /* owned queue, npending entries */
	struct apply_bulk **bulks;  /* owned, beside pending: the rows of a multi-row
								 * statement returning each matched row's ordinal,
								 * NULL for any other statement */
	size_t npending, cap;
	unsigned next_stmt;         /* numbers prepared statements */
	long changes;               /* in the open target transaction */
	int64_t started_us;         /* when it began (monotonic) */
};

/* One value of a coalesced row: its kind and bytes in apply_batch.data. */
struct batch_val {
	char kind;                  /* enum pgo_value_kind */
	uint32_t len;
	size_t off;
};

/* A row key's net change in the open target transaction. */
struct batch_row {
	char kind;                  /* 'I' 'U' 'D'; 0: inserted then deleted, nothing */
	uint32_t hash;              /* of its key values */
	size_t vals;                /* its ncols values start at apply_batch.vals[vals] */
	struct apply_ctx ctx;       /* the last source transaction that changed it */
};

/* The coalesced rows of one relation, in first-change order, and their key index. */
struct batch_table {
	uint32_t relid;
	uint16_t ncols;
	struct batch_row *rows;     /* owned, nrows entries */
	size_t nrows, cap;
	size_t *slots;              /* owned open-addressing index: row number + 1, 0 free */
	size_t nslots;
};

struct apply_batch {
	struct batch_table *tables; /* owned, ntables entries */
	size_t ntables;
	struct batch_val *vals;     /* owned, nvals entries */
	size_t nvals, cap;
	struct buf data;            /* owned: value bytes; kept until the target commits */
};

/* The plain (not streamed) transaction being received: its records, copied. */
struct apply_txn {
	bool open;
	bool skip;                  /* committed before the applied LSN: already applied */
	uint32_t xid;
	uint64_t final_lsn;         /* the commit record's start (Begin) */
	struct buf data;            /* owned: the change records' payloads, back to back */
	size_t *ends;               /* owned: end offset of each record in data */
	size_t n, cap;
};

/* A streamed transaction seen but not yet committed or aborted. */
struct apply_stream {
	uint32_t xid;
	struct apply_pos first;     /* its first Stream Start: where to read it back from */
	bool incomplete;            /* its first chunk was before the spool we read */
	uint32_t *aborted;          /* owned: subtransactions rolled back */
	size_t naborted;
};

struct cdc_applier {
	/* set before the thread starts; read-only after */
	char *conninfo, *plan_name, *spool_dir;     /* owned */
	char *plan_file;            /* owned; may be NULL */
	char *app_name;             /* owned; the target session's application_name */
	char *resume;               /* owned; may be NULL: cdc_applier_config.resume */
	uint64_t start_lsn;         /* the applied LSN when the target has none */
	struct pg_backoff backoff;  /* who: "the CDC applier" */
	char **tables;              /* owned, sorted "schema\nname" of migrated tables */
	size_t ntables;
	char **always;              /* owned, sorted "schema\nname\ncolumn" of their
								 * GENERATED ALWAYS identity columns */
	size_t nalways;
	bool filtered;              /* false: no catalog, every table applied */
	char **plain;               /* owned, sorted "schema\nname\nmode" of the target
								 * tables whose changes may be coalesced, mode 'k'
								 * per key or 'a' INSERT runs only
								 * (apply_target_read_plain) */
	size_t nplain;
	struct apply_expect *expect;    /* owned, sorted by oid: the migrated tables */
	size_t nexpect;
	struct cdc_table_sync *sync;    /* owned, sorted by relid: tables copied again */
	size_t nsync;
	int batch_changes, batch_ms;
	const struct plan *plan;    /* borrowed; NULL without a catalog */
	uint64_t (*durable_lsn)(void *arg);
	void *durable_arg;

	/* the thread's own */
	struct apply_target tgt;
	struct spool_reader *reader;
	struct pgo_relcache *rc;
	struct apply_rel *rels;     /* owned open-addressing table, rels_cap slots */
	size_t rels_cap, nrels;
	bool rels_dirty;            /* a relation changed since apply_relfile_write */
	struct apply_txn txn;
	struct apply_batch batch;
	struct apply_stream *streams;   /* owned, nstreams entries */
	size_t nstreams;
	bool in_stream;             /* between Stream Start and Stream Stop */
	uint32_t stream_xid;        /* the chunk's top-level xid */
	struct apply_pos pos;       /* of the record being handled */
	uint32_t eq_next;           /* records seen so far with pos.lsn */
	bool synced;                /* a transaction boundary was seen since the first record */
	uint64_t applied;           /* A: committed on the target */
	uint64_t next_applied;      /* A once the open target transaction commits */
	int64_t next_commit_time;   /* source commit time of its last transaction; 0 none */
	long batch_txns;            /* source transactions in the open target transaction */
	bool ddl_in_txn;            /* the open target transaction runs a replicated DDL */
	unsigned ddl_epoch;         /* replicated DDL committed so far: relations described
								 * before the last one are described again */
	int64_t last_gc_us, rate_us;
	long idle_ms;               /* the next wait for the spool (apply.c) */
	int64_t dry_since_us;       /* the spool has had nothing since; 0: it had */
	int64_t sent_us;            /* the open batch's rows were last sent early (apply.c) */
	uint64_t rate_changes, gc_done;

	pthread_t thread;
	bool started, joined;

	/* shared with other threads */
	atomic_bool stop, running, failed;
	atomic_ullong applied_lsn, changes, transactions, batches;
	atomic_llong commit_time;
	_Atomic double rate;
	pthread_mutex_t error_lock; /* guards error */
	struct pgs_error error;
};

int64_t apply_now_us(void);
void apply_lsn_text(uint64_t lsn, char out[PGO_LSN_TEXT_SIZE]);
/* Prefixes err with the table (may be NULL), xid and commit LSN of ctx. */
bool apply_fail_ctx(struct pgs_error *err, const char *table, const struct apply_ctx *ctx);

/* apply_rel.c */
struct apply_rel *apply_rel_get(struct cdc_applier *a, uint32_t relid);
void apply_rel_message(struct cdc_applier *a, const struct pgo_relation *rel,
					   const uint8_t *raw, uint32_t raw_len, bool in_stream);
/*
 * A change of relid committed at commit_lsn is in the copy a resume made of
 * its table again (commit_lsn before the table's sync point): not applied.
 */
bool apply_rel_in_resync_copy(const struct cdc_applier *a, uint32_t relid, uint64_t commit_lsn);
/* The error of a change to r, whose schema changed on the source (r->mismatch). */
bool apply_rel_changed(const struct cdc_applier *a, const struct apply_rel *r,
					   const struct apply_ctx *ctx, struct pgs_error *err);

/* apply_ddl.c (cdc.ddl: replicate) */
/* A logical decoding message of the source transaction ctx: a 'pgshift.ddl' one is run. */
bool apply_ddl_message(struct cdc_applier *a, const struct pgo_message *m,
					   const struct apply_ctx *ctx, struct pgs_error *err);
/* After a target commit: when it ran DDL, what depends on the target catalog is read again. */
bool apply_ddl_committed(struct cdc_applier *a, struct pgs_error *err);

/* apply_expect.c */
void apply_expect_load(struct cdc_applier *a, const struct catalog *cat);
void apply_expect_free(struct cdc_applier *a);
const struct apply_expect *apply_expect_find(const struct cdc_applier *a, uint32_t oid);
/*
 * NULL when rel has the shape the copy read, else (malloc'd) what differs.
 * *migrated: rel's relid is a migrated table.
 */
char *apply_expect_check(const struct cdc_applier *a, const struct pgo_relation *rel,
						 bool *migrated);

/* apply_relfile.c */
bool apply_relfile_write(struct cdc_applier *a, struct pgs_error *err);
bool apply_relfile_load(struct cdc_applier *a, struct pgs_error *err);
void apply_rels_free(struct cdc_applier *a);

/* apply_stmt.c */
bool apply_change(struct cdc_applier *a, const struct pgo_msg *m, const struct apply_ctx *ctx,
				  struct pgs_error *err);
bool apply_truncate(struct cdc_applier *a, const struct pgo_truncate *t,
					const struct apply_ctx *ctx, struct pgs_error *err);
void apply_stmts_free(struct apply_stmt *s);

/* apply_batch.c */
/* An Insert, Update or Delete: coalesced when its table and shape allow, else applied now. */
bool apply_batch_change(struct cdc_applier *a, const struct pgo_msg *m,
						const struct apply_ctx *ctx, struct pgs_error *err);
/* Sends every coalesced row (before a TRUNCATE, a Relation message, a commit). */
bool apply_batch_send(struct cdc_applier *a, struct pgs_error *err);
/* After the target transaction ended: the rows' bytes may go. */
void apply_batch_reset(struct apply_batch *b);
void apply_batch_free(struct apply_batch *b);

/* apply_bulk.c */
/* Rows of one multi-row statement, at most. */
#define APPLY_BULK_ROWS 1000
/* Sends rows[0..n) of t (one kind, one set of sent columns) as multi-row statements. */
bool apply_bulk_send(struct cdc_applier *a, const struct batch_table *t,
					 const struct batch_row *const *rows, size_t n, struct pgs_error *err);
/* "(id, b)=(5, x)" of row i, cut at a few hundred bytes (malloc'd). */
char *apply_bulk_key(const struct apply_bulk *b, size_t i);
void apply_bulk_free(struct apply_bulk *b);

/* apply_target.c */
bool apply_target_connect(struct apply_target *t, const char *conninfo, const char *app_name,
						  struct pgs_error *err);
bool apply_target_pipeline(struct apply_target *t, struct pgs_error *err);
bool apply_target_read_applied(struct apply_target *t, const char *plan, bool *found,
							   uint64_t *lsn, struct pgs_error *err);
bool apply_target_begin(struct apply_target *t, struct pgs_error *err);
/* types: nparams OIDs (0: the server infers it), or NULL for all inferred. */
bool apply_target_prepare(struct apply_target *t, const char *name, const char *sql,
						  int nparams, const uint32_t *types, const struct apply_pending *what,
						  struct pgs_error *err);
/* Sends one change; key (owned, may be NULL) is shown when expect_one fails. */
bool apply_target_send(struct apply_target *t, const char *stmt, int nparams,
					   const char *const *values, const int *lengths,
					   const struct apply_pending *what, struct pgs_error *err);
/* Sends one statement without parameters (TRUNCATE). */
bool apply_target_send_sql(struct apply_target *t, const char *sql,
						   const struct apply_pending *what, struct pgs_error *err);
/*
 * Sends one multi-row statement (bulk, may be NULL, owned from here on); no
 * change counted. stmt: a prepared statement's name, or NULL to send sql.
 */
/* Hands what is sent so far to the server, which executes it while we go on. */
bool apply_target_push(struct apply_target *t, struct pgs_error *err);
bool apply_target_send_bulk(struct apply_target *t, const char *stmt, const char *sql,
							int nparams, const uint32_t *types, const char *const *values,
							const struct apply_pending *what, struct apply_bulk *bulk,
							struct pgs_error *err);
/* Before pipeline mode: the target tables whose changes may be coalesced. */
bool apply_target_read_plain(struct apply_target *t, char ***tables, size_t *n,
							 struct pgs_error *err);
bool apply_target_commit(struct apply_target *t, const char *plan, uint64_t applied,
						 int64_t commit_time, struct pgs_error *err);
void apply_target_close(struct apply_target *t);

/* apply_txn.c */
bool apply_record(struct cdc_applier *a, const struct spool_record *rec, struct pgs_error *err);
/* Commits the open target transaction, if any (at a source transaction boundary). */
bool apply_flush(struct cdc_applier *a, struct pgs_error *err);
/* The oldest LSN a restart still needs: min(applied, first chunk of an open stream). */
uint64_t apply_keep_lsn(const struct cdc_applier *a);
void apply_txn_state_free(struct cdc_applier *a);
/* Forgets every transaction and position, as before the first record: for a restart. */
void apply_txn_state_reset(struct cdc_applier *a);

#endif
