/*
 * The schema restore in batches of archive entries, each one transaction,
 * so that no transaction holds more locks than the target's lock table can
 * spare (issue 16: one transaction over 10,000 tables fails with "out of
 * shared memory" under the default max_locks_per_transaction = 64).
 *
 * pg_restore writes each batch's SQL (-f, with -L listing the batch's
 * entries); pgshift runs it on its own session between BEGIN and COMMIT,
 * together with the batch's marker row in pgshift.restore_batches. So a
 * batch is on the target with its marker, or neither is: a crash between
 * batches leaves the committed batches, marked, and nothing of the one
 * running; the resume skips the marked batches and runs the others.
 */
#ifndef PGSHIFT_STEPS_SCHEMA_BATCHES_H
#define PGSHIFT_STEPS_SCHEMA_BATCHES_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "pg/dump.h"
#include "run/run.h"
#include "util/error.h"

/* Consecutive runs of archive entries: batch b covers toc items [start[b], start[b + 1]). */
struct restore_batches {
	size_t *start;              /* owned; n + 1 bounds */
	size_t n;
};

/*
 * Lock units one batch may use on tgt: a quarter of the shared lock table
 * (max_locks_per_transaction x (max_connections + max_prepared_transactions)),
 * so the rest stays for the target's other sessions.
 */
bool restore_lock_budget(PGconn *tgt, long *units, struct pgs_error *err);

/*
 * Cuts the entries with counted[i] into batches of at most budget lock
 * units (a TABLE weighs 3: the table, its TOAST table and TOAST index; any
 * other entry 1), at least one entry each. Deterministic: the same archive
 * and counted give the same batches, which a resume relies on.
 */
void restore_batches_split(struct restore_batches *b, const struct toc *toc,
						   const bool *counted, long budget);
void restore_batches_free(struct restore_batches *b);

/* One restore: the archive, the work files it uses, and what it restores. */
struct restore_job {
	struct run *run;
	const char *step_id;
	const char *dump, *list, *script;   /* paths in run->workdir */
	const struct toc *toc;
	const bool *keep;                   /* per toc entry: restored */
	bool clean;                         /* --clean --if-exists: each batch drops and recreates */
	bool resumable;                     /* skip the batches a dead run committed, mark each */
};

/* Restores rj's kept entries batch by batch; err names the batch that failed. */
bool restore_in_batches(const struct restore_job *rj, const struct restore_batches *b,
						struct pgs_error *err);

#endif
