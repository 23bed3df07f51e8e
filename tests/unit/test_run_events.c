/*
 * The stage events around steps (run_events.c), with steps that need no
 * server (preflight and an auto-approved gate) and a sink that records
 * what it gets: STAGE.started once before the first step, STAGE.finished
 * after the last, and a sink refusing STAGE.started failing the step with
 * the sink's error.
 */
#include <stdlib.h>
#include <string.h>

#include "run/run_events.h"
#include "tap.h"

struct recorder {
	char names[64][64];
	char steps[64][64];
	int n;
	const char *refuse;         /* event name to refuse, or NULL */
};

static bool
record(void *ctx, const struct event *ev, struct pgs_error *err)
{
	struct recorder *r = ctx;

	if (r->n < 64) {
		snprintf(r->names[r->n], sizeof(r->names[0]), "%s", ev->name);
		snprintf(r->steps[r->n], sizeof(r->steps[0]), "%s", ev->step ? ev->step : "-");
		r->n++;
	}
	if (r->refuse && strcmp(ev->name, r->refuse) == 0)
		return pgs_fail(err, "hook says no to %s", ev->name);
	return true;
}

static char *
joined(const struct recorder *r)
{
	static char out[2048];
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < r->n && len < sizeof(out); i++)
		len += (size_t) snprintf(out + len, sizeof(out) - len, "%s ", r->names[i]);
	return out;
}

struct fixture {
	struct plan plan;
	struct step steps[3];
	struct dag dag;
	struct step_progress progress[3];
	struct run run;
	struct recorder rec;
};

static void
fixture_init(struct fixture *f, const char *refuse)
{
	memset(f, 0, sizeof(*f));
	f->plan.name = "p";
	f->plan.cutover.approval = APPROVAL_AUTO;
	f->steps[0] = (struct step) {.id = "preflight", .kind = STEP_PREFLIGHT, .table = -1, .object = -1};
	f->steps[1] = (struct step) {.id = "preflight.b", .kind = STEP_PREFLIGHT, .table = -1, .object = -1};
	f->steps[2] = (struct step) {.id = "cutover.gate", .kind = STEP_CUTOVER_GATE, .table = -1, .object = -1};
	f->dag = (struct dag) {.steps = f->steps, .n = 3};
	f->run.plan = &f->plan;
	f->run.dag = &f->dag;
	f->run.progress = f->progress;
	snprintf(f->run.run_id, sizeof(f->run.run_id), "r1");
	f->rec.refuse = refuse;
}

static void
test_stage_events(void)
{
	struct fixture f;
	struct pgs_error err;

	fixture_init(&f, NULL);
	pgs_error_clear(&err);
	ok(run_events_begin(&f.run, NULL, NULL, &err), "events begin without notification targets");
	event_bus_add(f.run.bus, (struct event_sink) {record, NULL, &f.rec});
	ok(run_step_execute(&f.run, 0, &err), "first preflight step runs");
	is_str(joined(&f.rec), "preflight.started ", "preflight.started before its first step, nothing after");
	ok(run_step_execute(&f.run, 1, &err), "second preflight step runs");
	ok(run_step_execute(&f.run, 2, &err), "the auto gate runs");
	is_str(joined(&f.rec), "preflight.started preflight.finished cutover.started cutover.finished ",
		   "finished after the stage's last step; cutover of its own");
	is_str(f.rec.steps[1], "preflight.b", "preflight.finished names the step that ended it");
	run_events_end(&f.run, true, &err);
	is_str(f.rec.names[f.rec.n - 1], "run.finished", "run.finished last");
	ok(f.run.bus == NULL && f.run.events == NULL, "end frees the bus and the counters");
}

static void
test_refusing_sink(void)
{
	struct fixture f;
	struct pgs_error err;

	fixture_init(&f, "cutover.started");
	pgs_error_clear(&err);
	ok(run_events_begin(&f.run, NULL, NULL, &err), "events begin");
	event_bus_add(f.run.bus, (struct event_sink) {record, NULL, &f.rec});
	ok(!run_step_execute(&f.run, 2, &err), "a sink refusing cutover.started fails the gate step");
	is_str(err.message, "hook says no to cutover.started", "with the sink's error");
	is_str(joined(&f.rec), "cutover.started cutover.failed ", "and the stage is reported failed");
	run_events_end(&f.run, false, &err);
	is_str(f.rec.names[f.rec.n - 1], "run.failed", "run.failed last");
}

static void
test_skipped_steps(void)
{
	struct fixture f;
	struct pgs_error err;
	const bool done[3] = {true, false, false};

	fixture_init(&f, NULL);
	pgs_error_clear(&err);
	ok(run_events_begin(&f.run, done, NULL, &err), "events begin on a resumed run");
	event_bus_add(f.run.bus, (struct event_sink) {record, NULL, &f.rec});
	ok(run_step_execute(&f.run, 1, &err), "the preflight step left runs");
	is_str(joined(&f.rec), "preflight.started preflight.finished ",
		   "a stage counts only the steps this run executes");
	run_events_end(&f.run, true, &err);
}

int
main(void)
{
	test_stage_events();
	test_refusing_sink();
	test_skipped_steps();
	return done_testing();
}
