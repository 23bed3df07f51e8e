/*
 * Comparing source and target (DESIGN.md §4 "Verify"). This build has the
 * count level: exact row counts of every copied table on both servers.
 */
#ifndef PGSHIFT_VERIFY_VERIFY_H
#define PGSHIFT_VERIFY_VERIFY_H

#include <stdbool.h>

#include "run/run.h"

/* The cutover kind verify: fails naming every table whose counts differ. */
bool cutover_verify(struct run *run, const struct cutover_step *cs, struct pgs_error *err);

/* Exact row count of ONLY schema.table; false with err on failure. */
bool verify_count_table(PGconn *conn, const char *schema, const char *table, long long *count,
						struct pgs_error *err);

#endif
