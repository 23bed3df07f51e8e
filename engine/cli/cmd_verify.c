/*
 * pgshift verify PLAN [--level schema|count|checksum] [--json]: compares
 * source and target outside a run (engine/verify/). The report goes to
 * stdout; exit 0 when nothing FAILed, 1 when something differs or a
 * comparison could not be made, 3 for a bad plan or level. The default
 * level is checksum: the only one that proves the data equal.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "pg/conn.h"
#include "util/log.h"
#include "verify/verify.h"

static bool
parse_level(const char *s, enum verify_level *level)
{
	static const enum verify_level all[] = {VERIFY_SCHEMA, VERIFY_COUNT, VERIFY_CHECKSUM};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(s, verify_level_name(all[i])) == 0) {
			*level = all[i];
			return true;
		}
	return false;
}

static bool
load_catalog(const struct plan *plan, struct catalog *cat, struct pgs_error *err)
{
	PGconn *src = verify_connect(plan->source_uri, "source", NULL, err);
	bool ok = src && catalog_load(src, plan, cat, err);

	PQfinish(src);
	return ok;
}

static int
run_verify(const struct plan *plan, enum verify_level level, bool json)
{
	struct catalog cat;
	struct verify_report r;
	struct pgs_error err;
	struct buf out;
	int rc;

	pgs_error_clear(&err);
	if (!load_catalog(plan, &cat, &err)) {
		log_report(LOG_ERROR, &err);
		return EXIT_FAILED;
	}
	verify_report_init(&r, &cat, level);
	buf_init(&out);
	if (!verify_plan(plan, &cat, level, &r, &err)) {
		log_report(LOG_ERROR, &err);
		rc = EXIT_FAILED;
	} else {
		(json ? verify_print_json : verify_print_text)(&r, plan->name, &out);
		fputs(out.data, stdout);
		fflush(stdout);
		rc = verify_count_status(&r, VS_FAIL) ? EXIT_FAILED : EXIT_OK;
	}
	buf_free(&out);
	verify_report_free(&r);
	catalog_free(&cat);
	return rc;
}

int
cmd_verify(const struct cli_args *args)
{
	enum verify_level level = VERIFY_CHECKSUM;
	struct plan *plan;
	int rc;

	if (args->set[OPT_LEVEL] && !parse_level(args->value[OPT_LEVEL], &level)) {
		fprintf(stderr, "pgshift: error: --level %s: expected schema, count or checksum\n",
				args->value[OPT_LEVEL]);
		return EXIT_USAGE;
	}
	plan = cli_load_plan(args->plan, false);
	if (!plan)
		return EXIT_USAGE;
	rc = run_verify(plan, level, args->set[OPT_JSON]);
	plan_free(plan);
	return rc;
}
