/*
 * The metrics endpoint's text (Prometheus exposition 0.0.4) and its address
 * parsing: every family has HELP and TYPE, labels are escaped, an unknown
 * lag is left out rather than shown as 0, CDC families only with CDC.
 */
#include <stdio.h>
#include <string.h>

#include "metrics/metrics.h"
#include "tap.h"

static bool
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p += n)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

/* Every sample's family was declared with HELP and TYPE before it. */
static bool
families_declared(const char *text)
{
	char declared[8192] = "";
	const char *line = text;

	while (*line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t) (end - line) : strlen(line);
		char name[128];

		if (strncmp(line, "# TYPE ", 7) == 0 && sscanf(line + 7, "%127s", name) == 1) {
			strncat(declared, " ", sizeof(declared) - strlen(declared) - 1);
			strncat(declared, name, sizeof(declared) - strlen(declared) - 1);
			strncat(declared, " ", sizeof(declared) - strlen(declared) - 1);
		} else if (line[0] != '#' && len > 0) {
			char key[130];
			size_t k = strcspn(line, "{ ");

			snprintf(key, sizeof(key), " %.*s ", (int) k, line);
			if (!strstr(declared, key))
				return false;
		}
		line += len + (end ? 1 : 0);
	}
	return true;
}

static void
test_offline(void)
{
	struct metrics_snapshot s = {.plan = "app \"prod\"", .run_id = "r1", .started_at = 1700000000.5,
								 .nstages = 2, .copy_bytes = 1024, .copy_rows = 10,
								 .copy_bytes_estimated = 4096, .copy_bytes_per_second = 512,
								 .warnings = 2, .errors = 1, .notify_queued = 3,
								 .notify_dropped = 4};
	struct buf b;

	s.stages[0] = (struct metrics_stage) {"schema", 0, 0, 2, 0};
	s.stages[1] = (struct metrics_stage) {"copy", 3, 2, 1, 1};
	buf_init(&b);
	metrics_text(&s, &b);
	ok(families_declared(b.data), "offline: every sample's family has # TYPE");
	ok(has_line(b.data, "pgshift_run_info{plan=\"app \\\"prod\\\"\",run_id=\"r1\"} 1"),
	   "the plan's name is escaped in its label");
	ok(has_line(b.data, "pgshift_run_start_time_seconds 1700000000.500"), "start time");
	ok(has_line(b.data, "pgshift_steps{stage=\"copy\",state=\"pending\"} 3"), "copy pending");
	ok(has_line(b.data, "pgshift_steps{stage=\"copy\",state=\"running\"} 2"), "copy running");
	ok(has_line(b.data, "pgshift_steps{stage=\"copy\",state=\"failed\"} 1"), "copy failed");
	ok(has_line(b.data, "pgshift_steps{stage=\"schema\",state=\"done\"} 2"), "schema done");
	ok(has_line(b.data, "# TYPE pgshift_copy_bytes_total counter"), "bytes copied is a counter");
	ok(has_line(b.data, "pgshift_copy_bytes_total 1024"), "bytes copied");
	ok(has_line(b.data, "pgshift_copy_rows_total 10"), "rows copied");
	ok(has_line(b.data, "pgshift_copy_bytes_estimated 4096"), "estimated bytes");
	ok(has_line(b.data, "pgshift_copy_bytes_per_second 512"), "throughput");
	ok(has_line(b.data, "pgshift_log_errors_total 1"), "errors");
	ok(has_line(b.data, "pgshift_log_warnings_total 2"), "warnings");
	ok(has_line(b.data, "pgshift_notify_queue_depth 3"), "notification queue");
	ok(has_line(b.data, "pgshift_notify_dropped_total 4"), "notifications dropped");
	ok(!strstr(b.data, "pgshift_cdc_"), "no CDC families without CDC");
	buf_free(&b);
}

static void
test_cdc(void)
{
	struct metrics_snapshot s = {.plan = "p", .run_id = "r", .cdc = true, .receiving = true,
								 .source_lsn = 0, .received_lsn = 0x1000, .applied_lsn = 0x800,
								 .lag_bytes = -1, .receive_lag_bytes = -1, .apply_lag_bytes = 2048,
								 .lag_seconds = -1, .spool_bytes = 65536};
	struct buf b;

	buf_init(&b);
	metrics_text(&s, &b);
	ok(families_declared(b.data), "cdc: every sample's family has # TYPE");
	ok(has_line(b.data, "pgshift_cdc_receiving 1"), "receiving");
	ok(has_line(b.data, "pgshift_cdc_applying 0"), "not applying yet");
	ok(has_line(b.data, "pgshift_cdc_received_lsn 4096"), "received LSN as a number");
	ok(has_line(b.data, "pgshift_cdc_applied_lsn 2048"), "applied LSN as a number");
	ok(has_line(b.data, "pgshift_cdc_apply_lag_bytes 2048"), "apply lag known from the spool");
	ok(!strstr(b.data, "\npgshift_cdc_lag_bytes "), "an unknown lag is left out, not 0");
	ok(!strstr(b.data, "\npgshift_cdc_source_lsn "), "an unread source position is left out");
	ok(!strstr(b.data, "\npgshift_cdc_lag_seconds "), "unknown lag seconds left out");
	ok(has_line(b.data, "pgshift_spool_bytes 65536"), "spool size");
	buf_reset(&b);
	s.source_lsn = 0x2000;
	s.lag_bytes = 0x1800;
	s.receive_lag_bytes = 0x1000;
	s.lag_seconds = 1.25;
	metrics_text(&s, &b);
	ok(has_line(b.data, "pgshift_cdc_source_lsn 8192"), "source LSN once read");
	ok(has_line(b.data, "pgshift_cdc_lag_bytes 6144"), "lag = source - applied");
	ok(has_line(b.data, "pgshift_cdc_receive_lag_bytes 4096"), "receive lag");
	ok(has_line(b.data, "pgshift_cdc_lag_seconds 1.250"), "lag seconds");
	buf_free(&b);
}

static void
test_listen_addresses(void)
{
	static const struct {
		const char *addr;
		const char *message;    /* NULL: binds */
	} cases[] = {
		{"127.0.0.1:0", NULL},
		{"[::1]:0", NULL},
		{"127.0.0.1", "invalid --metrics-listen \"127.0.0.1\": expected ADDR:PORT"},
		{"127.0.0.1:", "invalid --metrics-listen \"127.0.0.1:\": expected ADDR:PORT"},
		{"127.0.0.1:http", "invalid --metrics-listen \"127.0.0.1:http\": expected ADDR:PORT"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pgs_error err;
		struct metrics_server *ms;

		pgs_error_clear(&err);
		ms = metrics_listen(cases[i].addr, &err);
		if (!cases[i].message) {
			/* a machine without IPv6 cannot bind [::1]; that is the only acceptable failure */
			ok(ms || strstr(err.message, "[::1]"), cases[i].addr);
		} else {
			ok(!ms, cases[i].addr);
			is_str(err.message, cases[i].message, cases[i].addr);
		}
		metrics_close(ms);
	}
}

int
main(void)
{
	test_offline();
	test_cdc();
	test_listen_addresses();
	return done_testing();
}
