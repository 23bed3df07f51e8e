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

bool
step_snapshot_resync(struct run *run, size_t step, struct pgs_error *err)
{
	const struct step *st = &run->dag->steps[step];
	char slot[SLOT_NAME_MAX + 1], text[PGO_LSN_TEXT_SIZE];
	PGconn *repl = run_connect_source_replication(run, st->id, err);
	char *snapshot = NULL;
	uint64_t lsn = 0;
	struct buf names;
	bool ok;

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
