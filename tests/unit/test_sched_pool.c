/*
 * The scheduler's worker pool on a DAG of thousands of steps, with a fake
 * executor that never sleeps: every step runs once after its dependencies,
 * on a bounded set of threads; a failure stops new work at once; a running
 * step sees run->cancel and the run reports the step that failed first, or
 * finishes its work when it does not check; run->cancel set from outside (as
 * SIGINT does) stops dispatch and the pool drains; one worker takes ready
 * steps in DAG order, copies largest first (the tables' sizes differ). Every case is ordered by the steps themselves (one
 * waits for the other's effect), never by a sleep.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "dag/dag.h"
#include "lifecycle/scheduler.h"
#include "tap.h"

#define NT 3000
#define MAX_THREADS 64

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static bool *finished;
static bool order_ok;
static int executed, copies_executed, copies_started;
static pthread_t seen[MAX_THREADS];
static int nseen;
static enum { PLAIN, FAIL_FIRST_COPY, CANCEL, FAIL_OTHER_FINISHES, SIGNAL } mode;
static bool saw_cancel;
static bool copy_order_ok;          /* each copy started after the larger ones (same size: DAG order) */
static size_t last_copy;
static size_t first_copy;           /* the step of the first copy started */
static int finished_calls, finished_ok;

static void
note_thread(void)
{
	pthread_t me = pthread_self();

	for (int i = 0; i < nseen; i++)
		if (pthread_equal(seen[i], me))
			return;
	if (nseen < MAX_THREADS)
		seen[nseen] = me;
	nseen++;
}

/*
 * The first copy waits until run->cancel is set by the second, which fails
 * (CANCEL, FAIL_OTHER_FINISHES) or, as the SIGINT watcher does, only sets it
 * and succeeds (SIGNAL). The first then gives up (CANCEL) or finishes its
 * work (the others). Both copy workers are busy until run->cancel is set, so
 * no copy finished before it and no later step was ready to be taken.
 */
static bool
copy_behaviour(struct run *run, int nth)
{
	if (mode == FAIL_FIRST_COPY)
		return nth != 0;
	if (mode == PLAIN || nth > 1)
		return true;
	if (nth == 1) {
		if (mode == SIGNAL)
			atomic_store(&run->cancel, true);
		return mode == SIGNAL;
	}
	while (!atomic_load(&run->cancel))
		sched_yield();
	pthread_mutex_lock(&mu);
	saw_cancel = true;
	pthread_mutex_unlock(&mu);
	return mode != CANCEL;
}

static bool
fake_execute(struct run *run, size_t step, struct pgs_error *err)
{
	const struct step *st = &run->dag->steps[step];
	int nth = -1;
	bool ok = true;

	pthread_mutex_lock(&mu);
	note_thread();
	for (size_t k = 0; k < st->ndeps; k++)
		if (!finished[step_deps(run->dag, st)[k]])
			order_ok = false;
	executed++;
	if (st->kind == STEP_COPY) {
		int64_t size = st->est_bytes, last = run->dag->steps[last_copy].est_bytes;

		if (copies_started > 0 && (size > last || (size == last && step < last_copy)))
			copy_order_ok = false;
		last_copy = step;
		nth = copies_started++;
	}
	pthread_mutex_unlock(&mu);
	if (nth >= 0)
		ok = copy_behaviour(run, nth);
	pthread_mutex_lock(&mu);
	finished[step] = ok;
	copies_executed += nth >= 0;
	pthread_mutex_unlock(&mu);
	if (nth == 0)
		first_copy = step;
	if (!ok)
		pgs_fail(err, nth == 0 && mode == CANCEL ? "canceled in %s" : "boom in %s", st->id);
	return ok;
}

static void
fake_finished(struct run *run, size_t step, bool ok, const struct pgs_error *err)
{
	(void) run;
	(void) step;
	(void) err;
	pthread_mutex_lock(&mu);
	finished_calls++;
	finished_ok += ok;
	pthread_mutex_unlock(&mu);
}

static const struct sched_hooks hooks = {fake_execute, NULL, fake_finished, NULL, NULL};

