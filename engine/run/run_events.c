/*
 * The event stream of an apply; see run_events.h. One mutex (emit_lock)
 * guards the counters and is held across each emit, so the order sinks see
 * is the order decisions were made in: copy.table.finished of a table
 * before the copy.finished that its last part triggers, STAGE.started
 * delivered before any step of the stage runs.
 *
 * Stages nest where the cutover runs steps of other stages: the
 * sync_sequences cutover step is also the "sequences" stage and verify the
 * "verify" stage, inside "cutover" (cutover.started ... sequences.started
 * ... sequences.finished ... cutover.finished).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/pgoutput.h"
#include "hooks/hooks.h"
#include "notify/notify.h"
#include "run/run_cdc.h"
#include "run/run_events.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/clock.h"

#define CDC_LAG_INTERVAL_S 60.0

enum stage {
	ST_PREFLIGHT, ST_SCHEMA, ST_COPY, ST_INDEX, ST_CONSTRAINT, ST_VACUUM, ST_CDC,
	ST_CUTOVER, ST_SEQUENCES, ST_VERIFY, ST_CLEANUP, N_STAGES, ST_NONE = -1
};

static const char *const stage_names[N_STAGES] = {
	"preflight", "schema", "copy", "index", "constraint", "vacuum", "cdc",
	"cutover", "sequences", "verify", "cleanup",
};

/* The events' names, built once: "copy.started", ... */
struct stage_count {
	size_t total;               /* steps of this stage the run will execute */
	size_t started, ended;
	bool failed;                /* STAGE.failed was emitted */
	double started_at;
	int64_t rows, bytes;        /* summed over finished steps */
	char ev_started[32], ev_finished[32], ev_failed[32];
};

struct run_events {
	pthread_mutex_t emit_lock;  /* guards everything below; held across emits */
	struct stage_count stages[N_STAGES];
	size_t ntables;
	size_t *parts_left;         /* per catalog table: copy parts still to finish */
	int64_t *table_rows, *table_bytes;
	double *table_started_at;
	double run_started_at;
	double last_lag_at;
};

static enum stage
stage_by_name(const char *name)
{
	for (int i = 0; i < N_STAGES; i++)
		if (strcmp(stage_names[i], name) == 0)
			return (enum stage) i;
	return ST_NONE;         /* the snapshot step belongs to no stage of DESIGN.md §5 */
}

/* The outer stage of a step, and the inner one of a cutover step that has one. */
static void
stages_of(const struct run *run, size_t step, enum stage *outer, enum stage *inner)
{
	const struct step *st = &run->dag->steps[step];

	*outer = stage_by_name(step_stage(st));
	*inner = ST_NONE;
	if (st->kind != STEP_CUTOVER || st->object < 0)
		return;
	switch (run->plan->cutover.steps[st->object].kind) {
	case CUTOVER_SYNC_SEQUENCES:
		*inner = ST_SEQUENCES;
		break;
	case CUTOVER_VERIFY:
		*inner = ST_VERIFY;
		break;
	default:
		break;
	}
}

static bool
will_run(const bool *done, const bool *wanted, size_t i)
{
	return !(done && done[i]) && !(wanted && !wanted[i]);
}

static void
count_steps(struct run_events *re, const struct run *run, const bool *done, const bool *wanted)
{
	for (size_t i = 0; i < run->dag->n; i++) {
		const struct step *st = &run->dag->steps[i];
		enum stage outer, inner;

		if (!will_run(done, wanted, i))
			continue;
		stages_of(run, i, &outer, &inner);
		if (outer != ST_NONE)
			re->stages[outer].total++;
		if (inner != ST_NONE)
			re->stages[inner].total++;
		if (st->kind == STEP_COPY && st->table >= 0 && (size_t) st->table < re->ntables)
			re->parts_left[st->table]++;
	}
}

static struct run_events *
run_events_new(const struct run *run, const bool *done, const bool *wanted)
{
	struct run_events *re = xcalloc(1, sizeof(*re));

	pthread_mutex_init(&re->emit_lock, NULL);
	for (int i = 0; i < N_STAGES; i++) {
		struct stage_count *sc = &re->stages[i];

		snprintf(sc->ev_started, sizeof(sc->ev_started), "%s.started", stage_names[i]);
		snprintf(sc->ev_finished, sizeof(sc->ev_finished), "%s.finished", stage_names[i]);
		snprintf(sc->ev_failed, sizeof(sc->ev_failed), "%s.failed", stage_names[i]);
	}
	re->ntables = run->cat ? run->cat->ntables : 0;
	re->parts_left = xcalloc(re->ntables + 1, sizeof(size_t));
	re->table_rows = xcalloc(re->ntables + 1, sizeof(int64_t));
	re->table_bytes = xcalloc(re->ntables + 1, sizeof(int64_t));
	re->table_started_at = xcalloc(re->ntables + 1, sizeof(double));
	count_steps(re, run, done, wanted);
	re->run_started_at = clock_wall_s();
	re->last_lag_at = re->run_started_at;
	return re;
}

