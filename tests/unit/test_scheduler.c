/*
 * The scheduler, with a fake step executor: every step starts only after
 * its dependencies finished, copies never exceed table_jobs and indexes
 * never exceed index_jobs at once, steps done earlier are skipped, and a
 * failure stops new work and names the failed step.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dag/dag.h"
#include "lifecycle/scheduler.h"
#include "tap.h"

#define NT 12

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int running_copy, running_index, max_copy, max_index;
static bool finished[1024];
static bool order_ok = true;
static int executed;
static long fail_step = -1;
static int copies_done_calls;

static bool
fake_execute(struct run *run, size_t step, struct pgs_error *err)
{
	const struct step *st = &run->dag->steps[step];
	bool ok = (long) step != fail_step;

	pthread_mutex_lock(&mu);
	for (size_t k = 0; k < st->ndeps; k++)
		if (!finished[step_deps(run->dag, st)[k]])
			order_ok = false;
	executed++;
	if (st->kind == STEP_COPY && ++running_copy > max_copy)
		max_copy = running_copy;
	if (st->kind == STEP_INDEX && ++running_index > max_index)
		max_index = running_index;
	pthread_mutex_unlock(&mu);
	usleep(st->kind == STEP_COPY ? 20000 : 5000);
	pthread_mutex_lock(&mu);
	if (st->kind == STEP_COPY)
		running_copy--;
	if (st->kind == STEP_INDEX)
		running_index--;
	finished[step] = ok;
	pthread_mutex_unlock(&mu);
	if (!ok)
		pgs_fail(err, "boom in %s", st->id);
	return ok;
}

static void
copies_done(struct run *run)
{
	(void) run;
	copies_done_calls++;
}

static const struct sched_hooks hooks = {fake_execute, NULL, NULL, copies_done, NULL};

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
										.bytes = 100};
		indexes[i] = (struct cat_index) {.schema = "public", .name = names[i], .table = (size_t) i,
										 .parent = -1};
	}
	c->tables = tables;
	c->ntables = NT;
	c->indexes = indexes;
	c->nindexes = NT;
}

static void
reset_counters(void)
{
	memset(finished, 0, sizeof(finished));
	running_copy = running_index = max_copy = max_index = executed = 0;
	copies_done_calls = 0;
	order_ok = true;
}

static void
setup(struct plan *p, struct catalog *c, struct dag *d, struct run *r)
{
	struct pgs_error err;

	memset(p, 0, sizeof(*p));
	p->copy.table_jobs = 3;
	p->copy.index_jobs = 2;
	p->copy.split_max_parts = 1;
	p->cleanup.when = CLEANUP_MANUAL;
	make_catalog(c);
	if (!dag_compile(p, c, d, &err))
		printf("# %s\n", err.message);
	memset(r, 0, sizeof(*r));
	r->plan = p;
	r->cat = c;
	r->dag = d;
}

int
main(void)
{
	struct plan p;
	struct catalog c;
	struct dag d;
	struct run r;
	struct pgs_error err;
	bool *done;

	setup(&p, &c, &d, &r);
	reset_counters();
	ok(scheduler_run(&r, NULL, NULL, &hooks, &err), "a whole DAG runs");
	is_int(executed, (int) d.n, "every step ran once");
	ok(order_ok, "no step started before its dependencies finished");
	is_int(max_copy, 3, "copies ran 3 at a time (table_jobs)");
	ok(max_index >= 1 && max_index <= 2, "indexes never more than 2 at a time (index_jobs)");
	is_int(copies_done_calls, 1, "the snapshot is let go once, after the last copy");

	reset_counters();
	done = calloc(d.n, sizeof(bool));
	for (size_t i = 0; i < d.n; i++)
		done[i] = d.steps[i].kind == STEP_PREFLIGHT || d.steps[i].kind == STEP_SNAPSHOT ||
			d.steps[i].kind == STEP_SCHEMA_PRE;
	for (size_t i = 0; i < d.n; i++)
		if (done[i])
			finished[i] = true;
	ok(scheduler_run(&r, done, NULL, &hooks, &err), "a resumed DAG runs");
	is_int(executed, (int) d.n - 3, "steps done before are skipped");
	ok(order_ok, "resumed steps still wait for their dependencies");

	reset_counters();
	fail_step = dag_find(&d, "copy:public.t1");
	ok(!scheduler_run(&r, NULL, NULL, &hooks, &err), "a failing step fails the run");
	is_str(err.step, "copy:public.t1", "the error names the failed step");
	is_str(err.message, "boom in copy:public.t1", "and carries its message");
	ok(!finished[dag_find(&d, "schema.post")] && executed < (int) d.n,
	   "no step that depends on the failure ran, and new work stopped");
	ok(atomic_load(&r.cancel), "running steps are told to stop");

	reset_counters();
	fail_step = -1;
	atomic_store(&r.cancel, false);
	{
		bool *wanted = calloc(d.n, sizeof(bool));

		wanted[dag_find(&d, "preflight")] = wanted[dag_find(&d, "snapshot")] = true;
		wanted[dag_find(&d, "schema.pre")] = wanted[dag_find(&d, "copy:public.t0")] = true;
		ok(scheduler_run(&r, NULL, wanted, &hooks, &err), "--until runs a subset");
		is_int(executed, 4, "only the wanted steps ran");
		free(wanted);
	}
	free(done);
	dag_free(&d);
	return done_testing();
}
