/*
 * The CLUSTER ON marks of the migrated tables, set on the target as on the
 * source (cdc.ddl: replicate, at the stop position): CLUSTER fires no
 * event trigger on PostgreSQL 15, so the index it marks (what pg_dump
 * writes as ALTER TABLE ... CLUSTER ON) is in neither the capture nor the
 * stream. The row order it gives is no schema property and is not copied.
 */
#ifndef PGSHIFT_RUN_DDL_CLUSTER_H
#define PGSHIFT_RUN_DDL_CLUSTER_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "plan/plan.h"
#include "util/error.h"

/* Sets the target's marks (ALTER TABLE ... CLUSTER ON / SET WITHOUT CLUSTER); logs what changed. */
bool ddl_cluster_sync(PGconn *src, PGconn *tgt, const struct plan *plan, struct pgs_error *err);

#endif
