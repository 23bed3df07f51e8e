/*
 * pgshift cutover PLAN: approves the manual cutover gate of the plan's run.
 * The approval is a row on the target (pgshift.runs.approved_at), written
 * without the plan's lock, so it works from any machine while the apply
 * that waits at the gate holds the lock. Exit 0 when the run is approved
 * (now or before), 1 when there is no run or the target cannot be reached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "plan/plan.h"
#include "state/state.h"
#include "util/log.h"
#include "util/redact.h"

static void
fmt_utc(char *out, size_t len, double t)
{
	time_t secs = (time_t) t;
	struct tm tm;

	if (!gmtime_r(&secs, &tm) || strftime(out, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, len, "?");
}

/* Says what the approval means for a run that is not waiting at the gate. */
static void
explain(const struct plan *plan, const struct approval *a)
{
	if (strcmp(a->status, "finished") == 0)
		log_warning("run %s already finished; the approval changes nothing", a->run_id);
	else if (strcmp(a->status, "failed") == 0)
		log_info("run %s failed; when \"pgshift apply %s\" resumes it, it passes the cutover "
				 "gate without waiting", a->run_id, plan->file);
	if (plan->cutover.approval == APPROVAL_AUTO)
		log_info("plan %s approves its cutover automatically; the approval was recorded anyway",
				 plan->name);
}

static int
report(const struct plan *plan, const struct approval *a, const char *target_shown)
{
	char when[40];

	if (!a->exists) {
		struct pgs_error err;

		pgs_error_clear(&err);
		pgs_fail(&err, "no run of plan %s on the target (%s); there is no cutover to approve",
				 plan->name, target_shown);
		pgs_error_hint(&err, "\"pgshift apply %s\" starts the run; \"apply --approve\" "
					   "approves its cutover in advance", plan->file);
		log_report(LOG_ERROR, &err);
		return EXIT_FAILED;
	}
	fmt_utc(when, sizeof(when), a->approved_at);
	if (a->already)
		printf("cutover of plan %s (run %s, %s) was already approved at %s by %s; nothing "
			   "changed\n", plan->name, a->run_id, a->status, when, a->approved_by);
	else
		printf("approved the cutover of plan %s (run %s, %s) on %s as %s at %s\n", plan->name,
			   a->run_id, a->status, target_shown, a->approved_by, when);
	fflush(stdout);
	explain(plan, a);
	return EXIT_OK;
}

int
cmd_cutover(const struct cli_args *args)
{
	struct plan *plan = cli_load_plan(args->plan, false);
	struct approval a;
	struct pgs_error err;
	char *target_shown;
	int rc;

	if (!plan)
		return EXIT_USAGE;
	pgs_error_clear(&err);
	target_shown = redact_conninfo(plan->target_uri);
	if (!state_approve_plan(plan, &a, &err)) {
		log_report(LOG_ERROR, &err);
		rc = EXIT_FAILED;
	} else {
		rc = report(plan, &a, target_shown);
		approval_free(&a);
	}
	free(target_shown);
	plan_free(plan);
	return rc;
}
