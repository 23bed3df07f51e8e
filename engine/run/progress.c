/* Progress reporting of an apply; see progress.h. */
#include <pthread.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "run/live_view.h"
#include "run/progress.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/units.h"
#include "util/clock.h"

/* One apply per process, so one live view: its thread and stop flag. */
static pthread_t view_thread;
static atomic_bool view_running;
static atomic_bool view_stop;
static int view_lines;          /* lines drawn last time, to redraw over them */
/* Log lines that came while the view runs, printed above the next frame. */
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static struct buf held_lines;   /* guarded by held_lock */

static void
hold_line(const char *line, void *ctx)
{
	(void) ctx;
	pthread_mutex_lock(&held_lock);
	buf_puts(&held_lines, line);
	pthread_mutex_unlock(&held_lock);
}

/* Moves the held log lines into b (where the erased frame was). */
static void
take_held_lines(struct buf *b)
{
	pthread_mutex_lock(&held_lock);
	if (held_lines.len > 0)
		buf_append(b, held_lines.data, held_lines.len);
	buf_reset(&held_lines);
	pthread_mutex_unlock(&held_lock);
}

/* The worker's JSON log lines name its step and table until the step ends. */
static void
set_log_context(struct run *run, const struct step *st)
{
	char table[256] = "";

	if (st->table >= 0 && run->cat && (size_t) st->table < run->cat->ntables)
		snprintf(table, sizeof(table), "%s.%s", run->cat->tables[st->table].schema,
				 run->cat->tables[st->table].name);
	log_set_context(st->id, table);
}

void
progress_step_started(struct run *run, size_t step)
{
	struct step_progress *p = &run->progress[step];
	const struct step *st = &run->dag->steps[step];
	struct pgs_error err;

	set_log_context(run, st);
	p->started_at = clock_wall_s();
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

	p->finished_at = clock_wall_s();
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
		log_with(LOG_INFO, &(struct log_fields) {rows, bytes, NULL},
				 "%s: done in %.1f s (%lld rows, %s)", st->id, p->finished_at - p->started_at,
				 rows, size);
	else
		log_error("%s: failed after %.1f s: %s", st->id, p->finished_at - p->started_at,
				  failure->message);
	log_set_context(NULL, NULL);
}

void
progress_tick(struct run *run)
{
	struct pgs_error err;

	for (size_t i = 0; i < run->dag->n; i++) {
		struct step_progress *p = &run->progress[i];
		long long bytes = atomic_load(&p->bytes);

		if (!atomic_load(&p->running) || bytes == p->recorded_bytes)
			continue;
		p->recorded_bytes = bytes;
		pgs_error_clear(&err);
		if (!state_step_progress(run->state, run->dag->steps[i].id, atomic_load(&p->rows), bytes,
								 &err))
			log_report(LOG_WARNING, &err);
	}
	/* the starts and progress queued since the last step finished, in one statement */
	pgs_error_clear(&err);
	if (!state_flush_steps(run->state, &err))
		log_report(LOG_WARNING, &err);
}

/* The terminal's size now, so a resized window gets a frame that fits it. */
static void
terminal_size(int *cols, int *rows)
{
	struct winsize ws;

	*cols = 80;
	*rows = 24;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

static void *
view_main(void *arg)
{
	struct run *run = arg;
	struct buf b;
	int cols, rows;

	buf_init(&b);
	for (bool last = false; !last;) {
		/* one more frame after the stop, so the final state stays on screen */
		last = atomic_load(&view_stop);
		buf_reset(&b);
		/* back to the frame's first line, erase to the end of the screen, draw anew */
		if (view_lines > 0)
			buf_printf(&b, "\r\033[%dA\033[J", view_lines);
		take_held_lines(&b);
		terminal_size(&cols, &rows);
		/* one line less than the screen: a taller frame would scroll out of reach of the redraw */
		live_view_render(run, clock_wall_s(), cols, rows - 1, &b);
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
	buf_init(&held_lines);
	log_redirect(hold_line, NULL);
	if (pthread_create(&view_thread, NULL, view_main, run) == 0)
		atomic_store(&view_running, true);
	else
		log_redirect(NULL, NULL);
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
	log_redirect(NULL, NULL);
	/* what came after the last frame */
	pthread_mutex_lock(&held_lock);
	if (held_lines.len > 0)
		fputs(held_lines.data, stderr);
	buf_free(&held_lines);
	pthread_mutex_unlock(&held_lock);
}
