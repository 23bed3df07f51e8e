/*
 * pgshift plan PLAN: the dry run. Opens read-only sessions, reads the source
 * catalog, runs preflight, compiles the DAG that apply would execute, and
 * prints it. Exit 0 / 2 (preflight FAIL) / 3 (bad plan) / 1 (cannot connect).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "dag/dag.h"
#include "pg/catalog.h"
#include "pg/conn.h"
#include "plan/plan.h"
#include "preflight/preflight.h"
#include "report/report.h"
#include "state/state.h"
#include "util/log.h"
#include "util/xalloc.h"

/*
 * The saved plan (--out) is written next to its final name first and
 * renamed once whole, so a reader never sees half of it.
 */
static FILE *
open_saved(const char *path, char *tmp, size_t size, struct pgs_error *err)
{
	FILE *f;

	if ((size_t) snprintf(tmp, size, "%s.tmp", path) >= size) {
		pgs_fail(err, "path too long: %s", path);
		return NULL;
	}
	f = fopen(tmp, "wb");
	if (!f)
		pgs_fail(err, "could not write \"%s\": %m", tmp);
	return f;
}

static bool
commit_saved(FILE *f, const char *tmp, const char *path, struct pgs_error *err)
{
	bool failed = ferror(f) != 0;

	if (fclose(f) != 0 || failed) {
		remove(tmp);
		return pgs_fail(err, "could not write \"%s\": %m", tmp);
	}
	if (rename(tmp, path) != 0) {
		remove(tmp);
		return pgs_fail(err, "could not rename \"%s\" to \"%s\": %m", tmp, path);
	}
	log_info("saved plan written to %s", path);
	return true;
}

static bool
emit(const struct cli_args *args, const struct plan_report *r, struct pgs_error *err)
{
	const char *format = args->value[OPT_FORMAT] ? args->value[OPT_FORMAT] : "text";
	const char *saved = args->value[OPT_OUT];
	char tmp[4096];
	FILE *out[2], *f = NULL;
	size_t nout = 0;

	if (saved && !(f = open_saved(saved, tmp, sizeof(tmp), err)))
		return false;
	if (strcmp(format, "json") == 0)
		out[nout++] = stdout;
	if (f)
		out[nout++] = f;
	if (nout)
		report_json(out, nout, r);
	if (strcmp(format, "markdown") == 0)
		report_markdown(stdout, r);
	else if (strcmp(format, "dot") == 0)
		report_dot(stdout, r);
	else if (strcmp(format, "json") != 0)
		report_text(stdout, r, args->set[OPT_VERBOSE]);
	fflush(stdout);
	return !f || commit_saved(f, tmp, saved, err);
}

static int
plan_offline(const struct cli_args *args, struct plan *plan)
{
	struct dag dag;
	struct pgs_error err;
	struct plan_report r = {.plan = plan, .dag = &dag};
	int rc = EXIT_OK;

	pgs_error_clear(&err);
	if (!dag_compile(plan, NULL, &dag, &err) || !emit(args, &r, &err)) {
		log_report(LOG_ERROR, &err);
		rc = EXIT_FAILED;
	}
	dag_free(&dag);
	return rc;
}

struct online {
	PGconn *src, *dst;
	struct catalog cat;
	struct preflight_report pf;
	struct dag dag;
	char *fingerprint;
};

/*
 * Whether apply would resume a run of this plan: then the slot, the
 * publication and the objects the earlier attempt left are what apply
 * continues with, not leftovers that block it.
 */
static bool
has_unfinished_run(const struct plan *plan)
{
	struct run_state rs;
	struct pgs_error err;
	bool exists = false, unfinished;

	pgs_error_clear(&err);
	if (!state_read(plan, &rs, &exists, &err)) {
		log_report(LOG_WARNING, &err);
		return false;
	}
	if (!exists)
		return false;
	unfinished = !rs.status || strcmp(rs.status, "finished") != 0;
	run_state_free(&rs);
	return unfinished;
}

static bool
plan_collect(const struct plan *plan, struct online *o, struct pgs_error *err)
{
	struct pg_session src_s = {"source", "pgshift plan", true, false, false, true};
	struct pg_session dst_s = {"target", "pgshift plan", true, false, false, true};

	o->src = pg_connect(plan->source_uri, &src_s, err);
	if (!o->src)
		return false;
	o->dst = pg_connect(plan->target_uri, &dst_s, err);
	if (!o->dst)
		return false;
	if (!catalog_load_parallel(o->src, &src_s, plan, false, &o->cat, err))
		return false;
	if (!preflight_run(plan, o->src, o->dst, NULL, &o->cat, has_unfinished_run(plan), &o->pf,
					   err))
		return false;
	o->fingerprint = catalog_fingerprint(&o->cat);
	/* the DAG and the reports do not read the columns */
	catalog_free_columns(&o->cat);
	xtrim();
	return dag_compile(plan, &o->cat, &o->dag, err);
}

static int
plan_online(const struct cli_args *args, struct plan *plan)
{
	struct online o;
	struct pgs_error err;
	int rc = EXIT_FAILED;

	memset(&o, 0, sizeof(o));
	pgs_error_clear(&err);
	if (plan_collect(plan, &o, &err)) {
		struct plan_report r = {plan, &o.cat, &o.dag, &o.pf, o.fingerprint};

		if (emit(args, &r, &err))
			rc = o.pf.nfail ? EXIT_PREFLIGHT : EXIT_OK;
	}
	if (rc == EXIT_FAILED)
		log_report(LOG_ERROR, &err);
	dag_free(&o.dag);
	free(o.fingerprint);
	preflight_report_free(&o.pf);
	catalog_free(&o.cat);
	PQfinish(o.src);
	PQfinish(o.dst);
	return rc;
}

int
cmd_plan(const struct cli_args *args)
{
	struct plan *plan = cli_load_plan(args->plan, true);
	int rc;

	if (!plan)
		return EXIT_USAGE;
	rc = args->set[OPT_OFFLINE] ? plan_offline(args, plan) : plan_online(args, plan);
	plan_free(plan);
	return rc;
}
