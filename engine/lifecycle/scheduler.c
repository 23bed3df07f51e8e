/* The DAG scheduler's worker pool and ready queues; see scheduler.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lifecycle/scheduler.h"
#include "util/xalloc.h"

enum slot { SLOT_COPY, SLOT_INDEX, SLOT_OTHER, N_SLOTS };

/*
 * A heap of ready step indexes: steps start in DAG order, copies largest
 * first (the longest-first rule of list scheduling: the big tables, whose
 * copies and index builds make the critical path, start at once, and the
 * small ones fill the jobs at the end instead of a big one starting last).
 */
struct ready {
	size_t *heap;               /* owned */
	size_t n;
	const struct dag *by_size;  /* not owned; set on the copy pool */
};

struct sched;

struct pool {
	struct sched *s;
	enum slot slot;
	pthread_cond_t wake;        /* a step of this class became ready, or stop */
	pthread_t *threads;         /* owned */
	int nthreads;
	struct ready ready;
};

struct sched {
	struct run *run;
	const struct sched_hooks *hooks;
	pthread_mutex_t lock;       /* guards every field below and the pools' queues */
	pthread_cond_t changed;     /* a step finished */
	size_t *pending_deps;       /* unfinished dependencies per step */
	size_t *dep_start;          /* reverse edges: dependents of i are */
	size_t *dependents;         /* dependents[dep_start[i] .. dep_start[i + 1]) */
	bool *not_run;              /* done before this run, or not wanted */
	size_t left;                /* wanted steps not finished */
	int running;
	size_t copies_left;         /* copy steps not yet done: the snapshot is held until 0 */
	bool failed;
	bool stopping;              /* workers exit */
	struct pgs_error first_error;
	struct pool pools[N_SLOTS];
};

static enum slot
slot_of(const struct step *st)
{
	switch (st->kind) {
	case STEP_COPY:
		return SLOT_COPY;
	case STEP_INDEX:
	case STEP_CONSTRAINT:
	case STEP_VACUUM:
		return SLOT_INDEX;
	default:
		return SLOT_OTHER;
	}
}

/* Whether ready step a starts before step b. */
static bool
before(const struct ready *r, size_t a, size_t b)
{
	if (r->by_size) {
		int64_t x = r->by_size->steps[a].est_bytes, y = r->by_size->steps[b].est_bytes;

		if (x != y)
			return x > y;
	}
	return a < b;
}

static void
ready_push(struct ready *r, size_t step)
{
	size_t i = r->n++;

	while (i > 0 && before(r, step, r->heap[(i - 1) / 2])) {
		r->heap[i] = r->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	r->heap[i] = step;
}

static size_t
ready_pop(struct ready *r)
{
	size_t top = r->heap[0];
	size_t last = r->heap[--r->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= r->n)
			break;
		if (c + 1 < r->n && before(r, r->heap[c + 1], r->heap[c]))
			c++;
		if (!before(r, r->heap[c], last))
			break;
		r->heap[i] = r->heap[c];
		i = c;
	}
	if (r->n > 0)
		r->heap[i] = last;
	return top;
}

/* Reverse edges in one array (counting sort by dependency). */
static void
build_reverse_edges(struct sched *s)
{
	const struct dag *dag = s->run->dag;
	size_t *fill;

	s->dep_start = xcalloc(dag->n + 1, sizeof(size_t));
	for (size_t i = 0; i < dag->n; i++)
		for (size_t k = 0; k < dag->steps[i].ndeps; k++)
			s->dep_start[step_deps(dag, &dag->steps[i])[k] + 1]++;
	for (size_t i = 0; i < dag->n; i++)
		s->dep_start[i + 1] += s->dep_start[i];
	s->dependents = xcalloc(s->dep_start[dag->n] + 1, sizeof(size_t));
	fill = xcalloc(dag->n, sizeof(size_t));
	for (size_t i = 0; i < dag->n; i++)
		for (size_t k = 0; k < dag->steps[i].ndeps; k++) {
			size_t d = step_deps(dag, &dag->steps[i])[k];

			s->dependents[s->dep_start[d] + fill[d]++] = i;
		}
	free(fill);
}

