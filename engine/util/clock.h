/* Clocks: elapsed time for timeouts and rates, and the wall clock for timestamps. */
#ifndef PGSHIFT_UTIL_CLOCK_H
#define PGSHIFT_UTIL_CLOCK_H

/* Seconds on CLOCK_MONOTONIC. */
double clock_mono_s(void);

/* Seconds since the Unix epoch on CLOCK_REALTIME (event, state and lag timestamps). */
double clock_wall_s(void);

/* Sleeps about MS milliseconds (a signal may end it early: callers re-check their state). */
void clock_sleep_ms(long ms);

#endif
