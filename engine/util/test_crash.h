/*
 * Test-only crash points (tests/integration/crash_points.t). The crash test
 * kills apply with SIGKILL at named points, as kill -9, the OOM killer or a
 * lost machine would, to prove that a resume repeats no finished work.
 * Nothing happens unless PGSHIFT_TEST_HOOKS=1 is set beside
 * PGSHIFT_TEST_CRASH_AT=POINT: one stray variable never kills a production
 * run. POINT is "WHERE" or "WHERE:STEP_ID", e.g. "after:schema.pre",
 * "before:copy:public.t#2/3", "copy.mid:copy:public.t#1/3".
 */
#ifndef PGSHIFT_UTIL_TEST_CRASH_H
#define PGSHIFT_UTIL_TEST_CRASH_H

/* SIGKILLs this process when the test asks for this point; step_id may be NULL. */
void test_crash_point(const char *where, const char *step_id);

/*
 * With PGSHIFT_TEST_HOOKS=1, PGSHIFT_TEST_COPY_DELAY_US=N slows every copy
 * to one chunk (a row) per N µs, so a test can watch a copy while it runs.
 * 0 otherwise.
 */
long test_copy_chunk_delay_us(void);

/*
 * With PGSHIFT_TEST_HOOKS=1, PGSHIFT_TEST_COPY_HOLD=PATH and
 * PGSHIFT_TEST_COPY_HOLD_STEP=STEP_ID, the copy of that step waits before its
 * first row while PATH exists, so a test can see what happens while a copy
 * runs for as long as it needs, however fast the machine: PATH for that
 * step, NULL otherwise.
 */
const char *test_copy_hold_path(const char *step_id);

#endif