static void
make_catalog(struct catalog *c)
{
	static struct cat_table tables[NT];
	static struct cat_index indexes[NT];
	static char names[NT][16];

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < NT; i++) {
		snprintf(names[i], sizeof(names[i]), "t%d", i);
		tables[i] = (struct cat_table) {.schema = "public", .name = names[i], .relkind = 'r',
										.bytes = 100 + i};
		indexes[i] = (struct cat_index) {.schema = "public", .name = names[i], .table = (size_t) i,
										 .parent = -1};
	}
	c->tables = tables;
	c->ntables = NT;
	c->indexes = indexes;
	c->nindexes = NT;
}

static void
reset(struct run *r, int which)
{
	memset(finished, 0, r->dag->n * sizeof(bool));
	order_ok = true;
	executed = copies_executed = copies_started = nseen = finished_calls = finished_ok = 0;
	saw_cancel = false;
	copy_order_ok = true;
	mode = which;
	atomic_store(&r->cancel, false);
}

int
main(void)
{
	struct plan p;
	struct catalog c;
	struct dag d;
	struct run r;
	struct pgs_error err;

	memset(&p, 0, sizeof(p));
	p.copy.table_jobs = 4;
	p.copy.index_jobs = 2;
	p.copy.split_max_parts = 1;
	p.cleanup.when = CLEANUP_MANUAL;
	make_catalog(&c);
	ok(dag_compile(&p, &c, &d, &err), "a DAG of 3,000 tables compiles");
	memset(&r, 0, sizeof(r));
	r.plan = &p;
	r.cat = &c;
	r.dag = &d;
	finished = calloc(d.n, sizeof(bool));

	reset(&r, PLAIN);
	ok(scheduler_run(&r, NULL, NULL, &hooks, &err), "thousands of steps run");
	is_int(executed, (int) d.n, "every step ran once");
	ok(order_ok, "no step started before its dependencies finished");
	ok(nseen <= 4 + 2 + SCHED_OTHER_WORKERS,
	   "on at most table_jobs + index_jobs + the other class's workers threads");
	ok(nseen >= 2, "on more than one thread");

	reset(&r, PLAIN);
	p.copy.table_jobs = 1;
	ok(scheduler_run(&r, NULL, NULL, &hooks, &err), "one copy worker runs the DAG");
	ok(copy_order_ok, "its ready queue hands out the copies largest first");
	is_int(copies_executed, NT, "every copy once");

	reset(&r, FAIL_FIRST_COPY);
	ok(!scheduler_run(&r, NULL, NULL, &hooks, &err), "a failed copy fails the run");
	is_int(copies_executed, 1, "the only copy worker starts no copy after the failure");
	ok(strncmp(err.step, "copy:", 5) == 0, "the error names the copy step");
	ok(executed < (int) d.n, "and the rest of the DAG never ran");

	reset(&r, CANCEL);
	p.copy.table_jobs = 2;
	ok(!scheduler_run(&r, NULL, NULL, &hooks, &err), "a failure during another copy fails the run");
	ok(saw_cancel, "the running copy saw run->cancel and returned");
	ok(strncmp(err.message, "boom in copy:", 13) == 0, "the run reports the step that failed first");
	is_int(copies_executed, 2, "no third copy started");

	reset(&r, FAIL_OTHER_FINISHES);
	ok(!scheduler_run(&r, NULL, NULL, &hooks, &err), "a failure while another copy runs fails the run");
	ok(saw_cancel && finished[first_copy], "the running copy finished its work after the failure");
	ok(strncmp(err.message, "boom in copy:", 13) == 0, "the run reports the failed step");
	is_int(copies_started, 2, "no copy was dispatched after the failure");
	is_int(executed, 3 + 2, "nor any other step: preflight, snapshot, schema.pre and the two copies ran");
	is_int(finished_calls, 5, "every started step was reported finished");
	is_int(finished_ok, 4, "all but the failed one as a success");

	reset(&r, SIGNAL);
	ok(!scheduler_run(&r, NULL, NULL, &hooks, &err), "run->cancel set from outside (SIGINT) stops the run");
	ok(saw_cancel && finished[first_copy], "the running copy finished");
	is_int(copies_started, 2, "no copy was dispatched after the cancel");
	is_int(executed, 3 + 2, "nor any other step, though the second copy's index was ready");
	is_int(finished_ok, 5, "the steps that ran all succeeded");
	{
		char want[128];

		snprintf(want, sizeof(want), "the run was stopped with %zu step(s) not run", d.n - 5);
		is_str(err.message, want, "the run says how many steps were left");
	}

	free(finished);
	dag_free(&d);
	return done_testing();
}
