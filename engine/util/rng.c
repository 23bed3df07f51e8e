/* See rng.h. xorshift64* (Vigna): small, fast, and good enough for jitter. */
#include <pthread.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/rng.h"

static _Thread_local uint64_t state;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* A forked child would otherwise repeat its parent's sequence. */
static void
forget_in_child(void)
{
	state = 0;
}

static void
register_atfork(void)
{
	pthread_atfork(NULL, NULL, forget_in_child);
}

static void
seed(void)
{
	uint64_t s = 0;

	pthread_once(&atfork_once, register_atfork);
	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t) sizeof(s)) {
		struct timespec ts;

		/* no entropy yet: time, pid and the thread's address still differ per thread */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = (uint64_t) ts.tv_nsec ^ (uint64_t) ts.tv_sec << 32 ^ (uint64_t) getpid() << 16 ^
			(uint64_t) (uintptr_t) &state;
	}
	state = s ? s : 0x9E3779B97F4A7C15u;
}

uint64_t
rng_next(void)
{
	if (state == 0)
		seed();
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545F4914F6CDD1Du;
}

long
rng_between(long lo, long hi)
{
	uint64_t span = (uint64_t) (hi - lo) + 1;

	return lo + (long) (rng_next() % span);
}
