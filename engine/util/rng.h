/*
 * A per-thread pseudo-random generator for retry jitter and fallback ids:
 * each thread seeds its own state from the kernel (getrandom) on first use,
 * so threads and processes never back off in step, and no lock or shared
 * libc state (random()) is touched. Not for secrets: use RAND_bytes.
 */
#ifndef PGSHIFT_UTIL_RNG_H
#define PGSHIFT_UTIL_RNG_H

#include <stdint.h>

uint64_t rng_next(void);

/* Uniform in [lo, hi] (lo <= hi). */
long rng_between(long lo, long hi);

#endif
