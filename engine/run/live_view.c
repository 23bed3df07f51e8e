/* The live view's frame; see live_view.h. */
#include <stdio.h>
#include <string.h>

#include "cdc/pgoutput.h"
#include "run/live_view.h"
#include "run/run_cdc.h"
#include "util/units.h"
#include "util/utf8.h"

#define MAX_STAGES 16
#define NAME_MIN 24

struct stage_line {
	const char *name;
	size_t total, done, running;
	long long bytes, est_bytes;
	double first_start;
};

struct frame {
	struct buf *b;
	int cols, rows, lines;
};

/* One line of the frame, cut to the width; false once the frame is full. */
static bool
put_line(struct frame *f, const char *text)
{
	size_t len = strlen(text);

	if (f->lines >= f->rows)
		return false;
	buf_append(f->b, text, utf8_prefix(text, len, (size_t) f->cols - 1));
	buf_putc(f->b, '\n');
	f->lines++;
	return true;
}

static long long
step_bytes(const struct step *st, struct step_progress *p)
{
	return atomic_load(&p->finished) ? st->est_bytes : atomic_load(&p->bytes);
}

static size_t
collect_stages(struct run *run, struct stage_line *out)
{
	size_t n = 0;

	for (size_t i = 0; i < run->dag->n; i++) {
		const struct step *st = &run->dag->steps[i];
		struct step_progress *p = &run->progress[i];
		const char *name = step_stage(st);
		size_t k = 0;

		while (k < n && strcmp(out[k].name, name) != 0)
			k++;
		if (k == n) {
			if (n == MAX_STAGES)
				continue;
			memset(&out[n++], 0, sizeof(out[0]));
			out[k].name = name;
		}
		out[k].total++;
		out[k].done += atomic_load(&p->finished);
		out[k].running += atomic_load(&p->running);
		if (st->kind == STEP_COPY) {
			out[k].bytes += step_bytes(st, p);
			out[k].est_bytes += st->est_bytes;
		}
		if (p->started_at > 0 && (out[k].first_start == 0 || p->started_at < out[k].first_start))
			out[k].first_start = p->started_at;
	}
	return n;
}

/* "12.0 MB/s, ETA 40s" from bytes done of total since start; empty without a rate. */
static void
rate_eta(long long done, long long total, double secs, char *out, size_t size)
{
	double rate = secs > 0 ? done / secs : 0;
	char r[32], eta[32];

	out[0] = '\0';
	if (rate <= 0)
		return;
	format_size((long long) rate, r, sizeof(r));
	if (total > done) {
		format_duration((int64_t) ((total - done) / rate * 1000), eta, sizeof(eta));
		snprintf(out, size, ", %s/s, ETA %s", r, eta);
	} else
		snprintf(out, size, ", %s/s", r);
}

static void
render_header(struct run *run, struct frame *f, struct stage_line *stages, size_t n, double now)
{
	long long done = 0, total = 0;
	size_t steps_done = 0, running = 0;
	double first = 0;
	char line[512], done_s[32], total_s[32], re[96];
	int filled;

	for (size_t k = 0; k < n; k++) {
		done += stages[k].bytes;
		total += stages[k].est_bytes;
		steps_done += stages[k].done;
		running += stages[k].running;
		if (strcmp(stages[k].name, "copy") == 0)
			first = stages[k].first_start;
	}
	format_size(done, done_s, sizeof(done_s));
	format_size(total, total_s, sizeof(total_s));
	rate_eta(done, total, first > 0 ? now - first : 0, re, sizeof(re));
	filled = total > 0 ? (int) (20 * (done > total ? total : done) / total) : 0;
	snprintf(line, sizeof(line), "[%.*s%.*s] %s / %s copied%s   steps: %zu of %zu done, %zu running",
			 filled, "####################", 20 - filled, "....................", done_s, total_s,
			 re, steps_done, run->dag->n, running);
	put_line(f, line);
}

/* One line per stage that has begun and is not over. */
static void
render_stages(struct frame *f, const struct stage_line *stages, size_t n, double now)
{
	for (size_t k = 0; k < n; k++) {
		const struct stage_line *s = &stages[k];
		char line[512], done_s[32], total_s[32], re[96], el[32];

		if (s->done == s->total || (s->running == 0 && s->done == 0))
			continue;
		format_duration((int64_t) ((now - s->first_start) * 1000), el, sizeof(el));
		if (s->est_bytes > 0) {
			format_size(s->bytes, done_s, sizeof(done_s));
			format_size(s->est_bytes, total_s, sizeof(total_s));
			rate_eta(s->bytes, s->est_bytes, now - s->first_start, re, sizeof(re));
			snprintf(line, sizeof(line), "  %-10s %zu of %zu done, %zu running; %s / %s%s", s->name,
					 s->done, s->total, s->running, done_s, total_s, re);
		} else
			snprintf(line, sizeof(line), "  %-10s %zu of %zu done, %zu running; %s", s->name,
					 s->done, s->total, s->running, el);
		put_line(f, line);
	}
}