static void
run_events_free(struct run_events *re)
{
	if (!re)
		return;
	free(re->parts_left);
	free(re->table_rows);
	free(re->table_bytes);
	free(re->table_started_at);
	pthread_mutex_destroy(&re->emit_lock);
	free(re);
}

static struct event
run_event(const struct run *run, const char *name, const char *step)
{
	return event_init(name, run->plan->name, run->run_id, step);
}

bool
run_events_begin(struct run *run, const bool *done, const bool *wanted, struct pgs_error *err)
{
	struct notifier *nf;
	struct event ev;
	bool ok;

	run->events = run_events_new(run, done, wanted);
	run->bus = event_bus_new();
	nf = notify_open(run->plan, err);
	if (!nf && run->plan->nnotify > 0)
		return false;
	run->notifier = (struct hooks_notifier) {nf ? notify_post_text : NULL, nf};
	/* Lua hooks first: a refusing hook is known before notifications say anything */
	ok = hooks_attach_with(run->bus, run->plan, &run->notifier, err);
	notify_add(run->bus, nf);
	if (!ok)
		return false;
	ev = run_event(run, "run.started", NULL);
	return event_emit(run->bus, &ev, err);
}

/* A copy step's table, when it has one the catalog knows. */
static long
copy_table(const struct run *run, size_t step)
{
	const struct step *st = &run->dag->steps[step];

	if (st->kind != STEP_COPY || st->table < 0 || (size_t) st->table >= run->events->ntables)
		return -1;
	return st->table;
}

/* STAGE.started when step is the first of stage s to start; emit_lock held. */
static bool
stage_starting(struct run *run, enum stage s, size_t step, struct pgs_error *err)
{
	struct stage_count *sc;
	struct event ev;

	if (s == ST_NONE)
		return true;
	sc = &run->events->stages[s];
	if (sc->started++ > 0)
		return true;
	sc->started_at = clock_wall_s();
	ev = run_event(run, sc->ev_started, run->dag->steps[step].id);
	return event_emit(run->bus, &ev, err);
}

/* STAGE.finished when step was the last of stage s to end; emit_lock held. */
static bool
stage_done(struct run *run, enum stage s, size_t step, struct pgs_error *err)
{
	struct step_progress *p = &run->progress[step];
	struct stage_count *sc;
	struct event ev;

	if (s == ST_NONE)
		return true;
	sc = &run->events->stages[s];
	sc->rows += atomic_load(&p->rows);
	sc->bytes += atomic_load(&p->bytes);
	if (++sc->ended < sc->total || sc->failed)
		return true;
	ev = run_event(run, sc->ev_finished, run->dag->steps[step].id);
	ev.duration = clock_wall_s() - sc->started_at;
	if (s == ST_COPY) {
		ev.rows = sc->rows;
		ev.bytes = sc->bytes;
	}
	return event_emit(run->bus, &ev, err);
}

/* STAGE.failed, once per stage; emit_lock held. What a sink says to it changes nothing. */
static void
stage_failed(struct run *run, enum stage s, size_t step, const struct pgs_error *failure)
{
	struct stage_count *sc;
	struct pgs_error ignored;
	struct event ev;

	if (s == ST_NONE || run->events->stages[s].failed)
		return;
	sc = &run->events->stages[s];
	sc->failed = true;
	sc->ended++;
	ev = run_event(run, sc->ev_failed, run->dag->steps[step].id);
	ev.duration = clock_wall_s() - sc->started_at;
	event_set_error(&ev, failure);
	pgs_error_clear(&ignored);
	if (!event_emit(run->bus, &ev, &ignored))
		log_debug("%s: a hook failed on %s too: %s", ev.step, ev.name, ignored.message);
}

/* copy.table.finished when step was the table's last copy part; emit_lock held. */
static bool
copy_part_done(struct run *run, size_t step, struct pgs_error *err)
{
	struct run_events *re = run->events;
	struct step_progress *p = &run->progress[step];
	long t = copy_table(run, step);
	const struct cat_table *tab;
	char name[512];
	struct event ev;

	if (t < 0)
		return true;
	re->table_rows[t] += atomic_load(&p->rows);
	re->table_bytes[t] += atomic_load(&p->bytes);
	if (re->parts_left[t] == 0 || --re->parts_left[t] > 0)
		return true;
	tab = &run->cat->tables[t];
	snprintf(name, sizeof(name), "%s.%s", tab->schema, tab->name);
	ev = run_event(run, "copy.table.finished", run->dag->steps[step].id);
	ev.table = name;
	ev.rows = re->table_rows[t];
	ev.bytes = re->table_bytes[t];
	ev.duration = clock_wall_s() - re->table_started_at[t];
	return event_emit(run->bus, &ev, err);
}