/* Queues step i on its class's pool and wakes one of its workers; lock held. */
static void
make_ready(struct sched *s, size_t i)
{
	struct pool *p = &s->pools[slot_of(&s->run->dag->steps[i])];

	ready_push(&p->ready, i);
	pthread_cond_signal(&p->wake);
}

/*
 * Step i is finished (or was done before this run): its dependents' counts
 * drop, and the wanted ones that reach zero become ready. Lock held.
 * Returns whether i was the last copy step: the caller then lets the
 * snapshot go (a COMMIT over the network) once it has dropped the lock,
 * so no other worker waits on the server for it.
 */
static bool
release_dependents(struct sched *s, size_t i)
{
	for (size_t k = s->dep_start[i]; k < s->dep_start[i + 1]; k++) {
		size_t d = s->dependents[k];

		if (--s->pending_deps[d] == 0 && !s->not_run[d])
			make_ready(s, d);
	}
	return s->run->dag->steps[i].kind == STEP_COPY && --s->copies_left == 0;
}

static void
copies_done(struct sched *s)
{
	if (s->hooks->copies_done)
		s->hooks->copies_done(s->run);
}

static void
run_one(struct sched *s, size_t step)
{
	struct run *run = s->run;
	struct pgs_error err;
	bool ok, last_copy = false;

	pgs_error_clear(&err);
	if (s->hooks->started)
		s->hooks->started(run, step);
	ok = s->hooks->execute(run, step, &err);
	if (!ok && !err.step[0])
		snprintf(err.step, sizeof(err.step), "%s", run->dag->steps[step].id);
	if (s->hooks->finished)
		s->hooks->finished(run, step, ok, &err);
	pthread_mutex_lock(&s->lock);
	s->running--;
	if (ok) {
		s->left--;
		last_copy = release_dependents(s, step);
	} else {
		if (!s->failed)
			s->first_error = err;
		s->failed = true;
		atomic_store(&run->cancel, true);
	}
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	if (last_copy)
		copies_done(s);
}

/* A worker of one class: takes the next ready step until the run stops. */
static void *
worker(void *arg)
{
	struct pool *p = arg;
	struct sched *s = p->s;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		size_t step;

		/* run->cancel without a failure is a signal (run/stop.c): no new step either */
		while (!s->stopping && (s->failed || atomic_load(&s->run->cancel) || p->ready.n == 0))
			pthread_cond_wait(&p->wake, &s->lock);
		if (s->stopping)
			break;
		step = ready_pop(&p->ready);
		s->running++;
		pthread_mutex_unlock(&s->lock);
		run_one(s, step);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static bool
start_pool(struct sched *s, enum slot slot, int nthreads, struct pgs_error *err)
{
	struct pool *p = &s->pools[slot];

	p->threads = xcalloc((size_t) nthreads, sizeof(pthread_t));
	for (; p->nthreads < nthreads; p->nthreads++)
		if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) != 0)
			return pgs_fail(err, "could not start worker thread %d of %d: %m",
							p->nthreads + 1, nthreads);
	return true;
}

/* Workers leave once their current step is over; lock not held. */
static void
stop_pools(struct sched *s)
{
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	for (int k = 0; k < N_SLOTS; k++)
		pthread_cond_broadcast(&s->pools[k].wake);
	pthread_mutex_unlock(&s->lock);
	for (int k = 0; k < N_SLOTS; k++)
		for (int t = 0; t < s->pools[k].nthreads; t++)
			pthread_join(s->pools[k].threads[t], NULL);
}

