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

/* Writes the file next to its final name first, so a reader never sees half of it. */
static bool
write_file_atomically(const char *path, const char *data, size_t len, struct pgs_error *err)
{
	char tmp[4096];
	FILE *f;

	if ((size_t) snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return pgs_fail(err, "path too long: %s", path);
	f = fopen(tmp, "wb");
	if (!f)
		return pgs_fail(err, "could not write \"%s\": %m", tmp);
	if (fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		remove(tmp);
		return pgs_fail(err, "could not write \"%s\": %m", tmp);
	}
	if (rename(tmp, path) != 0) {
		remove(tmp);
		return pgs_fail(err, "could not rename \"%s\" to \"%s\": %m", tmp, path);
	}
	return true;
}

static bool
emit(const struct cli_args *args, const struct plan_report *r, struct pgs_error *err)
{
	const char *format = args->value[OPT_FORMAT] ? args->value[OPT_FORMAT] : "text";
	struct buf json;
	bool ok = true;

	buf_init(&json);
	/* only when asked for: at 100,000 tables it is 130 MB, the largest thing plan holds */
	if (strcmp(format, "json") == 0 || args->value[OPT_OUT])
		report_json(&json, r);
	if (strcmp(format, "json") == 0)
		fputs(json.data, stdout);
	else if (strcmp(format, "markdown") == 0)
		report_markdown(stdout, r);
	else if (strcmp(format, "dot") == 0)
		report_dot(stdout, r);
	else
		report_text(stdout, r, args->set[OPT_VERBOSE]);
	fflush(stdout);
	if (args->value[OPT_OUT]) {
		ok = write_file_atomically(args->value[OPT_OUT], json.data, json.len, err);
		if (ok)
			log_info("saved plan written to %s", args->value[OPT_OUT]);
	}
	buf_free(&json);
	return ok;
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