static bool
cdc_stage_done(struct run *run)
{
	for (size_t i = 0; i < run->dag->n; i++)
		if (run->dag->steps[i].kind == STEP_CDC_CATCHUP && !atomic_load(&run->progress[i].finished))
			return false;
	return true;
}

/* The positions and run_cdc.h's lags between them. */
static void
render_cdc(struct run *run, struct frame *f, double now)
{
	struct run_cdc_view v;
	struct run_cdc_lag lag;
	char source[PGO_LSN_TEXT_SIZE], received[PGO_LSN_TEXT_SIZE], applied[PGO_LSN_TEXT_SIZE];
	char total[32], recv[32], appl[32], line[512];

	run_cdc_view(run, &v);
	pgo_lsn_text(v.applied_lsn, applied);
	if (!v.receiving) {
		if (cdc_stage_done(run) && v.applied_lsn)
			snprintf(line, sizeof(line), "  cdc: stopped; applied up to %s", applied);
		else
			snprintf(line, sizeof(line), "  cdc: not streaming yet");
		put_line(f, line);
		return;
	}
	run_cdc_lag(&v, now, &lag);
	pgo_lsn_text(v.source_lsn, source);
	pgo_lsn_text(v.durable_lsn, received);
	format_size(lag.lag_bytes > 0 ? lag.lag_bytes : 0, total, sizeof(total));
	format_size(lag.receive_lag_bytes > 0 ? lag.receive_lag_bytes : 0, recv, sizeof(recv));
	format_size(lag.apply_lag_bytes, appl, sizeof(appl));
	snprintf(line, sizeof(line), "  cdc: source %s, received %s, applied %s%s",
			 v.source_lsn ? source : "-", received, applied,
			 v.applying ? "" : " (spooled; applied after the copy)");
	put_line(f, line);
	if (lag.lag_bytes < 0)
		snprintf(line, sizeof(line), "  lag: - (source position not read yet), apply %s", appl);
	else
		snprintf(line, sizeof(line), "  lag: %s, %.0f s = receive %s + apply %s", total,
				 lag.lag_seconds, recv, appl);
	put_line(f, line);
}

static void
render_gate(struct run *run, struct frame *f)
{
	char line[4200];

	for (size_t i = 0; i < run->dag->n; i++)
		if (run->dag->steps[i].kind == STEP_CUTOVER_GATE && atomic_load(&run->progress[i].running)) {
			snprintf(line, sizeof(line),
					 "  cutover gate: waiting for approval; run \"pgshift cutover %s\" to continue",
					 run->plan->file);
			put_line(f, line);
		}
}

static void
render_step(struct frame *f, const struct step *st, struct step_progress *p, double now)
{
	long long bytes = atomic_load(&p->bytes), total = atomic_load(&p->total_bytes);
	long long rows = atomic_load(&p->rows);
	size_t name_cols = (size_t) (f->cols / 2 > NAME_MIN ? f->cols / 2 : NAME_MIN);
	char name[1024], el[32], done_s[32], total_s[32], re[96], line[1400];

	utf8_ellipsize_middle(st->id, name_cols, name, sizeof(name));
	format_duration((int64_t) ((now - p->started_at) * 1000), el, sizeof(el));
	if (st->kind != STEP_COPY) {
		snprintf(line, sizeof(line), "  %-*s running %s", (int) name_cols, name, el);
		put_line(f, line);
		return;
	}
	format_size(bytes, done_s, sizeof(done_s));
	format_size(total, total_s, sizeof(total_s));
	rate_eta(bytes, total, now - p->started_at, re, sizeof(re));
	snprintf(line, sizeof(line), "  %-*s %s / %s, %lld rows%s", (int) name_cols, name, done_s,
			 total_s, rows, re);
	put_line(f, line);
}

static void
render_running(struct run *run, struct frame *f, double now)
{
	size_t running = 0, shown = 0;
	char line[64];

	for (size_t i = 0; i < run->dag->n; i++)
		running += atomic_load(&run->progress[i].running);
	for (size_t i = 0; i < run->dag->n && shown < running; i++) {
		if (!atomic_load(&run->progress[i].running))
			continue;
		/* the last line left says how many more there are */
		if (f->lines == f->rows - 1 && running - shown > 1)
			break;
		render_step(f, &run->dag->steps[i], &run->progress[i], now);
		shown++;
	}
	if (shown < running) {
		snprintf(line, sizeof(line), "  ... and %zu more running", running - shown);
		put_line(f, line);
	}
}

void
live_view_render(struct run *run, double now, int cols, int rows, struct buf *b)
{
	struct stage_line stages[MAX_STAGES];
	struct frame f = {b, cols < 20 ? 20 : cols, rows < 4 ? 4 : rows, 0};
	size_t n = collect_stages(run, stages);

	render_header(run, &f, stages, n, now);
	render_stages(&f, stages, n, now);
	if (run->plan->cdc.enabled)
		render_cdc(run, &f, now);
	render_gate(run, &f);
	render_running(run, &f, now);
}
