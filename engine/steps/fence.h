/*
 * Fencing the source (DESIGN.md §4 fence_writes): the database is made
 * read-only for new sessions and the sessions of the listed roles are
 * ended, so no write can land after the cutover's stop position. The
 * cutover step fences; `pgshift cleanup --unfence` undoes it. Both take a
 * normal (writable) session on the source: pg_connect turns
 * default_transaction_read_only off for such sessions, so pgshift's own
 * later sessions keep working on a fenced database.
 */
#ifndef PGSHIFT_STEPS_FENCE_H
#define PGSHIFT_STEPS_FENCE_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "plan/plan.h"
#include "util/error.h"

/*
 * ALTER DATABASE <current> SET default_transaction_read_only = on, then
 * pg_terminate_backend for every other session of roles on that database,
 * except pgshift's own: this process's source sessions and the walsender of
 * slot (may be NULL). *ended (may be NULL) gets how many sessions were ended.
 */
bool fence_source(PGconn *src, const struct strlist *roles, const char *slot, long *ended,
				  struct pgs_error *err);

/* ALTER DATABASE <current> RESET default_transaction_read_only; idempotent. */
bool unfence_source(PGconn *src, struct pgs_error *err);

/* Whether the current database has default_transaction_read_only on (set by a fence, or by hand). */
bool database_fenced(PGconn *conn, bool *fenced, struct pgs_error *err);

#endif
