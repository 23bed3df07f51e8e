/*
 * Preflight (DESIGN.md §3): named checks of source, target and tools, each
 * PASS / WARN / FAIL with the observed value and a one-line fix, plus the
 * compare-params section of settings that differ between the servers.
 * Read-only: nothing is created anywhere.
 */
#ifndef PGSHIFT_PREFLIGHT_PREFLIGHT_H
#define PGSHIFT_PREFLIGHT_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "pg/catalog.h"
#include "plan/plan.h"
#include "util/buf.h"
#include "util/error.h"

enum check_status { CHECK_PASS, CHECK_WARN, CHECK_FAIL };

struct check_result {
	char *name;                 /* stable id, e.g. "wal_level", "replication_privilege" */
	enum check_status status;
	char *observed;             /* what was seen, e.g. "replica" */
	char *hint;                 /* one-line fix; NULL on PASS */
};

struct param_diff {
	char *name;
	char *source_value, *target_value;
	bool changes_behaviour;     /* WARN-worthy (TimeZone, lc_*, ...) vs informational */
};

struct preflight_report {
	struct check_result *checks;
	size_t nchecks;
	struct param_diff *params;
	size_t nparams;
	size_t nfail, nwarn;
};

/*
 * Runs every check. src/dst are open sessions (read-only in a dry run); src
 * and cat are required (without the source there is nothing to check). When
 * dst is NULL the target checks FAIL and target_connect shows the connection
 * error given in target_error. resuming: a run of this plan exists in the
 * target's state, so a leftover slot/publication is expected, not a FAIL.
 * A check whose query fails becomes a WARN naming the error; false (with err)
 * only when a connection is lost, as then no result can be trusted.
 */
bool preflight_run(const struct plan *plan, PGconn *src, PGconn *dst,
				   const char *target_error, const struct catalog *cat, bool resuming,
				   struct preflight_report *report, struct pgs_error *err);
void preflight_report_free(struct preflight_report *report);
const char *check_status_name(enum check_status s);
/* The check named name, or NULL. */
const struct check_result *preflight_find(const struct preflight_report *report,
										  const char *name);

/* Human report: one line per check, then the compare-params section. */
void preflight_report_text(const struct preflight_report *report, struct buf *out);
/* {"checks":[{name,status,observed,hint}],"params":[...],"fail":N,"warn":N} */
void preflight_report_json(const struct preflight_report *report, struct buf *out);

#endif
