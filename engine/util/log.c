/*
 * Log lines to stderr. One mutex keeps lines of parallel workers whole;
 * JSON lines carry a UTC timestamp so they can be shipped as they are.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"

static enum log_format log_format = LOG_FORMAT_TEXT;
static int log_verbosity;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_run_id[64];            /* guarded by log_lock */
static _Thread_local char ctx_step[256], ctx_table[256];
static log_sink_fn log_sink;            /* guarded by log_lock; NULL: stderr */
static void *log_sink_ctx;

static const char *const level_names[] = {"error", "warning", "info", "debug"};
/* What was logged at each level, shown or not (the metrics count them). */
static atomic_llong level_counts[LOG_DEBUG + 1];

void
log_configure(enum log_format format, int verbosity)
{
	log_format = format;
	log_verbosity = verbosity;
}

void
log_redirect(log_sink_fn sink, void *ctx)
{
	pthread_mutex_lock(&log_lock);
	log_sink = sink;
	log_sink_ctx = ctx;
	pthread_mutex_unlock(&log_lock);
}

enum log_format
log_get_format(void)
{
	return log_format;
}

static bool
log_enabled(enum log_level level)
{
	if (level == LOG_ERROR)
		return true;
	if (log_verbosity < 0)
		return false;
	if (level == LOG_DEBUG)
		return log_verbosity > 0;
	return true;
}

void
log_set_run_id(const char *run_id)
{
	pthread_mutex_lock(&log_lock);
	snprintf(log_run_id, sizeof(log_run_id), "%s", run_id ? run_id : "");
	pthread_mutex_unlock(&log_lock);
}

void
log_set_context(const char *step, const char *table)
{
	snprintf(ctx_step, sizeof(ctx_step), "%s", step ? step : "");
	snprintf(ctx_table, sizeof(ctx_table), "%s", table ? table : "");
}

static void
json_field(struct buf *line, const char *key, const char *value)
{
	if (!value || !*value)
		return;
	buf_printf(line, ",\"%s\":", key);
	json_put_string(line, value);
}

/* The fields after msg: run, thread context (err_step when the thread has none), figures. */
static void
json_context(struct buf *line, const struct log_fields *f, const char *err_step)
{
	json_field(line, "run_id", log_run_id);
	json_field(line, "step", ctx_step[0] ? ctx_step : err_step);
	json_field(line, "table", ctx_table);
	if (f && f->rows >= 0)
		buf_printf(line, ",\"rows\":%lld", (long long) f->rows);
	if (f && f->bytes >= 0)
		buf_printf(line, ",\"bytes\":%lld", (long long) f->bytes);
	if (f)
		json_field(line, "lsn", f->lsn);
}

static void
log_emit(enum log_level level, const char *msg, const char *detail,
		 const char *hint, const struct log_fields *f, const char *err_step)
{
	struct buf line;

	buf_init(&line);
	if (log_format == LOG_FORMAT_JSON) {
		char ts[32];
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		buf_puts(&line, "{\"ts\":");
		json_put_string(&line, ts);
		buf_puts(&line, ",\"level\":");
		json_put_string(&line, level_names[level]);
		buf_puts(&line, ",\"msg\":");
		json_put_string(&line, msg);
		/* under log_lock for log_run_id; the context is this thread's own */
		pthread_mutex_lock(&log_lock);
		json_context(&line, f, err_step);
		pthread_mutex_unlock(&log_lock);
		if (detail && *detail) {
			buf_puts(&line, ",\"detail\":");
			json_put_string(&line, detail);
		}
		if (hint && *hint) {
			buf_puts(&line, ",\"hint\":");
			json_put_string(&line, hint);
		}
		buf_puts(&line, "}\n");
	} else {
		if (level == LOG_INFO)
			buf_printf(&line, "pgshift: %s\n", msg);
		else
			buf_printf(&line, "pgshift: %s: %s\n", level_names[level], msg);
		if (detail && *detail)
			buf_printf(&line, "pgshift: detail: %s\n", detail);
		if (hint && *hint)
			buf_printf(&line, "pgshift: hint: %s\n", hint);
	}
	pthread_mutex_lock(&log_lock);
	if (log_sink)
		log_sink(line.data, log_sink_ctx);
	else {
		fputs(line.data, stderr);
		fflush(stderr);
	}
	pthread_mutex_unlock(&log_lock);
	buf_free(&line);
}

static void
log_vwith(enum log_level level, const struct log_fields *f, const char *fmt, va_list ap)
{
	struct buf msg;

	atomic_fetch_add(&level_counts[level], 1);
	if (!log_enabled(level))
		return;
	buf_init(&msg);
	buf_vprintf(&msg, fmt, ap);
	log_emit(level, msg.data ? msg.data : "", NULL, NULL, f, NULL);
	buf_free(&msg);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwith(level, NULL, fmt, ap);
	va_end(ap);
}

void
log_with(enum log_level level, const struct log_fields *fields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwith(level, fields, fmt, ap);
	va_end(ap);
}

void
log_report(enum log_level level, const struct pgs_error *err)
{
	atomic_fetch_add(&level_counts[level], 1);
	if (!log_enabled(level))
		return;
	log_emit(level, err->message, err->detail, err->hint, NULL, err->step);
}

long long
log_count(enum log_level level)
{
	return atomic_load(&level_counts[level]);
}
