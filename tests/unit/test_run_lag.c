/*
 * The one definition of lag (run_cdc.h): bytes from the source's position,
 * seconds from the last applied commit while behind, and under a steady
 * load, when a later applied LSN has passed the position last read, the
 * seconds measured at that read instead of 0.
 */
#include <math.h>

#include "run/run_cdc.h"
#include "tap.h"

#define PG_EPOCH_OFFSET_S 946684800.0

static bool
near(double got, double want)
{
	return fabs(got - want) < 1e-6;
}

int
main(void)
{
	/* the last applied source commit: 2026-01-01 00:00:00 UTC */
	int64_t commit_us = INT64_C(820454400) * 1000000;
	double commit_unix = PG_EPOCH_OFFSET_S + 820454400.0;
	struct run_cdc_view v = {true, true, 0x3000, 0x2000, 0x1000, commit_us, 0.25};
	struct run_cdc_lag lag;

	run_cdc_lag(&v, commit_unix + 1.5, &lag);
	is_int(lag.lag_bytes, 0x2000, "behind: bytes from the source's position");
	is_int(lag.receive_lag_bytes, 0x1000, "receive lag");
	is_int(lag.apply_lag_bytes, 0x1000, "apply lag");
	ok(near(lag.lag_seconds, 1.5), "behind: seconds since the last applied commit");

	v.applied_lsn = 0x3800;
	run_cdc_lag(&v, commit_unix + 1.5, &lag);
	is_int(lag.lag_bytes, 0, "applied past the position last read: no bytes behind");
	ok(near(lag.lag_seconds, 0.25), "and the seconds measured when it was read, not 0");

	v.source_lag_s = 0;
	run_cdc_lag(&v, commit_unix + 1.5, &lag);
	ok(near(lag.lag_seconds, 0), "caught up when it was read: 0");

	v.source_lsn = 0;
	run_cdc_lag(&v, commit_unix + 1.5, &lag);
	ok(lag.lag_bytes == -1 && lag.lag_seconds < 0, "source position unknown: both unknown");
	return done_testing();
}
