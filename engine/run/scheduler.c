/* The DAG scheduler; see scheduler.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run/scheduler.h"
#include "util/xalloc.h"

enum slot { SLOT_COPY, SLOT_INDEX, SLOT_OTHER, N_SLOTS };
enum sstate { S_WAITING, S_RUNNING, S_DONE, S_FAILED, S_SKIPPED };

struct sched {
	struct run *run;
	const struct sched_hooks *hooks;
	pthread_mutex_t lock;       /* guards every field below */
	pthread_cond_t changed;     /* a step finished */
	enum sstate *state;
	size_t *pending_deps;       /* unfinished dependencies per step */
	size_t **dependents;        /* reverse edges */
	size_t *ndependents;
	int running[N_SLOTS];
	int limit[N_SLOTS];
	size_t copies_left;         /* copy steps not yet done: the snapshot is held until 0 */
	bool failed;
	struct pgs_error first_error;
	pthread_t *threads;
	bool *joinable;
};

struct job {
	struct sched *s;
	size_t step;
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

static void
build_reverse_edges(struct sched *s)
{
	const struct dag *dag = s->run->dag;

	s->dependents = xcalloc(dag->n, sizeof(size_t *));
	s->ndependents = xcalloc(dag->n, sizeof(size_t));
	for (size_t i = 0; i < dag->n; i++)
		for (size_t k = 0; k < dag->steps[i].ndeps; k++)
			s->ndependents[dag->steps[i].deps[k]]++;
	for (size_t i = 0; i < dag->n; i++)
		s->dependents[i] = xcalloc(s->ndependents[i], sizeof(size_t));
	memset(s->ndependents, 0, dag->n * sizeof(size_t));
	for (size_t i = 0; i < dag->n; i++)
		for (size_t k = 0; k < dag->steps[i].ndeps; k++) {
			size_t d = dag->steps[i].deps[k];

			s->dependents[d][s->ndependents[d]++] = i;
		}
}

/* Called with the lock held when step i is finished (or skipped as done). */
static void
release_dependents(struct sched *s, size_t i)
{
	for (size_t k = 0; k < s->ndependents[i]; k++)
		s->pending_deps[s->dependents[i][k]]--;
	if (s->run->dag->steps[i].kind == STEP_COPY && --s->copies_left == 0 && s->hooks->copies_done)
		s->hooks->copies_done(s->run);
}

static void *
worker(void *arg)
{
	struct job *job = arg;
	struct sched *s = job->s;
	struct run *run = s->run;
	struct pgs_error err;
	bool ok;

	pgs_error_clear(&err);
	if (s->hooks->started)
		s->hooks->started(run, job->step);
	ok = s->hooks->execute(run, job->step, &err);
	if (!ok && !err.step[0])
		snprintf(err.step, sizeof(err.step), "%s", run->dag->steps[job->step].id);
	if (s->hooks->finished)
		s->hooks->finished(run, job->step, ok, &err);
	pthread_mutex_lock(&s->lock);
	s->running[slot_of(&run->dag->steps[job->step])]--;
	if (ok) {
		s->state[job->step] = S_DONE;
		release_dependents(s, job->step);
	} else {
		s->state[job->step] = S_FAILED;
		if (!s->failed)
			s->first_error = err;
		s->failed = true;
		atomic_store(&run->cancel, true);
	}
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	free(job);
	return NULL;
}

/* Starts every ready step that its slot has room for; lock held. */
static void
dispatch(struct sched *s)
{
	const struct dag *dag = s->run->dag;

	for (size_t i = 0; i < dag->n && !s->failed; i++) {
		enum slot slot = slot_of(&dag->steps[i]);
		struct job *job;

		if (s->state[i] != S_WAITING || s->pending_deps[i] > 0 || s->running[slot] >= s->limit[slot])
			continue;
		job = xmalloc(sizeof(*job));
		*job = (struct job) {s, i};
		s->state[i] = S_RUNNING;
		s->running[slot]++;
		if (pthread_create(&s->threads[i], NULL, worker, job) != 0) {
			free(job);
			s->running[slot]--;
			s->state[i] = S_FAILED;
			s->failed = true;
			pgs_fail(&s->first_error, "could not start a worker thread for step \"%s\"",
					 dag->steps[i].id);
			continue;
		}
		s->joinable[i] = true;
	}
}

static bool
anything_running(const struct sched *s)
{
	for (int k = 0; k < N_SLOTS; k++)
		if (s->running[k] > 0)
			return true;
	return false;
}

static bool
anything_waiting(const struct sched *s)
{
	for (size_t i = 0; i < s->run->dag->n; i++)
		if (s->state[i] == S_WAITING)
			return true;
	return false;
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
	s->state = xcalloc(dag->n, sizeof(enum sstate));
	s->pending_deps = xcalloc(dag->n, sizeof(size_t));
	s->threads = xcalloc(dag->n, sizeof(pthread_t));
	s->joinable = xcalloc(dag->n, sizeof(bool));
	s->limit[SLOT_COPY] = run->plan->copy.table_jobs;
	s->limit[SLOT_INDEX] = run->plan->copy.index_jobs;
	/* schema, snapshot, blobs, CDC and cutover steps: few, mostly sequential */
	s->limit[SLOT_OTHER] = 4;
	build_reverse_edges(s);
	for (size_t i = 0; i < dag->n; i++) {
		s->pending_deps[i] = dag->steps[i].ndeps;
		if (dag->steps[i].kind == STEP_COPY)
			s->copies_left++;
	}
	for (size_t i = 0; i < dag->n; i++) {
		if (done && done[i]) {
			s->state[i] = S_DONE;
			release_dependents(s, i);
		} else if (wanted && !wanted[i]) {
			s->state[i] = S_SKIPPED;
		}
	}
}

static void
sched_free(struct sched *s)
{
	for (size_t i = 0; i < s->run->dag->n; i++)
		free(s->dependents[i]);
	free(s->dependents);
	free(s->ndependents);
	free(s->state);
	free(s->pending_deps);
	free(s->threads);
	free(s->joinable);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->changed);
}

/* Waits for a step to finish, or a second; then runs the tick hook. Lock held. */
static void
wait_or_tick(struct sched *s)
{
	struct timespec until;
	struct pgs_error err;
	bool ok;

	if (!s->hooks->tick) {
		pthread_cond_wait(&s->changed, &s->lock);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	if (pthread_cond_timedwait(&s->changed, &s->lock, &until) != ETIMEDOUT)
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

bool
scheduler_run(struct run *run, const bool *done, const bool *wanted,
			  const struct sched_hooks *hooks, struct pgs_error *err)
{
	struct sched s;
	bool ok;

	sched_init(&s, run, done, wanted, hooks);
	pthread_mutex_lock(&s.lock);
	for (;;) {
		dispatch(&s);
		if (!anything_running(&s))
			break;
		wait_or_tick(&s);
	}
	if (!s.failed && anything_waiting(&s)) {
		/* only a step whose dependency was not wanted can be left waiting */
		s.failed = true;
		pgs_fail(&s.first_error, "some steps could not start: a step they depend on was not run");
	}
	pthread_mutex_unlock(&s.lock);
	for (size_t i = 0; i < run->dag->n; i++)
		if (s.joinable[i])
			pthread_join(s.threads[i], NULL);
	ok = !s.failed;
	if (!ok)
		*err = s.first_error;
	sched_free(&s);
	return ok;
}
