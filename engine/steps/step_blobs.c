/*
 * blobs — the source's large objects, with their OIDs (columns of type oid
 * refer to them), restored on the target by pg_dump / pg_restore.
 *
 * The dump is --data-only with every table's data excluded, so it holds the
 * large objects and nothing a copy step moves; of its entries only the
 * large objects (BLOB, BLOBS, and comments on them) are restored. Privileges
 * and owners are left out as in the schema steps. --clean --if-exists
 * unlinks a large object of the same OID before creating it, so a second run
 * gives the same result. It is not one transaction: each large object takes
 * a lock, and millions of them would exhaust the target's lock table.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg/conn.h"
#include "steps/steps.h"
#include "steps/steps_int.h"
#include "util/xalloc.h"

static bool
is_large_object_entry(const struct toc_entry *e)
{
	if (!e->desc)
		return false;
	if (strcmp(e->desc, "BLOB") == 0 || strcmp(e->desc, "BLOBS") == 0)
		return true;
	return strcmp(e->desc, "COMMENT") == 0 && strncmp(e->rest, "- LARGE OBJECT ", 15) == 0;
}

static bool
dump_blobs(struct run *run, const char *dump, struct pgs_error *err)
{
	struct pgtool_cmd cmd;
	bool ok;

	pgtool_init(&cmd, "pg_dump");
	pgtool_arg(&cmd, "--data-only");
	pgtool_arg(&cmd, "--blobs");
	pgtool_arg(&cmd, "--exclude-table-data=*.*");
	ok = dump_common_args(run, &cmd, dump, err) &&
		pgtool_run(&cmd, "pg_dump of the large objects failed", err);
	pgtool_free(&cmd);
	return ok;
}

static bool
restore_blobs(struct run *run, const char *dump, const char *use, struct pgs_error *err)
{
	struct pgtool_cmd cmd;
	bool ok;

	pgtool_init(&cmd, "pg_restore");
	pgtool_arg(&cmd, "--clean");
	pgtool_arg(&cmd, "--if-exists");
	pgtool_argf(&cmd, "--use-list=%s", use);
	ok = restore_common_args(run, &cmd, err);
	pgtool_arg(&cmd, dump);
	ok = ok && pgtool_run(&cmd, "pg_restore of the large objects failed", err);
	pgtool_free(&cmd);
	return ok;
}

static bool
copy_blobs(struct run *run, const char *dump, const char *use, struct pgs_error *err)
{
	struct toc toc = {0};
	bool *keep = NULL;
	size_t n = 0;
	bool ok = dump_blobs(run, dump, err) && toc_list(dump, &toc, err);

	if (ok) {
		keep = xcalloc(toc.n ? toc.n : 1, sizeof(bool));
		for (size_t i = 0; i < toc.n; i++)
			n += (keep[i] = is_large_object_entry(&toc.items[i]));
		ok = n == 0 || (toc_write_kept(&toc, keep, use, err) && restore_blobs(run, dump, use, err));
	}
	free(keep);
	toc_free(&toc);
	return ok;
}

bool
step_blobs(struct run *run, size_t step, struct pgs_error *err)
{
	char *dump = work_file(run, "blobs.dump", err);
	char *use = dump ? work_file(run, "blobs.use", err) : NULL;
	bool ok = use && copy_blobs(run, dump, use, err) && steps_record_created(run, err);

	if (dump)
		unlink(dump);
	if (use)
		unlink(use);
	free(dump);
	free(use);
	return ok || step_failed(run, step, err);
}
