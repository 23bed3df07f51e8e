/*
 * pgshift status PLAN [--json] [--watch SECONDS]: the state of the plan's
 * run, read on its own read-only connection without the plan's lock, so it
 * works from any machine while apply runs. Exit 0 when a run was shown,
 * 1 when there is no run or the target cannot be read, 3 for a bad plan or
 * a bad --watch. The JSON shape is documented in status_view.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/status_rollback.h"
#include "cli/status_view.h"
#include "dag/dag.h"
#include "plan/plan.h"
#include "state/state.h"
#include "util/json.h"
#include "util/log.h"
#include "util/redact.h"

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void) sig;
	interrupted = 1;
}

/* --watch takes a whole number of seconds, at least 1. */
static bool
parse_watch(const char *s, long *secs)
{
	char *end;

	errno = 0;
	*secs = strtol(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && *secs >= 1 && *secs <= 86400;
}

static void
print_no_run(const struct plan *plan, const char *target_shown)
{
	struct pgs_error err;

	pgs_error_clear(&err);
	pgs_fail(&err, "no run of plan %s on the target (%s)", plan->name, target_shown);
	pgs_error_hint(&err, "\"pgshift apply %s\" starts one", plan->file);
	log_report(LOG_ERROR, &err);
}

/*
 * A run whose cleanup dropped its state (the end of every apply unless
 * cleanup.keep_state) is done, not missing: "apply starts one" would be
 * the wrong advice there.
 */
static int
show_dropped_run(const struct cli_args *args, const struct plan *plan, long long objects,
				 const char *target_shown)
{
	if (args->set[OPT_JSON]) {
		struct buf json;

		buf_init(&json);
		buf_puts(&json, "{\"plan\":");
		json_put_string(&json, plan->name);
		buf_printf(&json, ",\"state_dropped\":true,\"created_objects\":%lld}\n", objects);
		fputs(json.data, stdout);
		buf_free(&json);
	} else {
		printf("plan %s: no run on the target (%s): cleanup dropped its state (the last step of"
			   " apply unless cleanup.keep_state: true); the %lld objects it created stay recorded"
			   " for \"pgshift reset\"\n", plan->name, target_shown, objects);
	}
	fflush(stdout);
	return EXIT_OK;
}

/*
 * The forward run's state goes with cleanup (keep_state: false) while the
 * reverse stream lives on, and the rollback's fence of the target after it:
 * then these alone are shown.
 */
static int
show_no_run(const struct cli_args *args, const struct plan *plan, const struct rollback_status *rb,
			long long dropped_run_objects, const char *target_shown)
{
	struct buf json;

	if (!rb->found && !rb->target_fenced) {
		if (dropped_run_objects > 0)
			return show_dropped_run(args, plan, dropped_run_objects, target_shown);
		fflush(stdout);
		print_no_run(plan, target_shown);
		return EXIT_FAILED;
	}
	if (args->set[OPT_JSON]) {
		buf_init(&json);
		buf_puts(&json, "{\"plan\":");
		json_put_string(&json, plan->name);
		buf_putc(&json, ',');
		status_rollback_json(&json, rb);
		buf_puts(&json, "}\n");
		fputs(json.data, stdout);
		buf_free(&json);
	} else {
		printf("plan %s: no run on the target (%s); its cleanup dropped the state\n", plan->name,
			   target_shown);
		status_rollback_text(stdout, rb);
	}
	fflush(stdout);
	return EXIT_OK;
}

/* The terminal's size now: a resized window gets a view that fits. */
static void
terminal_size(int *cols, int *rows)
{
	struct winsize ws;

	*cols = 80;
	*rows = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

/* compact: --watch on a terminal (status_render_compact). */
static void
print_view(const struct cli_args *args, const struct plan *plan, const struct dag *dag,
		   const struct run_state *rs, const struct rollback_status *rb, const char *target_shown,
		   bool compact)
{
	struct status_view v;
	struct buf json;
	int cols, rows;

	status_view_build(&v, plan, dag, rs);
	if (args->set[OPT_JSON]) {
		buf_init(&json);
		status_render_json(&json, &v);
		if ((rb->found || rb->target_fenced) && json.len >= 2) {
			/* into the object: its closing brace (and newline) go after */
			json.len -= 2;
			buf_putc(&json, ',');
			status_rollback_json(&json, rb);
			buf_puts(&json, "}\n");
		}
		fputs(json.data, stdout);
		buf_free(&json);
	} else if (compact) {
		terminal_size(&cols, &rows);
		status_render_compact(stdout, &v, target_shown, cols, rows - 1);
	} else {
		status_render_text(stdout, &v, target_shown);
		status_rollback_text(stdout, rb);
	}
	fflush(stdout);
	status_view_free(&v);
}

/* One read and one screen; EXIT_OK when a run was shown. */
static int
show_once(const struct cli_args *args, const struct plan *plan, const struct dag *dag,
		  const char *target_shown, bool clear)
{
	struct run_state rs;
	struct rollback_status rb;
	struct pgs_error err;
	bool exists;

	pgs_error_clear(&err);
	if (!state_read(plan, &rs, &exists, &err)) {
		log_report(LOG_ERROR, &err);
		return EXIT_FAILED;
	}
	if (clear)
		fputs("\033[H\033[2J", stdout);
	status_rollback_read(plan, &rb);
	if (!exists)
		return show_no_run(args, plan, &rb, rs.dropped_run_objects, target_shown);
	print_view(args, plan, dag, &rs, &rb, target_shown, clear);
	run_state_free(&rs);
	return EXIT_OK;
}

/* Redraws until SIGINT/SIGTERM; a failed read is shown and retried, not fatal. */
static int
watch(const struct cli_args *args, const struct plan *plan, const struct dag *dag,
	  const char *target_shown, long secs)
{
	struct sigaction sa = {0};
	bool tty = isatty(STDOUT_FILENO) && !args->set[OPT_JSON];

	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!interrupted) {
		show_once(args, plan, dag, target_shown, tty);
		/* one second at a time: an interrupt ends the wait at once */
		for (long i = 0; i < secs && !interrupted; i++)
			sleep(1);
	}
	return EXIT_OK;
}

int
cmd_status(const struct cli_args *args)
{
	struct plan *plan;
	struct dag dag;
	struct pgs_error err;
	char *target_shown;
	long secs = 0;
	int rc;

	if (args->value[OPT_WATCH] && !parse_watch(args->value[OPT_WATCH], &secs)) {
		fprintf(stderr, "pgshift: error: --watch needs a whole number of seconds from 1 to "
				"86400, not \"%s\"\n", args->value[OPT_WATCH]);
		return EXIT_USAGE;
	}
	plan = cli_load_plan(args->plan, false);
	if (!plan)
		return EXIT_USAGE;
	pgs_error_clear(&err);
	if (!dag_compile(plan, NULL, &dag, &err)) {
		log_report(LOG_ERROR, &err);
		plan_free(plan);
		return EXIT_FAILED;
	}
	target_shown = redact_conninfo(plan->target_uri);
	if (secs > 0)
		rc = watch(args, plan, &dag, target_shown, secs);
	else
		rc = show_once(args, plan, &dag, target_shown, false);
	free(target_shown);
	dag_free(&dag);
	plan_free(plan);
	return rc;
}
