/*
 * Undoing what the snapshot step did to the source's replica identities
 * (pgshift.identity_changes, recorded before each change): `pgshift cleanup
 * --restore-identity` puts them back; any cleanup without it says what is
 * left changed and how to restore it.
 */
#ifndef PGSHIFT_CDC_IDENTITY_RESTORE_H
#define PGSHIFT_CDC_IDENTITY_RESTORE_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "state/state.h"
#include "util/error.h"

/*
 * Restores every recorded change on src (a writable source session) and
 * marks it restored. A table whose identity is already the old one, or that
 * no longer exists, is only marked; one changed since by someone else is
 * left as it is, with a warning. Idempotent.
 */
bool identity_restore_all(struct state *st, PGconn *src, struct pgs_error *err);

/* Logs a warning naming each change not restored and the command that restores it. */
bool identity_report_left(struct state *st, const char *plan_file, struct pgs_error *err);

#endif
