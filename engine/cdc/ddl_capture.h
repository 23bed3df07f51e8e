/*
 * cdc.ddl: replicate, the source side: in schema pgshift on the source, a
 * capture function and two event triggers (ddl_command_end, sql_drop) that
 * emit every DDL command touching a migrated schema with
 * pg_logical_emit_message(true, 'pgshift.ddl', JSON of ddl_message.h), so it
 * is decoded in commit order with the rows around it; and that add a table
 * created in a migrated schema to the plan's publication in the creating
 * transaction, so its rows flow from its first one.
 *
 * The triggers and functions are shared by every plan replicating from the
 * database; table pgshift.ddl_capture holds one row per plan (its
 * publication and the schemas it migrates). Event triggers need a
 * superuser (or the provider's admin role) to create.
 */
#ifndef PGSHIFT_CDC_DDL_CAPTURE_H
#define PGSHIFT_CDC_DDL_CAPTURE_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "pg/catalog.h"
#include "plan/plan.h"
#include "util/buf.h"
#include "util/error.h"

#define DDL_CAPTURE_END_TRIGGER "pgshift_ddl_capture_end"
#define DDL_CAPTURE_DROP_TRIGGER "pgshift_ddl_capture_drop"
#define DDL_CAPTURE_FUNCTION "pgshift.ddl_capture()"

/* Creates (or brings up to date) the capture objects and plan's row; one transaction. */
bool ddl_capture_install(PGconn *src, const struct plan *plan, const struct catalog *cat,
						 struct pgs_error *err);

/*
 * Deletes plan_name's row; with no other plan's row left, drops the event
 * triggers, the functions, the table and schema pgshift when it is empty.
 * Nothing to do when capture was never installed. *dropped: the triggers went.
 */
bool ddl_capture_remove(PGconn *src, const char *plan_name, bool *dropped,
						struct pgs_error *err);

/*
 * Appends to names (", "-separated schema.name) each table the filters migrate
 * that was created during CDC without a usable replica identity, still has
 * none, and has rows: rows the publication never carried.
 */
bool ddl_capture_unpublished(PGconn *src, const struct plan *plan, struct buf *names,
							 struct pgs_error *err);

#endif
