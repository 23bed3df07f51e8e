/*
 * The snapshot step of a CDC resume with copies left (DESIGN.md §4b), as
 * native logical replication's table sync does it: the original slot, its
 * spool and every finished copy are kept; the tables whose copy did not
 * finish are copied again on the snapshot of a TEMPORARY slot, created over
 * a replication connection that stays open (and runs nothing else) while
 * those copies run. Its consistent point L1 is recorded for each of those
 * tables before any of them is copied: the copy holds exactly the source
 * transactions that committed before L1, so the applier skips their spooled
 * changes committed before L1 and applies the rest from the original spool.
 * The publication and replica identities are the first run's, unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/cdc_slot.h"
#include "cdc/pgoutput.h"
#include "pg/conn.h"
#include "steps/steps.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

/* NAMEDATALEN - 1 */
#define SLOT_NAME_MAX 63

static bool
record_sync_points(struct run *run, const char *lsn, struct buf *names, struct pgs_error *err)
{
	const struct catalog *cat = run->cat;
	size_t n = 0;

	for (size_t i = 0; i < cat->ntables; i++) {
		const struct cat_table *t = &cat->tables[i];

		if (!run->resync_tables[i] || !cat_table_copies_data(t))
			continue;
		if (!state_set_table_sync(run->state, t->schema, t->name, lsn, err))
			return false;
		if (n++ < 10)
			buf_printf(names, "%s%s.%s", n > 1 ? ", " : "", t->schema, t->name);
	}
	if (n > 10)
		buf_printf(names, " and %zu more", n - 10);
	return true;
}

/*
 * apply --replan: a new table gets what the first run's snapshot step gave
 * the others, a replica identity and a place in the publication, before the
 * temporary slot's consistent point, so the slot carries its changes from
 * there on.
 */
static bool
add_new_tables(struct run *run, const char *step_id, struct pgs_error *err)
{
	PGconn *conn = run_connect_source(run, step_id, err);
	int added = 0;
	bool ok;

	if (!conn)
		return false;
	ok = snapshot_prepare_identities(run, conn, err) &&
		cdc_publication_add_tables(conn, run->plan->cdc.publication, run->cat, &added, err);
	PQfinish(conn);
	if (ok && added > 0)
		log_info("snapshot: --replan: added %d new table(s) to publication \"%s\"", added,
				 run->plan->cdc.publication);
	return ok;
}

bool
step_snapshot_resync(struct run *run, size_t step, struct pgs_error *err)
{
	const struct step *st = &run->dag->steps[step];
	char slot[SLOT_NAME_MAX + 1], text[PGO_LSN_TEXT_SIZE];
	PGconn *repl;
	char *snapshot = NULL;
	uint64_t lsn = 0;
	struct buf names;
	bool ok;

	if (run->replan && !add_new_tables(run, st->id, err))
		return false;
	repl = run_connect_source_replication(run, st->id, err);
	if (!repl)
		return false;
	/* the dead run's temporary slot went with its session (ended before preflight) */
	snprintf(slot, sizeof(slot), "%.*s_sync", SLOT_NAME_MAX - 5, run->plan->cdc.slot);
	if (!cdc_create_temp_slot(repl, slot, &snapshot, &lsn, err) ||
		!run_hold_snapshot(run, repl, snapshot, err)) {
		free(snapshot);
		PQfinish(repl);
		return false;
	}
	pgo_lsn_text(lsn, text);
	buf_init(&names);
	ok = record_sync_points(run, text, &names, err);
	if (ok)
		log_info("resume: copying again only %s, on the snapshot %s of temporary slot \"%s\" at %s;"
				 " replication slot \"%s\" and its spool are kept, and the changes of those tables"
				 " that committed before %s are skipped", names.data ? names.data : "no table",
				 snapshot, slot, text, run->plan->cdc.slot, text);
	buf_free(&names);
	free(snapshot);
	return ok;
}
