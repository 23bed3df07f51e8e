/*
 * A statement that may wait on the server for a long time without saying
 * why (CREATE_REPLICATION_SLOT waits for every transaction that holds an
 * xid): sent asynchronously and polled, so the caller can look at what it
 * waits for, say so, and give up.
 */
#ifndef PGSHIFT_PG_AWAIT_H
#define PGSHIFT_PG_AWAIT_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "util/error.h"

/*
 * Called every poll_ms while the statement has not answered; false (with
 * err filled) gives up: the statement is cancelled on the server.
 */
typedef bool (*pg_await_fn)(void *arg, struct pgs_error *err);

/*
 * Sends sql (no parameters: replication commands take none) and returns
 * its last result, whatever its status, for the caller to check; NULL
 * with err when it could not be sent or read, or waiting gave up.
 */
PGresult *pg_await(PGconn *conn, const char *sql, int poll_ms, pg_await_fn waiting, void *arg,
				   struct pgs_error *err);

#endif
