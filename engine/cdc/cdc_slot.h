/*
 * The source-side objects CDC needs: the publication that says which tables
 * pgoutput sends, and the logical replication slot whose exported snapshot
 * every COPY worker reads (DESIGN.md §3 `snapshot`, §4 consistency). Create
 * the publication BEFORE the slot: pgoutput reads pg_publication with the
 * catalog snapshot of each decoded change, so a publication created after
 * the slot's consistent point is "not found" for the changes before it.
 *
 * Partitioned tables: the publication lists the LEAVES the catalog copies
 * (cat_table_copies_data), never a partitioned root, and is created with
 * publish_via_partition_root = false. Changes then carry the leaf's relid and
 * name, the same table the copy step filled, so an excluded leaf (or one in
 * exclude_table_data) stays out of CDC exactly as it stays out of the copy,
 * and a row moved between partitions arrives as a delete plus an insert on
 * the two leaves. Publishing the root would merge leaves the filters keep
 * apart.
 */
#ifndef PGSHIFT_CDC_CDC_SLOT_H
#define PGSHIFT_CDC_CDC_SLOT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "pg/await.h"
#include "pg/catalog.h"
#include "plan/plan.h"
#include "util/error.h"

/*
 * CREATE PUBLICATION plan->cdc.publication FOR TABLE <every table of cat
 * whose data is copied> WITH (publish = all four kinds,
 * publish_via_partition_root = false). conn is a normal session on the
 * source. Idempotent: an existing publication with exactly that table set,
 * those options, no schemas, row filters or column lists is accepted; any
 * other existing publication of that name is an error (it may belong to
 * someone else, and a narrower one would lose changes silently).
 */
bool cdc_create_publication(PGconn *conn, const struct plan *plan, const struct catalog *cat,
							struct pgs_error *err);

/*
 * apply --replan: adds to the publication the tables whose data is copied
 * that it does not list yet (new in the source since the run began);
 * *added counts them. Tables it lists are left alone.
 */
bool cdc_publication_add_tables(PGconn *conn, const char *publication, const struct catalog *cat,
								int *added, struct pgs_error *err);

/*
 * Drops the publication when it exists; *dropped (may be NULL) says whether
 * there was one, so the caller says what really happened. conn is a normal
 * session; idempotent.
 */
bool cdc_drop_publication(PGconn *conn, const char *publication, bool *dropped,
						  struct pgs_error *err);

/*
 * On repl_conn (pg_connect with replication = true): CREATE_REPLICATION_SLOT
 * "slot" LOGICAL pgoutput (SNAPSHOT 'export'). Fills *snapshot_name
 * (malloc'd, the caller frees) and *consistent_lsn (where decoding of the
 * slot starts: changes committed after the snapshot). The snapshot stays
 * importable only while repl_conn stays open and runs no other command:
 * hand it to run_hold_snapshot and close it after the copy.
 */
bool cdc_create_slot(PGconn *repl_conn, const char *slot, char **snapshot_name,
					 uint64_t *consistent_lsn, struct pgs_error *err);

/*
 * cdc_create_slot, with the command polled (pg/await.h): waiting(arg) runs
 * every poll_ms while the server has not answered, to say what the slot
 * waits for; its false cancels the creation and fails with its err.
 */
struct slot_watch {
	int poll_ms;
	pg_await_fn waiting;
	void *arg;
};
bool cdc_create_slot_watched(PGconn *repl_conn, const char *slot, const struct slot_watch *w,
							 char **snapshot_name, uint64_t *consistent_lsn,
							 struct pgs_error *err);

/*
 * The same with a TEMPORARY slot: the server drops it when repl_conn ends.
 * A resume takes the snapshot of one for the tables it copies again; the
 * consistent point tells which of their spooled changes the copy holds.
 */
bool cdc_create_temp_slot(PGconn *repl_conn, const char *slot, char **snapshot_name,
						  uint64_t *consistent_lsn, struct pgs_error *err);

/*
 * Drops the slot if it exists. A walsender streaming from it (even another
 * pgshift) is terminated first with pg_terminate_backend(active_pid), then
 * the drop is retried until the slot is free (up to about 10 s). conn is a
 * normal session; idempotent. *dropped (may be NULL) says whether there was one.
 */
bool cdc_drop_slot(PGconn *conn, const char *slot, bool *dropped, struct pgs_error *err);

/* Parses "16/B374D848"; false on anything else. */
bool cdc_lsn_parse(const char *text, uint64_t *lsn);

#endif
