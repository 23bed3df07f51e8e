/* Elapsed time for timeouts and rates: a clock no wall-clock change moves. */
#ifndef PGSHIFT_UTIL_CLOCK_H
#define PGSHIFT_UTIL_CLOCK_H

/* Seconds on CLOCK_MONOTONIC. */
double clock_mono_s(void);

#endif
