/*
 * A metrics snapshot read from a running apply: the step table the live
 * view reads (atomics), the CDC positions (run_cdc_view, under its lock),
 * the spool directory's size, the log and notification counters.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "metrics/metrics.h"
#include "notify/notify.h"
#include "run/run.h"
#include "run/run_cdc.h"
#include "util/log.h"
#include "util/clock.h"

static struct metrics_stage *
stage_of(struct metrics_snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->nstages; i++)
		if (strcmp(s->stages[i].name, name) == 0)
			return &s->stages[i];
	if (s->nstages == METRICS_MAX_STAGES)
		return NULL;
	s->stages[s->nstages].name = name;
	return &s->stages[s->nstages++];
}

static void
count_step(struct metrics_stage *st, const struct step_progress *p)
{
	if (atomic_load(&p->running))
		st->running++;
	else if (atomic_load(&p->finished))
		st->done++;
	else if (p->started_at > 0)
		st->failed++;
	else
		st->pending++;
}

/* Bytes and rows of this run's copies, and their throughput over the copies' wall time. */
static void
copies(struct run *run, struct metrics_snapshot *s, double now)
{
	double first = 0, last = 0;

	for (size_t i = 0; i < run->dag->n; i++) {
		const struct step_progress *p = &run->progress[i];
		double start = p->started_at, end = atomic_load(&p->running) ? now : p->finished_at;

		if (run->dag->steps[i].kind != STEP_COPY)
			continue;
		s->copy_bytes_estimated += run->dag->steps[i].est_bytes;
		if (start <= 0)
			continue;
		s->copy_bytes += atomic_load(&p->bytes);
		s->copy_rows += atomic_load(&p->rows);
		first = first == 0 || start < first ? start : first;
		last = end > last ? end : last;
	}
	s->copy_bytes_per_second = last > first ? s->copy_bytes / (last - first) : 0;
}

/* The sum of the spool segments' sizes; -1 when the directory cannot be read. */
static long long
spool_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long long total = 0;
	char path[4096];
	struct stat sb;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
			total += sb.st_size;
	}
	closedir(d);
	return total;
}

static void
cdc(struct run *run, struct metrics_snapshot *s, double now)
{
	struct run_cdc_view v;
	struct run_cdc_lag lag;

	run_cdc_view(run, &v);
	run_cdc_lag(&v, now, &lag);
	s->cdc = true;
	s->receiving = v.receiving;
	s->applying = v.applying;
	s->source_lsn = v.source_lsn;
	s->received_lsn = v.durable_lsn;
	s->applied_lsn = v.applied_lsn;
	s->lag_bytes = lag.lag_bytes;
	s->receive_lag_bytes = lag.receive_lag_bytes;
	s->apply_lag_bytes = lag.apply_lag_bytes;
	s->lag_seconds = lag.lag_seconds;
	s->spool_bytes = spool_bytes(run->plan->cdc.spool_dir);
}

void
metrics_collect(struct run *run, struct metrics_snapshot *out)
{
	double now = clock_wall_s();

	memset(out, 0, sizeof(*out));
	out->plan = run->plan->name;
	out->run_id = run->run_id;
	for (size_t i = 0; i < run->dag->n; i++) {
		struct metrics_stage *st = stage_of(out, step_stage(&run->dag->steps[i]));

		if (st)
			count_step(st, &run->progress[i]);
	}
	copies(run, out, now);
	if (run->plan->cdc.enabled)
		cdc(run, out, now);
	out->errors = log_count(LOG_ERROR);
	out->warnings = log_count(LOG_WARNING);
	notify_counts(run->notifier.ctx, &out->notify_queued, &out->notify_dropped);
}
