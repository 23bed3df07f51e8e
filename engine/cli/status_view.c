/*
 * Building and rendering the status view (status_view.h). A state step is
 * placed in a stage by the DAG step of the same id, else by the offline
 * DAG's placeholder of its kind ("copy:*" for "copy:public.t"), so the
 * grouping is the compiler's, not a second copy of its rules.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/status_view.h"
#include "util/json.h"
#include "util/xalloc.h"

static size_t
stage_index(struct status_view *v, const char *name)
{
	for (size_t i = 0; i < v->nstages; i++)
		if (strcmp(v->stages[i].name, name) == 0)
			return i;
	v->stages = xrealloc(v->stages, (v->nstages + 1) * sizeof(*v->stages));
	memset(&v->stages[v->nstages], 0, sizeof(*v->stages));
	v->stages[v->nstages].name = name;
	return v->nstages++;
}

/* "copy:public.t#1/2" -> the DAG step "copy:*"; an id the DAG cannot place -> its prefix. */
static const char *
stage_of(const struct dag *dag, const char *id)
{
	long i = dag_find(dag, id);
	size_t n = strcspn(id, ":");
	char wildcard[64];

	if (i < 0 && id[n] == ':' && n + 3 <= sizeof(wildcard)) {
		memcpy(wildcard, id, n);
		memcpy(wildcard + n, ":*", 3);
		i = dag_find(dag, wildcard);
	}
	if (i >= 0)
		return step_stage(&dag->steps[i]);
	if (strncmp(id, "cutover.", 8) == 0)
		return "cutover";
	if (strcmp(id, "blobs") == 0)
		return "copy";
	return "other";
}

static const struct step_state *
find_state(const struct run_state *rs, const char *id)
{
	for (size_t i = 0; i < rs->nsteps; i++)
		if (strcmp(rs->steps[i].step_id, id) == 0)
			return &rs->steps[i];
	return NULL;
}

static void
add_row(struct status_view *v, const char *id, const char *stage, const struct step_state *st)
{
	struct status_stage *s = &v->stages[stage_index(v, stage)];
	enum step_status status = st ? st->status : STEP_PENDING;

	v->rows[v->nrows++] = (struct status_row) {id, stage, st};
	s->done += status == STEP_DONE;
	s->running += status == STEP_RUNNING;
	s->failed += status == STEP_FAILED;
	s->pending += status == STEP_PENDING;
}

/* The rows of one stage: its fixed DAG steps in DAG order, then the other state steps. */
static void
add_stage_rows(struct status_view *v, const struct dag *dag, const char **stage_of_state,
			   const char *stage)
{
	const struct run_state *rs = v->rs;

	for (size_t i = 0; i < dag->n; i++) {
		const struct step *s = &dag->steps[i];

		if (!s->placeholder && strcmp(step_stage(s), stage) == 0)
			add_row(v, s->id, stage, find_state(rs, s->id));
	}
	for (size_t i = 0; i < rs->nsteps; i++) {
		long d = dag_find(dag, rs->steps[i].step_id);

		if (strcmp(stage_of_state[i], stage) == 0 && (d < 0 || dag->steps[d].placeholder))
			add_row(v, rs->steps[i].step_id, stage, &rs->steps[i]);
	}
}

void
status_view_build(struct status_view *v, const struct plan *plan, const struct dag *dag,
				  const struct run_state *rs)
{
	const char **stage_of_state = xcalloc(rs->nsteps + 1, sizeof(*stage_of_state));
	size_t nstages;

	memset(v, 0, sizeof(*v));
	v->plan = plan;
	v->rs = rs;
	v->rows = xcalloc(dag->n + rs->nsteps + 1, sizeof(*v->rows));
	for (size_t i = 0; i < dag->n; i++)
		stage_index(v, step_stage(&dag->steps[i]));
	for (size_t i = 0; i < rs->nsteps; i++) {
		stage_of_state[i] = stage_of(dag, rs->steps[i].step_id);
		stage_index(v, stage_of_state[i]);
	}
	/* add_row may not append stages now: all are known, so the count is fixed */
	nstages = v->nstages;
	for (size_t i = 0; i < nstages; i++)
		add_stage_rows(v, dag, stage_of_state, v->stages[i].name);
	free(stage_of_state);
}

void
status_view_free(struct status_view *v)
{
	free(v->rows);
	free(v->stages);
	memset(v, 0, sizeof(*v));
}

