/*
 * pgshift apply PLAN: execute the plan (engine/lifecycle/apply_plan.c). Exit 0 done,
 * 1 failed (naming the step and the server's error), 2 a resume refused
 * because the source has new tables (--replan takes them), 3 bad plan or flags,
 * (also a --metrics-listen address that cannot be bound), 4 another apply holds the plan's lock, 130 / 143 stopped by SIGINT / SIGTERM
 * (recorded interrupted; a re-run resumes).
 */
#include <stdio.h>

#include "cli/cli.h"
#include "lifecycle/apply_plan.h"
#include "metrics/metrics.h"
#include "plan/plan.h"
#include "run/stop.h"
#include "util/log.h"

int
cmd_apply(const struct cli_args *args)
{
	struct plan *plan = cli_load_plan(args->plan, true);
	struct apply_options opts = {
		.expect = args->value[OPT_EXPECT],
		.until = args->value[OPT_UNTIL],
		.approve = args->set[OPT_APPROVE],
		.yes = args->set[OPT_YES],
		.force = args->set[OPT_FORCE],
		.replan = args->set[OPT_REPLAN],
		.progress = !args->set[OPT_NO_PROGRESS],
	};
	struct pgs_error err;
	enum apply_result rc;

	if (!plan)
		return EXIT_USAGE;
	pgs_error_clear(&err);
	/* bound before anything is written: a port in use is the operator's typo, not a failed run */
	if (args->value[OPT_METRICS_LISTEN] &&
		!(opts.metrics = metrics_listen(args->value[OPT_METRICS_LISTEN], &err))) {
		log_report(LOG_ERROR, &err);
		plan_free(plan);
		return EXIT_USAGE;
	}
	rc = apply_plan(plan, &opts, &err);
	metrics_close(opts.metrics);
	plan_free(plan);
	switch (rc) {
	case APPLY_OK:
		log_info("apply finished");
		return EXIT_OK;
	case APPLY_DECLINED:
		log_info("nothing was changed");
		return EXIT_FAILED;
	case APPLY_INTERRUPTED:
		log_report(LOG_ERROR, &err);
		return EXIT_SIGNAL_BASE + stop_signal();
	case APPLY_LOCKED:
		log_report(LOG_ERROR, &err);
		return EXIT_LOCKED;
	case APPLY_BLOCKED:
		log_report(LOG_ERROR, &err);
		return EXIT_PREFLIGHT;
	default:
		if (err.step[0])
			log_error("step %s failed", err.step);
		log_report(LOG_ERROR, &err);
		return EXIT_FAILED;
	}
}
