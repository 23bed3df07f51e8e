/*
 * SIGINT and SIGTERM during `apply` (DESIGN.md §4b) and `rollback`. A watcher thread takes
 * both signals (every other thread blocks them). While a run is attached, a
 * first signal stops it: no new step starts (run->cancel), the statements
 * of its steps are cancelled on both servers, again every second until the
 * run detaches, and apply records the run `interrupted`. A second signal,
 * or any signal while no run is attached (nothing to record yet), ends the
 * process at once by the signal's default action.
 */
#ifndef PGSHIFT_RUN_STOP_H
#define PGSHIFT_RUN_STOP_H

#include <stdbool.h>

#include "run/run.h"
#include "util/error.h"

/* Starts the watcher; call before any other thread exists (they inherit the mask). */
bool stop_watch_start(struct pgs_error *err);

/* From now on a first signal stops run; NULL: back to ending the process. */
void stop_watch_attach(struct run *run);

/*
 * For a command without a run (rollback): from now on a first signal is
 * recorded and said, and the command's loops stop at their next safe
 * point when stop_signal() is set; a second one ends the process, its
 * message adding again (what resumes). cancel (may be NULL) is called from
 * the watcher on the first signal and again every second after it, to
 * cancel what the command executes on the servers, until the command
 * calls stop_watch_flag again with NULL (before it records the stop, so
 * that record is not cancelled). Also SIGINT a shell made ignored.
 */
void stop_watch_flag(const char *again, void (*cancel)(void *arg), void *arg);

/* The first signal that stopped an attached run (or a flag-mode command); 0 when none did. */
int stop_signal(void);

#endif
