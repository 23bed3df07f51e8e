/*
 * The snapshot step with CDC (DESIGN.md §3 `snapshot`, §4 consistency, §4a):
 * first a usable replica identity on every copied table that lacks one
 * (cdc/identity.h; USING INDEX a suitable unique index, else FULL) when the
 * plan says replica_identity: full, each change recorded on the target
 * before it is made; then the publication of exactly the tables whose data
 * is copied; then the logical slot, created over a replication connection with an
 * exported snapshot. That connection holds the snapshot for the copy
 * workers (run_hold_snapshot), so copy + replay from the slot's consistent
 * point is exactly the source: nothing lost, nothing twice.
 *
 * The order matters: the identity before the publication, or the source
 * refuses the application's UPDATE/DELETE in between; both before the
 * slot's consistent point, or pgoutput would decode the first changes
 * without them.
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
#include "cdc/ddl_capture.h"
#include "cdc/identity.h"
#include "cdc/pgoutput.h"
#include "pg/conn.h"
#include "steps/steps.h"
#include "util/log.h"
#include "util/xalloc.h"

/* The change the rule asks for, recorded on the target before it is made. */
static bool
fix_identity(struct run *run, PGconn *conn, const struct cat_table *t, enum identity_fix fix,
			 struct pgs_error *err)
{
	struct identity_change c = {
		.schema = t->schema, .table = t->name,
		.old_identity = t->replident, .old_index = t->replident == 'i' ? t->replident_index : NULL,
		.new_identity = (char) fix, .new_index = fix == IDENTITY_INDEX ? t->identity_candidate : NULL,
	};

	if (run->plan->cdc.replica_identity != REPLICA_IDENTITY_FULL) {
		pgs_fail(err, "table \"%s.%s\" has no usable replica identity (%s)", t->schema, t->name,
				 identity_problem(t));
		pgs_error_hint(err, "set one on the source (pgshift plan shows the statement), "
					   "or set cdc.replica_identity: full");
		return false;
	}
	if (!state_record_identity(run->state, &c, err) ||
		!identity_set(conn, t->schema, t->name, c.new_identity, c.new_index, err))
		return false;
	log_info("snapshot: set REPLICA IDENTITY %s%s%s on source table \"%s.%s\" (was %s%s%s: %s);"
			 " \"pgshift cleanup --restore-identity\" puts it back", identity_name(c.new_identity),
			 c.new_index ? " " : "", c.new_index ? c.new_index : "", t->schema, t->name,
			 identity_name(c.old_identity), c.old_index ? " " : "", c.old_index ? c.old_index : "",
			 identity_problem(t));
	return true;
}

/*
 * Before the publication exists: a table in it without a usable identity
 * makes the application's UPDATE and DELETE fail. Recorded first, so that
 * a crash between record and change still leaves the record.
 */
bool
snapshot_prepare_identities(struct run *run, PGconn *conn, struct pgs_error *err)
{
	const struct catalog *cat = run->cat;

	for (size_t i = 0; i < cat->ntables; i++) {
		enum identity_fix fix = identity_needed(&cat->tables[i]);

		if (fix != IDENTITY_KEEP && !fix_identity(run, conn, &cat->tables[i], fix, err))
			return false;
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
		state_set_received_lsn(run->state, NULL, NULL, text, err);
}

/* The slot over a replication connection, which then holds the exported snapshot. */
static bool
create_slot(struct run *run, const char *step_id, struct pgs_error *err)
{
	char app[RUN_APP_NAME_SIZE];
	struct pg_session s = {"source", app, false, true, false, false};
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
	ok = snapshot_prepare_identities(run, conn, err) && cdc_create_publication(conn, run->plan, run->cat, err);
	if (ok)
		log_info("snapshot: publication \"%s\" on the source lists the tables whose data is copied",
				 run->plan->cdc.publication);
	/* before the slot: every DDL after its consistent point is in the stream */
	if (ok && run->plan->cdc.ddl == DDL_REPLICATE) {
		ok = ddl_capture_install(conn, run->plan, run->cat, err);
		if (ok)
			log_info("snapshot: event triggers %s and %s on the source capture DDL of the "
					 "migrated schemas (cdc.ddl: replicate)", DDL_CAPTURE_END_TRIGGER,
					 DDL_CAPTURE_DROP_TRIGGER);
	}
	PQfinish(conn);
	return ok && create_slot(run, st->id, err);
}
