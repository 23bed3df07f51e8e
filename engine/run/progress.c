/* Progress reporting of an apply; see progress.h. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cdc/pgoutput.h"
#include "run/progress.h"
#include "run/run_cdc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/units.h"

/* One apply per process, so one live view: its thread and stop flag. */
static pthread_t view_thread;
static atomic_bool view_running;
static atomic_bool view_stop;
static int view_lines;          /* lines drawn last time, to redraw over them */

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

void
progress_step_started(struct run *run, size_t step)
{
	struct step_progress *p = &run->progress[step];
	const struct step *st = &run->dag->steps[step];
	struct pgs_error err;

	p->started_at = now_seconds();
	atomic_store(&p->total_bytes, st->est_bytes);
	atomic_store(&p->running, true);
	pgs_error_clear(&err);
	if (!state_step_started(run->state, st->id, st->est_bytes, &err))
		log_report(LOG_WARNING, &err);
	if (!atomic_load(&view_running))
		log_info("%s: started", st->id);
}

void
progress_step_finished(struct run *run, size_t step, bool ok, const struct pgs_error *failure)
{
	struct step_progress *p = &run->progress[step];
	const struct step *st = &run->dag->steps[step];
	long long rows = atomic_load(&p->rows), bytes = atomic_load(&p->bytes);
	struct pgs_error err;
	char size[32];
	bool recorded;

	p->finished_at = now_seconds();
	atomic_store(&p->running, false);
	atomic_store(&p->finished, ok);
	pgs_error_clear(&err);
	recorded = ok ? state_step_finished(run->state, st->id, rows, bytes, &err)
		: state_step_failed(run->state, st->id, failure->message, &err);
	if (!recorded)
		log_report(LOG_WARNING, &err);
	format_size(bytes, size, sizeof(size));
	if (ok && atomic_load(&view_running))
		return;
	if (ok)
		log_info("%s: done in %.1f s (%lld rows, %s)", st->id, p->finished_at - p->started_at,
				 rows, size);
	else
		log_error("%s: failed after %.1f s: %s", st->id, p->finished_at - p->started_at,
				  failure->message);
}

static void
render_step(struct buf *b, const struct step *st, struct step_progress *p, double now)
{
	long long bytes = atomic_load(&p->bytes), total = atomic_load(&p->total_bytes);
	double secs = now - p->started_at;
	double rate = secs > 0 ? bytes / secs : 0;
	char done_s[32], total_s[32], rate_s[32];

	format_size(bytes, done_s, sizeof(done_s));
	format_size(total, total_s, sizeof(total_s));
	format_size((long long) rate, rate_s, sizeof(rate_s));
	buf_printf(b, "  %-40.40s %10s / %-10s %12lld rows %10s/s", st->id, done_s, total_s,
			   (long long) atomic_load(&p->rows), rate_s);
	if (rate > 0 && total > bytes)
		buf_printf(b, "  ETA %.0fs", (total - bytes) / rate);
	buf_putc(b, '\n');
}

/* One line for CDC: the positions and run_cdc.h's lags between them. */
static void
render_cdc(struct run *run, struct buf *b)
{
	struct run_cdc_view v;
	struct run_cdc_lag lag;
	char source[PGO_LSN_TEXT_SIZE], received[PGO_LSN_TEXT_SIZE], applied[PGO_LSN_TEXT_SIZE];
	char total[32], recv[32], appl[32];

	if (!run->plan->cdc.enabled)
		return;
	run_cdc_view(run, &v);
	if (!v.receiving) {
		buf_puts(b, "  cdc: not streaming yet\n");
		return;
	}
	run_cdc_lag(&v, now_seconds(), &lag);
	pgo_lsn_text(v.source_lsn, source);
	pgo_lsn_text(v.durable_lsn, received);
	pgo_lsn_text(v.applied_lsn, applied);
	format_size(lag.lag_bytes > 0 ? lag.lag_bytes : 0, total, sizeof(total));
	format_size(lag.receive_lag_bytes > 0 ? lag.receive_lag_bytes : 0, recv, sizeof(recv));
	format_size(lag.apply_lag_bytes, appl, sizeof(appl));
	buf_printf(b, "  cdc: source %s, received %s, applied %s%s\n", v.source_lsn ? source : "-",
			   received, applied, v.applying ? "" : " (spooled; applied after the copy)");
	if (lag.lag_bytes < 0)
		buf_printf(b, "  lag: - (source position not read yet), apply %s\n", appl);
	else
		buf_printf(b, "  lag: %s, %.0f s = receive %s + apply %s\n", total, lag.lag_seconds,
				   recv, appl);
}

static void
render(struct run *run, struct buf *b)
{
	double now = now_seconds();
	long long done = 0, total = 0;
	size_t finished = 0, running = 0;
	char done_s[32], total_s[32];
	int filled;

	for (size_t i = 0; i < run->dag->n; i++) {
		struct step_progress *p = &run->progress[i];

		finished += atomic_load(&p->finished);
		running += atomic_load(&p->running);
		if (run->dag->steps[i].kind == STEP_COPY) {
			total += run->dag->steps[i].est_bytes;
			done += atomic_load(&p->finished) ? run->dag->steps[i].est_bytes : atomic_load(&p->bytes);
		}
	}
	format_size(done, done_s, sizeof(done_s));
	format_size(total, total_s, sizeof(total_s));
	filled = total > 0 ? (int) (30 * (done > total ? total : done) / total) : 0;
	buf_printf(b, "[%.*s%.*s] %s / %s copied   steps: %zu done, %zu running, %zu total\n",
			   filled, "##############################", 30 - filled,
			   "..............................", done_s, total_s, finished, running, run->dag->n);
	render_cdc(run, b);
	for (size_t i = 0; i < run->dag->n; i++)
		if (atomic_load(&run->progress[i].running))
			render_step(b, &run->dag->steps[i], &run->progress[i], now);
}

static void *
view_main(void *arg)
{
	struct run *run = arg;
	struct buf b;

	buf_init(&b);
	for (bool last = false; !last;) {
		/* one more frame after the stop, so the final state stays on screen */
		last = atomic_load(&view_stop);
		buf_reset(&b);
		if (view_lines > 0)
			buf_printf(&b, "\033[%dA\033[J", view_lines);
		render(run, &b);
		view_lines = 0;
		for (size_t i = 0; i < b.len; i++)
			view_lines += b.data[i] == '\n';
		fputs(b.data, stderr);
		fflush(stderr);
		for (int i = 0; i < 10 && !atomic_load(&view_stop); i++)
			usleep(100000);
	}
	buf_free(&b);
	return NULL;
}

void
progress_start(struct run *run, bool live)
{
	atomic_store(&view_stop, false);
	view_lines = 0;
	if (!live || !isatty(STDERR_FILENO) || log_get_format() != LOG_FORMAT_TEXT)
		return;
	if (pthread_create(&view_thread, NULL, view_main, run) == 0)
		atomic_store(&view_running, true);
}

void
progress_stop(struct run *run)
{
	(void) run;
	if (!atomic_load(&view_running))
		return;
	atomic_store(&view_stop, true);
	pthread_join(view_thread, NULL);
	atomic_store(&view_running, false);
}
