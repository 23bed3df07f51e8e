/*
 * What cleanup drops on the source and locally, callable by the cleanup
 * step (inside apply, after it stopped CDC) and by `pgshift cleanup`
 * (outside any run). Every drop is IF EXISTS, so cleanup is safe twice and
 * after a failed run.
 */
#ifndef PGSHIFT_STEPS_CLEANUP_H
#define PGSHIFT_STEPS_CLEANUP_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "plan/plan.h"
#include "util/error.h"

/*
 * As the plan says (cleanup.drop_slot / drop_publication): drops the slot,
 * terminating a walsender still streaming from it, and the publication, on
 * src (a writable session on the source); then removes the spool directory.
 */
bool cleanup_cdc_objects(const struct plan *plan, PGconn *src, struct pgs_error *err);

#endif
