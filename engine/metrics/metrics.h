/*
 * `apply --metrics-listen ADDR:PORT`: a Prometheus text endpoint
 * (GET /metrics) served by one thread for as long as the run's steps
 * execute. The socket is bound before apply writes anything, so a port in
 * use is a usage error, not a failed migration. Everything it shows is
 * read from the run as the live view reads it (atomics and the CDC lock);
 * the figures and their names are README's "Metrics".
 */
#ifndef PGSHIFT_METRICS_METRICS_H
#define PGSHIFT_METRICS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

struct run;
struct metrics_server;

/* Binds ADDR:PORT ("127.0.0.1:9187", "[::1]:9187", ":9187" for every address). */
struct metrics_server *metrics_listen(const char *addr, struct pgs_error *err);
/* Starts answering scrapes about run, until metrics_stop. */
bool metrics_serve(struct metrics_server *ms, struct run *run, struct pgs_error *err);
/* Stops answering (the thread is joined); the socket stays bound until metrics_close. */
void metrics_stop(struct metrics_server *ms);
void metrics_close(struct metrics_server *ms);

/* Steps of one stage by state. */
struct metrics_stage {
	const char *name;
	size_t pending, running, done, failed;
};

#define METRICS_MAX_STAGES 16

/* One scrape's figures; lag fields -1 when unknown (run_cdc_lag). */
struct metrics_snapshot {
	const char *plan, *run_id;
	double started_at;                  /* unix seconds */
	struct metrics_stage stages[METRICS_MAX_STAGES];
	size_t nstages;
	long long copy_bytes, copy_rows, copy_bytes_estimated;
	double copy_bytes_per_second;       /* this run's copies: bytes / their wall time */
	bool cdc, receiving, applying;
	uint64_t source_lsn, received_lsn, applied_lsn;
	int64_t lag_bytes, receive_lag_bytes, apply_lag_bytes;
	double lag_seconds;
	long long spool_bytes;              /* -1: the spool directory could not be read */
	long long warnings, errors;         /* logged by this process */
	size_t notify_queued, notify_dropped;
};

/* The snapshot of run now (metrics_collect.c). */
void metrics_collect(struct run *run, struct metrics_snapshot *out);
/* Prometheus text exposition format 0.0.4 of s (metrics_text.c). */
void metrics_text(const struct metrics_snapshot *s, struct buf *b);

#endif
