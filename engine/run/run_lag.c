/*
 * How far behind the source the target is, measured one way everywhere
 * (run_cdc.h). The source's own WAL position is read, not the end of WAL
 * the server last told the receiver: a receiver falling behind would
 * otherwise measure itself against a position as old as its own.
 */
#include <stdio.h>

#include "cdc/cdc_slot.h"
#include "pg/conn.h"
#include "run/run_cdc.h"
#include "util/log.h"
#include "util/clock.h"

#define PG_EPOCH_OFFSET_S 946684800.0

static int64_t
behind(uint64_t ahead, uint64_t pos)
{
	return ahead > pos ? (int64_t) (ahead - pos) : 0;
}

void
run_cdc_lag(const struct run_cdc_view *v, double now_unix, struct run_cdc_lag *out)
{
	bool known = v->source_lsn != 0;
	/* the spool may be fsynced past the last position read from the source */
	uint64_t source = v->source_lsn > v->durable_lsn ? v->source_lsn : v->durable_lsn;

	out->apply_lag_bytes = behind(v->durable_lsn, v->applied_lsn);
	out->receive_lag_bytes = known ? behind(source, v->durable_lsn) : -1;
	out->lag_bytes = known ? behind(source, v->applied_lsn) : -1;
	out->lag_seconds = -1;
	if (!known)
		return;
	out->lag_seconds = v->source_lag_s;
	if (out->lag_bytes > 0 && v->applied_commit_time > 0)
		out->lag_seconds = now_unix - (PG_EPOCH_OFFSET_S + v->applied_commit_time / 1e6);
	if (out->lag_seconds < 0)
		out->lag_seconds = 0;
}

/* The lag at the moment the source was at lsn (run.source_lag_s). */
static double
lag_at_read(struct run *run, uint64_t lsn)
{
	struct run_cdc_view v;
	struct run_cdc_lag lag;

	run_cdc_view(run, &v);
	v.source_lsn = lsn;
	v.source_lag_s = 0;
	run_cdc_lag(&v, clock_wall_s(), &lag);
	return lag.lag_seconds;
}

void
run_cdc_read_source_lsn(struct run *run)
{
	struct pgs_error err;
	PGresult *res = NULL;
	uint64_t lsn;

	pgs_error_clear(&err);
	if (!run->source_conn)
		run->source_conn = run_connect_source(run, "cdc.lag", &err);
	if (run->source_conn)
		res = pg_query(run->source_conn, "SELECT pg_catalog.pg_current_wal_lsn()::text", 0, NULL,
					   &err);
	if (res && PQntuples(res) == 1 && cdc_lsn_parse(PQgetvalue(res, 0, 0), &lsn)) {
		atomic_store(&run->source_lag_s, lag_at_read(run, lsn));
		atomic_store(&run->source_lsn, lsn);
		run->source_lsn_warned = false;
		PQclear(res);
		return;
	}
	PQclear(res);
	/* said once per outage: the session is opened again on the next tick */
	if (!run->source_lsn_warned) {
		run->source_lsn_warned = true;
		pgs_error_prefix(&err, "could not read the source's WAL position to measure the lag");
		log_report(LOG_WARNING, &err);
	}
	run_cdc_close_source(run);
}

void
run_cdc_close_source(struct run *run)
{
	if (run->source_conn)
		PQfinish(run->source_conn);
	run->source_conn = NULL;
}
