/*
 * The snapshot step with CDC (DESIGN.md §3 `snapshot`, §4 consistency): the
 * publication of exactly the tables whose data is copied; REPLICA IDENTITY
 * FULL on those without a key when the plan says replica_identity: full;
 * then the logical slot, created over a replication connection with an
 * exported snapshot. That connection holds the snapshot for the copy
 * workers (run_hold_snapshot), so copy + replay from the slot's consistent
 * point is exactly the source: nothing lost, nothing twice.
 *
 * The order matters: the publication and the replica identity must exist
 * before the slot's consistent point, or pgoutput would decode the first
 * changes without them.
 *
 * What is recorded. The slot and publication live on the SOURCE, so they
 * are not in pgshift.created_objects (the target objects `reset` drops);
 * they are named by plan->cdc and dropped by cleanup. A log line names them
 * with the consistent point, and the state's run row gets that point as
 * both received and applied LSN: "the target will hold everything before
 * it once the copy is done". The applier starts there, and a resumed apply
 * reads it back from there.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cdc/cdc_slot.h"
#include "cdc/pgoutput.h"
#include "pg/conn.h"
#include "steps/steps.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Same rule as preflight's replica_identity check. */
static bool
lacks_identity(const struct cat_table *t)
{
	return cat_table_copies_data(t) && (t->replident == 'n' || (t->replident == 'd' && !t->has_pk));
}

static bool
set_replica_identity_full(struct run *run, PGconn *conn, struct pgs_error *err)
{
	const struct catalog *cat = run->cat;

	if (run->plan->cdc.replica_identity != REPLICA_IDENTITY_FULL)
		return true;
	for (size_t i = 0; i < cat->ntables; i++) {
		const struct cat_table *t = &cat->tables[i];
		char *q, *sql;
		bool ok;

		if (!lacks_identity(t))
			continue;
		q = pg_quote_qualified(conn, t->schema, t->name);
		sql = xasprintf("ALTER TABLE %s REPLICA IDENTITY FULL", q);
		ok = pg_exec(conn, sql, 0, NULL, err);
		free(sql);
		free(q);
		if (!ok) {
			pgs_error_prefix(err, "could not set REPLICA IDENTITY FULL on table \"%s.%s\" on the source",
							 t->schema, t->name);
			return false;
		}
		log_info("snapshot: set REPLICA IDENTITY FULL on source table \"%s.%s\", which has no "
				 "primary key or replica identity (cdc.replica_identity: full)", t->schema, t->name);
	}
	return true;
}

static bool
record_start(struct run *run, uint64_t lsn, struct pgs_error *err)
{
	char text[PGO_LSN_TEXT_SIZE];

	pgo_lsn_text(lsn, text);
	run->cdc_start_lsn = lsn;
	run->reported_received = lsn;
	return state_set_applied_lsn(run->state, text, err) &&
		state_set_received_lsn(run->state, text, err);
}

/* The slot over a replication connection, which then holds the exported snapshot. */
static bool
create_slot(struct run *run, const char *step_id, struct pgs_error *err)
{
	char app[64];
	struct pg_session s = {"source", app, false, true, false};
	PGconn *repl;
	char *snapshot = NULL;
	uint64_t lsn = 0;
	char text[PGO_LSN_TEXT_SIZE];

	snprintf(app, sizeof(app), "pgshift %s", step_id);
	repl = pg_connect(run->plan->source_uri, &s, err);
	if (!repl)
		return false;
	if (!cdc_create_slot(repl, run->plan->cdc.slot, &snapshot, &lsn, err) ||
		!run_hold_snapshot(run, repl, snapshot, err)) {
		free(snapshot);
		PQfinish(repl);
		return false;
	}
	pgo_lsn_text(lsn, text);
	log_info("snapshot: created replication slot \"%s\" on the source at %s, exported snapshot %s",
			 run->plan->cdc.slot, text, snapshot);
	free(snapshot);
	return record_start(run, lsn, err);
}

bool
step_snapshot_cdc(struct run *run, size_t step, struct pgs_error *err)
{
	const struct step *st = &run->dag->steps[step];
	PGconn *conn = run_connect_source(run, st->id, err);
	bool ok;

	if (!conn)
		return false;
	ok = cdc_create_publication(conn, run->plan, run->cat, err);
	if (ok)
		log_info("snapshot: publication \"%s\" on the source lists the tables whose data is copied",
				 run->plan->cdc.publication);
	ok = ok && set_replica_identity_full(run, conn, err);
	PQfinish(conn);
	return ok && create_slot(run, st->id, err);
}
