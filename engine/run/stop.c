/* The signal watcher of apply; see stop.h. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "pg/dump.h"
#include "run/stop.h"
#include "util/log.h"

static sigset_t watched;
static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;    /* guards attached */
static struct run *attached;
static atomic_int first_signal;
static const char *flag_again;      /* set: flag mode (stop_watch_flag) */
static void (*flag_cancel)(void *); /* flag mode: cancels the command's server work; may be NULL */
static void *flag_cancel_arg;

static const char *
signal_name(int sig)
{
	return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

/* The signal's default action: the process ends as if it had never been caught. */
static void
die_by(int sig)
{
	sigset_t one;

	signal(sig, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
}

/* Cancels what the run's steps execute on the servers, and the pg_dump/pg_restore children. */
static void
cancel_work(struct run *run)
{
	struct pgs_error err;

	pgs_error_clear(&err);
	if (!run_end_sessions(run->plan, run->run_id, false, NULL, &err))
		log_report(LOG_WARNING, &err);
	pgtool_kill_children(SIGTERM);
}

static void
first(struct run *run, int sig)
{
	atomic_store(&first_signal, sig);
	atomic_store(&run->cancel, true);
	log_warning("received %s: stopping; no new step starts and running ones are cancelled "
				"on the servers (a second signal exits at once)", signal_name(sig));
	cancel_work(run);
}

/* Flag mode: the command's own loops see stop_signal() and stop at their next safe point. */
static void
first_flag(int sig)
{
	atomic_store(&first_signal, sig);
	log_warning("received %s: stopping at the next safe point (a second signal exits at once)",
				signal_name(sig));
	if (flag_cancel)
		flag_cancel(flag_cancel_arg);
}

static void *
watch(void *arg)
{
	(void) arg;
	for (;;) {
		struct timespec tick = {1, 0};
		bool stopping = atomic_load(&first_signal) != 0;
		int sig = sigtimedwait(&watched, NULL, stopping ? &tick : NULL);

		pthread_mutex_lock(&attach_lock);
		if (sig < 0) {
			/* a step between two statements may have started its next one */
			if (attached && errno == EAGAIN)
				cancel_work(attached);
			else if (flag_cancel && errno == EAGAIN)
				flag_cancel(flag_cancel_arg);
		} else if ((!attached && !flag_again) || stopping) {
			if (stopping)
				log_warning("received %s again: exiting at once; %s", signal_name(sig),
							flag_again ? flag_again : "\"pgshift apply\" resumes the run");
			die_by(sig);
		} else if (attached) {
			first(attached, sig);
		} else {
			first_flag(sig);
		}
		pthread_mutex_unlock(&attach_lock);
	}
	return NULL;
}

bool
stop_watch_start(struct pgs_error *err)
{
	pthread_t thread;
	int rc;

	sigemptyset(&watched);
	sigaddset(&watched, SIGINT);
	sigaddset(&watched, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &watched, NULL);
	rc = pthread_create(&thread, NULL, watch, NULL);
	if (rc != 0) {
		errno = rc;
		return pgs_fail(err, "could not start the signal watcher thread: %m");
	}
	pthread_detach(thread);
	return true;
}

void
stop_watch_attach(struct run *run)
{
	pthread_mutex_lock(&attach_lock);
	attached = run;
	pthread_mutex_unlock(&attach_lock);
}

void
stop_watch_flag(const char *again, void (*cancel)(void *arg), void *arg)
{
	pthread_mutex_lock(&attach_lock);
	flag_again = again;
	flag_cancel = cancel;
	flag_cancel_arg = arg;
	pthread_mutex_unlock(&attach_lock);
	/* a shell starts a background job with SIGINT ignored: then it would be discarded unseen */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
}

int
stop_signal(void)
{
	return atomic_load(&first_signal);
}
