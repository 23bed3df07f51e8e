/*
 * pgshift cleanup PLAN [--unfence] [--restore-identity] and pgshift reset PLAN
 * --yes [--cascade] [--force] (engine/lifecycle/cleanup.c, reset.c). Exit 0 done, 1
 * failed (reset: also refused over objects apply did not create), 3 bad plan
 * or reset without --yes, 4 an apply of the plan holds its lock.
 */
#include "cli/cli.h"
#include "lifecycle/lifecycle.h"
#include "plan/plan.h"
#include "util/log.h"

int
cli_lifecycle_exit(enum lifecycle_result rc, const struct pgs_error *err)
{
	switch (rc) {
	case LIFECYCLE_OK:
		return EXIT_OK;
	case LIFECYCLE_LOCKED:
		log_report(LOG_ERROR, err);
		return EXIT_LOCKED;
	case LIFECYCLE_REFUSED:
		log_report(LOG_ERROR, err);
		return EXIT_USAGE;
	case LIFECYCLE_FAILED:
		break;
	}
	log_report(LOG_ERROR, err);
	return EXIT_FAILED;
}

int
cmd_cleanup(const struct cli_args *args)
{
	struct plan *plan = cli_load_plan(args->plan, false);
	struct pgs_error err;
	enum lifecycle_result rc;

	if (!plan)
		return EXIT_USAGE;
	pgs_error_clear(&err);
	rc = cleanup_plan(plan, args->set[OPT_UNFENCE], args->set[OPT_RESTORE_IDENTITY],
					  args->set[OPT_FORCE], &err);
	if (rc == LIFECYCLE_OK)
		log_info("cleanup of plan \"%s\" finished", plan->name);
	plan_free(plan);
	return cli_lifecycle_exit(rc, &err);
}

int
cmd_reset(const struct cli_args *args)
{
	struct plan *plan = cli_load_plan(args->plan, false);
	struct pgs_error err;
	enum lifecycle_result rc;

	if (!plan)
		return EXIT_USAGE;
	pgs_error_clear(&err);
	rc = reset_plan(plan, &(struct reset_opts) {args->set[OPT_YES], args->set[OPT_CASCADE],
											   args->set[OPT_FORCE]}, &err);
	plan_free(plan);
	return cli_lifecycle_exit(rc, &err);
}
