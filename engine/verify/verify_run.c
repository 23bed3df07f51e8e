/*
 * Running a verify level (verify_plan) for `pgshift verify` and the cutover
 * step verify, which share it. Outside a run the source may still take
 * writes: counts and checksums then describe two different moments, and a
 * difference is only conclusive once writes stopped (fence_writes). Both
 * read the source catalog when they run.
 */
#include <stdlib.h>

#include "pg/conn.h"
#include "util/buf.h"
#include "util/log.h"
#include "verify/verify.h"

PGconn *
verify_connect(const char *conninfo, const char *role, const char *app_name,
			   struct pgs_error *err)
{
	struct pg_session s = {role, app_name ? app_name : "pgshift verify", true, false, false};

	return pg_connect(conninfo, &s, err);
}

bool
verify_plan(const struct plan *plan, const struct catalog *cat, enum verify_level level,
			struct verify_report *r, struct pgs_error *err)
{
	PGconn *src = verify_connect(plan->source_uri, "source", r->app_name, err);
	PGconn *dst = src ? verify_connect(plan->target_uri, "target", r->app_name, err) : NULL;
	bool ok = dst && verify_schema(plan, cat, dst, r, err) &&
		verify_privs(plan, cat, src, dst, r, err);

	if (ok && level == VERIFY_COUNT)
		ok = verify_counts(cat, src, dst, r, err);
	if (ok && level == VERIFY_CHECKSUM)
		ok = verify_checksums(plan, cat, src, r, err);
	if (ok && level != VERIFY_SCHEMA)
		ok = verify_sequences(cat, src, dst, r, err);
	PQfinish(src);
	PQfinish(dst);
	return ok;
}

/*
 * The source catalog now, not the run's: a table, column, index or
 * constraint created on the source after apply started must be a FAIL
 * ("missing on the target"), never invisible.
 */
static bool
read_source_catalog(const struct plan *plan, struct catalog *cat, struct pgs_error *err)
{
	PGconn *src = verify_connect(plan->source_uri, "source", NULL, err);
	bool ok = src && catalog_load(src, plan, cat, err);

	PQfinish(src);
	return ok;
}

bool
cutover_verify(struct run *run, const struct cutover_step *cs, struct pgs_error *err)
{
	struct verify_report r;
	struct catalog cat;
	struct buf out;
	char app[RUN_APP_NAME_SIZE];
	bool ok;

	if (!read_source_catalog(run->plan, &cat, err))
		return false;
	verify_report_init(&r, &cat, cs->level);
	/* a SIGINT cancels the sessions of the run (run/stop.h): a long checksum too */
	run_app_name(run->run_id, "cutover verify", app, sizeof(app));
	r.app_name = app;
	buf_init(&out);
	ok = verify_plan(run->plan, &cat, cs->level, &r, err);
	if (ok) {
		verify_print_text(&r, run->plan->name, &out);
		log_info("%s", out.data);
		buf_reset(&out);
		verify_failures(&r, &out);
		if (out.len) {
			ok = false;
			pgs_fail(err, "verify %s: %zu difference(s): %s", verify_level_name(cs->level),
					 verify_count_status(&r, VS_FAIL), out.data);
		}
	}
	buf_free(&out);
	verify_report_free(&r);
	catalog_free(&cat);
	return ok;
}