static bool
events_step_starting(struct run *run, size_t step, struct pgs_error *err)
{
	struct run_events *re = run->events;
	enum stage outer, inner;
	long t = copy_table(run, step);
	bool ok;

	stages_of(run, step, &outer, &inner);
	pthread_mutex_lock(&re->emit_lock);
	if (t >= 0 && re->table_started_at[t] == 0)
		re->table_started_at[t] = clock_wall_s();
	ok = stage_starting(run, outer, step, err) && stage_starting(run, inner, step, err);
	pthread_mutex_unlock(&re->emit_lock);
	return ok;
}

static bool
events_step_done(struct run *run, size_t step, struct pgs_error *err)
{
	struct run_events *re = run->events;
	enum stage outer, inner;
	bool ok;

	stages_of(run, step, &outer, &inner);
	pthread_mutex_lock(&re->emit_lock);
	ok = copy_part_done(run, step, err) && stage_done(run, inner, step, err) &&
		stage_done(run, outer, step, err);
	pthread_mutex_unlock(&re->emit_lock);
	return ok;
}

static void
events_step_failed(struct run *run, size_t step, const struct pgs_error *failure)
{
	struct run_events *re = run->events;
	enum stage outer, inner;

	stages_of(run, step, &outer, &inner);
	pthread_mutex_lock(&re->emit_lock);
	stage_failed(run, inner, step, failure);
	stage_failed(run, outer, step, failure);
	pthread_mutex_unlock(&re->emit_lock);
}

bool
run_step_execute(struct run *run, size_t step, struct pgs_error *err)
{
	bool ok;

	if (!run->events)
		return step_execute(run, step, err);
	/* a hook refusing STAGE.started keeps the stage's first step from running at all */
	ok = events_step_starting(run, step, err) && step_execute(run, step, err) &&
		events_step_done(run, step, err);
	if (!ok)
		events_step_failed(run, step, err);
	return ok;
}

bool
run_events_gate(struct run *run, size_t step, struct pgs_error *err)
{
	struct event ev;
	bool ok;

	if (!run->events)
		return true;
	ev = run_event(run, "cutover.gate", run->dag->steps[step].id);
	pthread_mutex_lock(&run->events->emit_lock);
	ok = event_emit(run->bus, &ev, err);
	pthread_mutex_unlock(&run->events->emit_lock);
	return ok;
}

/* The step cdc.lag speaks for: catchup once it runs, else the stream. */
static const char *
cdc_step_id(const struct run *run, bool applying)
{
	long i = dag_find(run->dag, applying ? "cdc.catchup" : "cdc.stream");

	return i >= 0 ? run->dag->steps[i].id : NULL;
}

bool
run_events_cdc_tick(struct run *run, struct pgs_error *err)
{
	struct run_events *re = run->events;
	char lsn[PGO_LSN_TEXT_SIZE];
	struct run_cdc_view v;
	struct run_cdc_lag lag;
	struct event ev;
	double now = clock_wall_s();
	bool ok;

	if (!re || now - re->last_lag_at < CDC_LAG_INTERVAL_S)
		return true;
	run_cdc_view(run, &v);
	if (!v.receiving)
		return true;
	re->last_lag_at = now;
	ev = run_event(run, "cdc.lag", cdc_step_id(run, v.applying));
	run_cdc_lag(&v, now, &lag);
	ev.lag_bytes = lag.lag_bytes;
	ev.receive_lag_bytes = lag.receive_lag_bytes;
	ev.apply_lag_bytes = lag.apply_lag_bytes;
	ev.lag_seconds = lag.lag_seconds;
	if (v.applying) {
		pgo_lsn_text(v.applied_lsn, lsn);
		ev.lsn = lsn;
	}
	pthread_mutex_lock(&re->emit_lock);
	ok = event_emit(run->bus, &ev, err);
	pthread_mutex_unlock(&re->emit_lock);
	return ok;
}

void
run_events_end(struct run *run, bool ok, const struct pgs_error *failure)
{
	struct pgs_error ignored;
	struct event ev;

	if (run->bus && run->events) {
		ev = run_event(run, ok ? "run.finished" : "run.failed", ok ? NULL : failure->step[0] ? failure->step : NULL);
		ev.duration = clock_wall_s() - run->events->run_started_at;
		if (!ok)
			event_set_error(&ev, failure);
		pgs_error_clear(&ignored);
		if (!event_emit(run->bus, &ev, &ignored))
			log_report(LOG_WARNING, &ignored);
	}
	event_bus_free(run->bus);
	run->bus = NULL;
	run_events_free(run->events);
	run->events = NULL;
}
