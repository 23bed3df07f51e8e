/*
 * The Prometheus text exposition of a metrics snapshot: pure, so the unit
 * tests pin every name, type and label (README "Metrics").
 */
#include <inttypes.h>

#include "metrics/metrics.h"

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values are escaped as the format asks: backslash, quote, newline. */
static void
label_value(struct buf *b, const char *v)
{
	buf_putc(b, '"');
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_putc(b, '\\');
		if (*v == '\n')
			buf_puts(b, "\\n");
		else
			buf_putc(b, *v);
	}
	buf_putc(b, '"');
}

static void
gauge(struct buf *b, const char *name, const char *help, long long v)
{
	family(b, name, "gauge", help);
	buf_printf(b, "%s %lld\n", name, v);
}

static void
counter(struct buf *b, const char *name, const char *help, long long v)
{
	family(b, name, "counter", help);
	buf_printf(b, "%s %lld\n", name, v);
}

/* A lag or position that may be unknown (-1) is left out rather than shown as 0. */
static void
gauge_known(struct buf *b, const char *name, const char *help, int64_t v)
{
	family(b, name, "gauge", help);
	if (v >= 0)
		buf_printf(b, "%s %" PRId64 "\n", name, v);
}

static void
steps(const struct metrics_snapshot *s, struct buf *b)
{
	static const char *const states[] = {"pending", "running", "done", "failed"};

	family(b, "pgshift_steps", "gauge", "Steps of the run's DAG by stage and state.");
	for (size_t i = 0; i < s->nstages; i++) {
		const struct metrics_stage *st = &s->stages[i];
		size_t n[4] = {st->pending, st->running, st->done, st->failed};

		for (int k = 0; k < 4; k++) {
			buf_puts(b, "pgshift_steps{stage=");
			label_value(b, st->name);
			buf_printf(b, ",state=\"%s\"} %zu\n", states[k], n[k]);
		}
	}
}

static void
cdc(const struct metrics_snapshot *s, struct buf *b)
{
	gauge(b, "pgshift_cdc_receiving", "1 while the receiver streams from the slot.", s->receiving);
	gauge(b, "pgshift_cdc_applying", "1 while the applier applies the spool to the target.",
		  s->applying);
	gauge_known(b, "pgshift_cdc_source_lsn", "The source's WAL position (pg_current_wal_lsn), as a number.",
				s->source_lsn ? (int64_t) s->source_lsn : -1);
	gauge(b, "pgshift_cdc_received_lsn", "The LSN the spool holds durably, as a number.",
		  (long long) s->received_lsn);
	gauge(b, "pgshift_cdc_applied_lsn", "The LSN applied and committed on the target, as a number.",
		  (long long) s->applied_lsn);
	gauge_known(b, "pgshift_cdc_lag_bytes", "Source WAL position minus applied LSN.", s->lag_bytes);
	gauge_known(b, "pgshift_cdc_receive_lag_bytes", "Source WAL position minus received LSN.",
				s->receive_lag_bytes);
	gauge_known(b, "pgshift_cdc_apply_lag_bytes", "Received LSN minus applied LSN.",
				s->apply_lag_bytes);
	family(b, "pgshift_cdc_lag_seconds", "gauge",
		   "Age of the last applied source commit while there is lag, else 0.");
	if (s->lag_seconds >= 0)
		buf_printf(b, "pgshift_cdc_lag_seconds %.3f\n", s->lag_seconds);
	gauge_known(b, "pgshift_spool_bytes", "Bytes of the spool directory's segments.", s->spool_bytes);
}

void
metrics_text(const struct metrics_snapshot *s, struct buf *b)
{
	family(b, "pgshift_run_info", "gauge", "The plan and run this process executes.");
	buf_puts(b, "pgshift_run_info{plan=");
	label_value(b, s->plan);
	buf_puts(b, ",run_id=");
	label_value(b, s->run_id);
	buf_puts(b, "} 1\n");
	family(b, "pgshift_run_start_time_seconds", "gauge", "When this apply started (unix time).");
	buf_printf(b, "pgshift_run_start_time_seconds %.3f\n", s->started_at);
	steps(s, b);
	counter(b, "pgshift_copy_bytes_total", "Bytes copied by this run's copy steps.", s->copy_bytes);
	counter(b, "pgshift_copy_rows_total", "Rows copied by this run's copy steps.", s->copy_rows);
	gauge(b, "pgshift_copy_bytes_estimated", "Estimated bytes of every copy step of the DAG.",
		  s->copy_bytes_estimated);
	family(b, "pgshift_copy_bytes_per_second", "gauge",
		   "This run's copy throughput: bytes copied over the copies' wall time.");
	buf_printf(b, "pgshift_copy_bytes_per_second %.0f\n", s->copy_bytes_per_second);
	if (s->cdc)
		cdc(s, b);
	counter(b, "pgshift_log_errors_total", "Errors logged by this process.", s->errors);
	counter(b, "pgshift_log_warnings_total", "Warnings logged by this process.", s->warnings);
	gauge(b, "pgshift_notify_queue_depth", "Notifications waiting to be delivered, all targets.",
		  (long long) s->notify_queued);
	counter(b, "pgshift_notify_dropped_total",
			"Notifications dropped (queue full) or given up on, all targets.",
			(long long) s->notify_dropped);
}
