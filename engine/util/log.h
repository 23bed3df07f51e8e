/*
 * Logging to stderr in text (PostgreSQL's voice: "pgshift: error: ...") or
 * JSON lines. Command output never goes through here: it goes to stdout.
 */
#ifndef PGSHIFT_UTIL_LOG_H
#define PGSHIFT_UTIL_LOG_H

#include <stdint.h>

#include "util/error.h"

enum log_level { LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* verbosity: -1 quiet (errors only), 0 default, 1 verbose (debug). */
void log_configure(enum log_format format, int verbosity);
enum log_format log_get_format(void);
/*
 * Hands every finished line (newline included) to sink instead of stderr,
 * serialised with the other lines; NULL goes back to stderr. The live view
 * prints them above its frame, so a log line never tears the frame.
 */
typedef void (*log_sink_fn)(const char *line, void *ctx);
void log_redirect(log_sink_fn sink, void *ctx);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * What JSON lines carry beside ts, level and msg: the run (set once its id
 * is known, for every thread) and what the calling thread works on (a
 * worker sets its step and table when it starts one; copied; NULL clears).
 * Text lines stay as they are: the step is already in their message.
 */
void log_set_run_id(const char *run_id);
void log_set_context(const char *step, const char *table);

/* Figures of one line (rows, bytes: -1 none; lsn: NULL none). */
struct log_fields {
	int64_t rows, bytes;
	const char *lsn;
};
#define LOG_NO_FIELDS ((struct log_fields) {-1, -1, NULL})
void log_with(enum log_level level, const struct log_fields *fields, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prints message, detail and hint of err, each on its own line. */
void log_report(enum log_level level, const struct pgs_error *err);

/* How many messages of level were logged by this process, shown or not. */
long long log_count(enum log_level level);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
