/*
 * pgshift rollback PLAN [--follow] [--yes] (engine/lifecycle/rollback*.c).
 * Exit 0 done, 1 failed, 3 bad plan, rollback not enabled or not
 * confirmed, 4 the reverse stream is in use by another pgshift, 130 / 143
 * stopped by SIGINT / SIGTERM (the rollback: after its current step;
 * --follow: its positions recorded).
 */
#include "cli/cli.h"
#include "lifecycle/rollback.h"
#include "plan/plan.h"
#include "run/stop.h"
#include "util/log.h"

int
cmd_rollback(const struct cli_args *args)
{
	struct plan *plan = cli_load_plan(args->plan, true);
	struct pgs_error err;
	enum lifecycle_result rc;

	if (!plan)
		return EXIT_USAGE;
	pgs_error_clear(&err);
	if (!plan->rollback.enabled) {
		log_error("plan \"%s\" has rollback.enabled: false: there is no reverse stream to roll "
				  "back with", plan->name);
		plan_free(plan);
		return EXIT_USAGE;
	}
	/* before any thread: they all leave the two signals to the watcher */
	if (!stop_watch_start(&err)) {
		log_report(LOG_ERROR, &err);
		plan_free(plan);
		return EXIT_FAILED;
	}
	if (args->set[OPT_FOLLOW])
		rc = rollback_follow(plan, &err);
	else
		rc = rollback_plan(plan, args->set[OPT_YES], &err);
	if (rc == LIFECYCLE_OK && !args->set[OPT_FOLLOW])
		log_info("rollback of plan \"%s\" finished: the application may write to the source "
				 "again; `pgshift cleanup %s` removes the reverse spool and record", plan->name,
				 args->plan);
	plan_free(plan);
	if (stop_signal()) {
		if (rc != LIFECYCLE_OK)
			log_report(LOG_ERROR, &err);
		return EXIT_SIGNAL_BASE + stop_signal();
	}
	return cli_lifecycle_exit(rc, &err);
}
