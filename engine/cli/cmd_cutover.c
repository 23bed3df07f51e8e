/*
 * pgshift cutover PLAN: approves the manual cutover gate of the plan's run.
 * The approval is a row on the target (pgshift.runs.approved_at), written
 * without the plan's lock, so it works from any machine while the apply
 * that waits at the gate holds the lock. Only that live, waiting apply can
 * be approved: an approval stored for a dead run would let the next apply
 * pass the gate, fence writes included, without a fresh decision. Exit 0
 * when the waiting run is approved (now or before), 1 when there is no run,
 * no live apply at the gate, or the target cannot be reached.
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

/* Why nothing was approved: no run, a dead one, or a live one not at the gate yet. */
static int
refuse(const struct plan *plan, const struct approval *a, const char *target_shown)
{
	struct pgs_error err;

	pgs_error_clear(&err);
	if (!a->exists)
		pgs_fail(&err, "no run of plan %s on the target (%s); there is no cutover to approve",
				 plan->name, target_shown);
	else if (!a->live)
		pgs_fail(&err, "no pgshift apply of plan %s is running (run %s is %s and no process "
				 "holds the plan's lock); there is no cutover gate to approve", plan->name,
				 a->run_id, strcmp(a->status, "running") == 0 ? "interrupted" : a->status);
	else
		pgs_fail(&err, "the apply of plan %s (run %s) is not waiting at the cutover gate; "
				 "nothing was approved", plan->name, a->run_id);
	if (a->exists && a->live)
		pgs_error_hint(&err, "run \"pgshift cutover %s\" once \"pgshift status %s\" shows "
					   "WAITING FOR APPROVAL", plan->file, plan->file);
	else
		pgs_error_hint(&err, "\"pgshift apply %s\" %s the run and waits at the gate; "
					   "\"apply --approve\" approves its cutover in advance", plan->file,
					   a->exists ? "resumes" : "starts");
	log_report(LOG_ERROR, &err);
	return EXIT_FAILED;
}

static int
report(const struct plan *plan, const struct approval *a, const char *target_shown)
{
	char when[40];

	if (!a->waiting)
		return refuse(plan, a, target_shown);
	fmt_utc(when, sizeof(when), a->approved_at);
	if (a->already)
		printf("cutover of plan %s (run %s, %s) was already approved at %s by %s; nothing "
			   "changed\n", plan->name, a->run_id, a->status, when, a->approved_by);
	else
		printf("approved the cutover of plan %s (run %s, %s) on %s as %s at %s\n", plan->name,
			   a->run_id, a->status, target_shown, a->approved_by, when);
	fflush(stdout);
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