static void
sched_init(struct sched *s, struct run *run, const bool *done, const bool *wanted,
		   const struct sched_hooks *hooks)
{
	const struct dag *dag = run->dag;
	memset(s, 0, sizeof(*s));
	s->run = run;
	s->hooks = hooks;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->changed, NULL);
	s->pending_deps = xcalloc(dag->n + 1, sizeof(size_t));
	s->not_run = xcalloc(dag->n + 1, sizeof(bool));
	build_reverse_edges(s);
	for (int k = 0; k < N_SLOTS; k++) {
		s->pools[k].s = s;
		s->pools[k].slot = (enum slot) k;
		pthread_cond_init(&s->pools[k].wake, NULL);
		s->pools[k].ready.heap = xcalloc(dag->n + 1, sizeof(size_t));
	}
	s->pools[SLOT_COPY].ready.by_size = dag;
	for (size_t i = 0; i < dag->n; i++) {
		s->pending_deps[i] = dag->steps[i].ndeps;
		s->not_run[i] = (done && done[i]) || (wanted && !wanted[i]);
		if (dag->steps[i].kind == STEP_COPY)
			s->copies_left++;
		if (!s->not_run[i])
			s->left++;
	}
	/* no worker runs yet: queue what is ready without waking anyone */
	for (size_t i = 0; i < dag->n; i++)
		if (done && done[i] && release_dependents(s, i))
			copies_done(s);
	for (size_t i = 0; i < dag->n; i++)
		if (!s->not_run[i] && dag->steps[i].ndeps == 0)
			make_ready(s, i);
}

static void
sched_free(struct sched *s)
{
	for (int k = 0; k < N_SLOTS; k++) {
		free(s->pools[k].threads);
		free(s->pools[k].ready.heap);
		pthread_cond_destroy(&s->pools[k].wake);
	}
	free(s->dep_start);
	free(s->dependents);
	free(s->pending_deps);
	free(s->not_run);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->changed);
}

/*
 * Waits for a step to finish, or a second (a signal sets run->cancel without
 * waking anyone); then runs the tick hook. Lock held.
 */
static void
wait_or_tick(struct sched *s)
{
	struct timespec until;
	struct pgs_error err;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	if (pthread_cond_timedwait(&s->changed, &s->lock, &until) != ETIMEDOUT || !s->hooks->tick)
		return;
	pgs_error_clear(&err);
	pthread_mutex_unlock(&s->lock);
	ok = s->hooks->tick(s->run, &err);
	pthread_mutex_lock(&s->lock);
	if (ok || s->failed)
		return;
	s->first_error = err;
	s->failed = true;
	atomic_store(&s->run->cancel, true);
}

static bool
anything_ready(const struct sched *s)
{
	for (int k = 0; k < N_SLOTS; k++)
		if (s->pools[k].ready.n > 0)
			return true;
	return false;
}

/* Until nothing runs and nothing more can start. */
static void
wait_for_end(struct sched *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->running > 0 || (!s->failed && !atomic_load(&s->run->cancel) && anything_ready(s)))
		wait_or_tick(s);
	if (!s->failed && atomic_load(&s->run->cancel) && s->left > 0) {
		s->failed = true;
		pgs_fail(&s->first_error, "the run was stopped with %zu step(s) not run", s->left);
	} else if (!s->failed && s->left > 0) {
		/* only a step whose dependency was not wanted can be left waiting */
		s->failed = true;
		pgs_fail(&s->first_error, "some steps could not start: a step they depend on was not run");
	}
	pthread_mutex_unlock(&s->lock);
}

bool
scheduler_run(struct run *run, const bool *done, const bool *wanted,
			  const struct sched_hooks *hooks, struct pgs_error *err)
{
	const int nthreads[N_SLOTS] = {run->plan->copy.table_jobs, run->plan->copy.index_jobs,
								   SCHED_OTHER_WORKERS};
	struct sched s;
	struct pgs_error start_err;
	bool ok = true;

	pgs_error_clear(&start_err);
	sched_init(&s, run, done, wanted, hooks);
	for (int k = 0; k < N_SLOTS && ok; k++)
		ok = start_pool(&s, (enum slot) k, nthreads[k] > 0 ? nthreads[k] : 1, &start_err);
	if (!ok) {
		pthread_mutex_lock(&s.lock);
		if (!s.failed)
			s.first_error = start_err;
		s.failed = true;
		atomic_store(&run->cancel, true);
		pthread_mutex_unlock(&s.lock);
	}
	wait_for_end(&s);
	stop_pools(&s);
	ok = !s.failed;
	if (!ok)
		*err = s.first_error;
	sched_free(&s);
	return ok;
}
