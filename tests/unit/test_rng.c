/*
 * Retry jitter: every thread and every process draws its own sequence (the
 * old shared, unseeded random() made every pgshift back off in step), and
 * the notifier's backoff stays inside its documented window.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "notify/notify_int.h"
#include "util/rng.h"
#include "tap.h"

static void *
first_value(void *out)
{
	*(uint64_t *) out = rng_next();
	return NULL;
}

static uint64_t
child_first_value(void)
{
	int fds[2];
	uint64_t v = 0;
	pid_t pid;

	if (pipe(fds) != 0)
		return 0;
	fflush(stdout);     /* the child must not print the parent's buffered TAP lines again */
	pid = fork();
	if (pid == 0) {
		v = rng_next();
		_exit(write(fds[1], &v, sizeof(v)) == (ssize_t) sizeof(v) ? 0 : 1);
	}
	close(fds[1]);
	if (read(fds[0], &v, sizeof(v)) != (ssize_t) sizeof(v))
		v = 0;
	close(fds[0]);
	waitpid(pid, NULL, 0);
	return v;
}

int
main(void)
{
	uint64_t a = 0, b = 0;
	pthread_t t1, t2;
	bool in_range = true, varies = false;
	long first = backoff_ms(3);

	pthread_create(&t1, NULL, first_value, &a);
	pthread_create(&t2, NULL, first_value, &b);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	ok(a != b, "two threads draw different first values");
	ok(child_first_value() != child_first_value(), "two processes draw different first values");
	for (int i = 0; i < 1000; i++) {
		long v = rng_between(5, 9), ms = backoff_ms(3);

		in_range &= v >= 5 && v <= 9;
		varies |= ms != first;
	}
	ok(in_range, "rng_between stays within its bounds");
	ok(varies, "backoff_ms(3) is jittered");
	for (int n = 1; n <= 12; n++) {
		/* the notifier's steps: 500 ms doubling, capped at 8 s */
		long step = n >= 5 ? 8000 : 500L << (n - 1), ms = backoff_ms(n);
		char label[80];

		snprintf(label, sizeof(label), "backoff_ms(%d) = %ld is within [%ld, %ld]", n, ms, step / 2, step);
		ok(ms >= step / 2 && ms <= step, label);
	}
	return done_testing();
}