/* ---- text ---- */

static void
fmt_time(char *out, size_t len, double t, const char *fmt)
{
	time_t secs = (time_t) t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&secs, &tm) || strftime(out, len, fmt, &tm) == 0)
		snprintf(out, len, "-");
}

static void
fmt_bytes(char *out, size_t len, int64_t n)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	double v = (double) n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%" PRId64 " B", n);
	else
		snprintf(out, len, "%.1f %s", v, units[u]);
}

static void
fmt_duration(char *out, size_t len, double secs)
{
	long s = secs < 0 ? 0 : (long) (secs + 0.5);

	if (s >= 3600)
		snprintf(out, len, "%ldh%02ldm%02lds", s / 3600, s / 60 % 60, s % 60);
	else if (s >= 60)
		snprintf(out, len, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(out, len, "%lds", s);
}

/* How long a step ran, or has been running; "-" when it has not started. */
static void
step_duration(char *out, size_t len, const struct step_state *st, double now)
{
	if (!st || st->started_at <= 0)
		snprintf(out, len, "-");
	else if (st->finished_at > 0 && st->status != STEP_RUNNING)
		fmt_duration(out, len, st->finished_at - st->started_at);
	else if (st->status == STEP_RUNNING)
		fmt_duration(out, len, now - st->started_at);
	else
		snprintf(out, len, "-");
}

/* run_cdc.h's lags: -1 (unknown) shows as "-" */
static void
put_lag(FILE *out, const char *name, int64_t bytes)
{
	char b[32];

	if (bytes >= 0)
		fmt_bytes(b, sizeof(b), bytes);
	else
		snprintf(b, sizeof(b), "-");
	fprintf(out, "%s %s", name, b);
}

/*
 * The forward stream stops at the cutover for good (the cleanup step or
 * `pgshift cleanup` then drops its slot): its lags would only age.
 */
static bool
cdc_ended(const struct run_state *rs)
{
	if (strcmp(rs->status, "finished") == 0)
		return true;
	for (size_t i = 0; i < rs->nsteps; i++)
		if (strcmp(rs->steps[i].step_id, "cleanup") == 0)
			return rs->steps[i].status == STEP_DONE;
	return false;
}

static void
render_cdc(FILE *out, const struct run_state *rs)
{
	if (!rs->received_lsn && !rs->applied_lsn)
		return;
	if (cdc_ended(rs)) {
		fprintf(out, "cdc        ended at the cutover: applied %s (the source was at %s)\n",
				rs->applied_lsn ? rs->applied_lsn : "-", rs->source_lsn ? rs->source_lsn : "-");
		return;
	}
	fprintf(out, "cdc        source %s, received %s, applied %s, ",
			rs->source_lsn ? rs->source_lsn : "-", rs->received_lsn ? rs->received_lsn : "-",
			rs->applied_lsn ? rs->applied_lsn : "-");
	put_lag(out, "lag", rs->lag_bytes);
	if (rs->lag_seconds >= 0)
		fprintf(out, " (%.0f s)", rs->lag_seconds);
	put_lag(out, " = receive", rs->receive_lag_bytes);
	put_lag(out, " + apply", rs->apply_lag_bytes);
	fputc('\n', out);
}

/*
 * A row that says running while no process holds the plan's lock belongs to
 * an apply that died (kill -9, a lost machine): it is interrupted, whatever
 * the row still says.
 */
static const char *
effective_status(const struct run_state *rs)
{
	if (strcmp(rs->status, "running") == 0 && !rs->live)
		return "interrupted";
	return rs->status;
}

/* What the operator can do about a run no process is working on. */
static void
render_status(FILE *out, const struct status_view *v)
{
	const struct run_state *rs = v->rs;
	const char *status = effective_status(rs);

	if (rs->live || strcmp(status, "finished") == 0) {
		fprintf(out, "status     %s\n", status);
		return;
	}
	if (rs->paused_step)
		fprintf(out, "status     %s at %s (\"pgshift apply %s\" continues it)\n", status,
				rs->paused_step, v->plan->file);
	else
		fprintf(out, "status     %s (no apply is running; \"pgshift apply %s\" resumes it)\n",
				status, v->plan->file);
}

void
status_render_header(FILE *out, const struct status_view *v, const char *target_shown)
{
	const struct run_state *rs = v->rs;
	const char *tf = "%Y-%m-%d %H:%M:%S UTC";
	char started[40], updated[40], finished[40], approved[40], ago[32];

	fmt_time(started, sizeof(started), rs->started_at, tf);
	fmt_time(updated, sizeof(updated), rs->updated_at, tf);
	fmt_time(finished, sizeof(finished), rs->finished_at, tf);
	fmt_time(approved, sizeof(approved), rs->approved_at, tf);
	fmt_duration(ago, sizeof(ago), rs->read_at - rs->updated_at);
	fprintf(out, "pgshift status \"%s\" (target %s)\n\n", v->plan->name, target_shown);
	fprintf(out, "run        %s\n", rs->run_id);
	render_status(out, v);
	fprintf(out, "started    %s\nupdated    %s (%s ago)\nfinished   %s\n", started, updated, ago,
			finished);
	if (rs->approved)
		fprintf(out, "cutover    approved %s by %s\n", approved,
				rs->approved_by ? rs->approved_by : "?");
	else if (v->plan->cutover.approval == APPROVAL_AUTO)
		fprintf(out, "cutover    automatic (cutover.approval: auto)\n");
	else if (rs->gate_waiting)
		fprintf(out, "cutover    WAITING FOR APPROVAL (pgshift cutover %s approves it)\n",
				v->plan->file);
	else if (rs->live)
		fprintf(out, "cutover    not approved (the run has not reached the gate yet)\n");
	else
		fprintf(out, "cutover    not approved (the next apply asks at the gate)\n");
	fprintf(out, "fenced     %s\n", rs->fenced ? "yes (source writes are fenced)" : "no");
	render_cdc(out, rs);
	if (rs->error)
		fprintf(out, "error      %s\n", rs->error);
}

static void
render_stages(FILE *out, const struct status_view *v)
{
	fprintf(out, "\nStages           done  running  failed  pending\n");
	for (size_t i = 0; i < v->nstages; i++) {
		const struct status_stage *s = &v->stages[i];

		if (s->done + s->running + s->failed + s->pending == 0)
			fprintf(out, "  %-13s  not started\n", s->name);
		else
			fprintf(out, "  %-13s %5d  %7d  %6d  %7d\n", s->name, s->done, s->running,
					s->failed, s->pending);
	}
}

void
status_render_step(FILE *out, const struct status_row *r, double now)
{
	const struct step_state *st = r->st;
	char bytes[32], total[32], dur[32], size[72];

	fmt_bytes(bytes, sizeof(bytes), st ? st->bytes : 0);
	fmt_bytes(total, sizeof(total), st ? st->total_bytes : 0);
	if (st && st->total_bytes > 0)
		snprintf(size, sizeof(size), "%s / %s", bytes, total);
	else
		snprintf(size, sizeof(size), "%s", st ? bytes : "-");
	step_duration(dur, sizeof(dur), st, now);
	fprintf(out, "  %-40s %-8s %8d %12" PRId64 "  %-21s %s\n", r->id,
			step_status_name(st ? st->status : STEP_PENDING), st ? st->attempts : 0,
			st ? st->rows : 0, size, dur);
	if (st && st->error)
		fprintf(out, "      error: %s\n", st->error);
}

void
status_render_text(FILE *out, const struct status_view *v, const char *target_shown)
{
	status_render_header(out, v, target_shown);
	render_stages(out, v);
	fputs("\nSteps\n", out);
	status_render_step_titles(out);
	for (size_t i = 0; i < v->nrows; i++)
		status_render_step(out, &v->rows[i], v->rs->read_at);
}

void
status_render_step_titles(FILE *out)
{
	fprintf(out, "  %-40s %-8s %8s %12s  %-21s %s\n", "STEP", "STATUS", "ATTEMPTS", "ROWS",
			"BYTES", "DURATION");
}

/* ---- JSON ---- */

static void
json_time(struct buf *b, double t)
{
	char s[40];

	if (t <= 0) {
		buf_puts(b, "null");
		return;
	}
	fmt_time(s, sizeof(s), t, "%Y-%m-%dT%H:%M:%SZ");
	json_put_string(b, s);
}

static void
json_key(struct buf *b, const char *key)
{
	if (b->len > 0 && b->data[b->len - 1] != '{')
		buf_putc(b, ',');
	json_put_string(b, key);
	buf_putc(b, ':');
}

static void
json_step(struct buf *b, const struct status_row *r)
{
	const struct step_state *st = r->st;

	buf_putc(b, '{');
	json_key(b, "id"); json_put_string(b, r->id);
	json_key(b, "stage"); json_put_string(b, r->stage);
	json_key(b, "status"); json_put_string(b, step_status_name(st ? st->status : STEP_PENDING));
	json_key(b, "attempts"); buf_printf(b, "%d", st ? st->attempts : 0);
	json_key(b, "rows"); buf_printf(b, "%" PRId64, st ? st->rows : 0);
	json_key(b, "bytes"); buf_printf(b, "%" PRId64, st ? st->bytes : 0);
	json_key(b, "total_bytes"); buf_printf(b, "%" PRId64, st ? st->total_bytes : 0);
	json_key(b, "started_at"); json_time(b, st ? st->started_at : 0);
	json_key(b, "finished_at"); json_time(b, st ? st->finished_at : 0);
	json_key(b, "error"); json_put_string(b, st ? st->error : NULL);
	buf_putc(b, '}');
}

static void
json_stages(struct buf *b, const struct status_view *v)
{
	json_key(b, "stages");
	buf_putc(b, '[');
	for (size_t i = 0; i < v->nstages; i++) {
		const struct status_stage *s = &v->stages[i];

		if (i > 0)
			buf_putc(b, ',');
		buf_putc(b, '{');
		json_key(b, "stage"); json_put_string(b, s->name);
		buf_printf(b, ",\"done\":%d,\"running\":%d,\"failed\":%d,\"pending\":%d}", s->done,
				   s->running, s->failed, s->pending);
	}
	buf_putc(b, ']');
}

/* A lag in bytes: null when unknown (-1). */
static void
json_bytes(struct buf *b, int64_t v)
{
	if (v >= 0)
		buf_printf(b, "%" PRId64, v);
	else
		buf_puts(b, "null");
}

static void
json_run(struct buf *b, const struct status_view *v)
{
	const struct run_state *rs = v->rs;
	bool ended = (rs->received_lsn || rs->applied_lsn) && cdc_ended(rs);

	json_key(b, "plan"); json_put_string(b, v->plan->name);
	json_key(b, "run_id"); json_put_string(b, rs->run_id);
	json_key(b, "plan_sha256"); json_put_string(b, rs->plan_sha256);
	json_key(b, "status"); json_put_string(b, effective_status(rs));
	json_key(b, "live"); buf_puts(b, rs->live ? "true" : "false");
	json_key(b, "paused_at"); json_put_string(b, rs->paused_step);
	json_key(b, "started_at"); json_time(b, rs->started_at);
	json_key(b, "updated_at"); json_time(b, rs->updated_at);
	json_key(b, "finished_at"); json_time(b, rs->finished_at);
	json_key(b, "approved"); buf_puts(b, rs->approved ? "true" : "false");
	json_key(b, "approved_at"); json_time(b, rs->approved_at);
	json_key(b, "approved_by"); json_put_string(b, rs->approved_by);
	json_key(b, "fenced"); buf_puts(b, rs->fenced ? "true" : "false");
	json_key(b, "source_lsn"); json_put_string(b, rs->source_lsn);
	json_key(b, "received_lsn"); json_put_string(b, rs->received_lsn);
	json_key(b, "applied_lsn"); json_put_string(b, rs->applied_lsn);
	json_key(b, "cdc_ended"); buf_puts(b, ended ? "true" : "false");
	json_key(b, "lag_bytes"); json_bytes(b, ended ? -1 : rs->lag_bytes);
	json_key(b, "receive_lag_bytes"); json_bytes(b, ended ? -1 : rs->receive_lag_bytes);
	json_key(b, "apply_lag_bytes"); json_bytes(b, ended ? -1 : rs->apply_lag_bytes);
	json_key(b, "lag_seconds");
	if (rs->lag_seconds >= 0 && !ended)
		buf_printf(b, "%.3f", rs->lag_seconds);
	else
		buf_puts(b, "null");
	json_key(b, "error"); json_put_string(b, rs->error);
}

void
status_render_json(struct buf *b, const struct status_view *v)
{
	buf_putc(b, '{');
	json_run(b, v);
	json_stages(b, v);
	json_key(b, "steps");
	buf_putc(b, '[');
	for (size_t i = 0; i < v->nrows; i++) {
		if (i > 0)
			buf_putc(b, ',');
		json_step(b, &v->rows[i]);
	}
	buf_puts(b, "]}\n");
}
