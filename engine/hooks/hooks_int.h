/*
 * What the hook files share (not public): one hook_state per hook file, the
 * C context every pgshift.* function finds in the Lua registry, and the
 * pieces that build a state (allocator, sandbox, library, deadline).
 */
#ifndef PGSHIFT_HOOKS_HOOKS_INT_H
#define PGSHIFT_HOOKS_HOOKS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <libpq-fe.h>
#include <lua.h>

#include "hooks/hooks.h"

/* The Lua-side library (lua/pgshift.lua), embedded by the Makefile. */
extern const char hooks_lua_lib[];
extern const size_t hooks_lua_lib_len;

/* A Lua allocator's account: used never exceeds limit. */
struct hook_mem {
	size_t used;
	size_t limit;
};

enum hook_conn { HOOK_SOURCE, HOOK_TARGET };

/* One hook file's Lua state and everything it owns. */
struct hook_state {
	char *file;                 /* owned; absolute path, the chunk name */
	char *dir;                  /* owned; where require() looks for Lua modules */
	pthread_mutex_t call_lock;  /* one call at a time in this state (a lua_State is not thread-safe) */
	lua_State *L;               /* owned; NULL until first use or after a timeout */
	int fn_ref;                 /* registry ref of the function the file returned */
	struct hook_mem mem;
	bool out_of_memory;         /* the last pcall failed allocating: the state is suspect */
	PGconn *conn[2];            /* owned; opened by the first pgshift.query on each side */
	const struct hooks_config *cfg;     /* the owner's */
	const struct event *ev;     /* the event being delivered, during a call */

	/* the deadline of the current call (hooks.timeout), CLOCK_MONOTONIC */
	bool has_deadline;
	struct timespec deadline;
	bool timed_out;             /* set once; every later instruction raises again */
	char timeout_where[300];    /* "file:line" the script was at when it ran out of time */
};

struct hooks {
	struct hooks_config cfg;    /* source_uri/target_uri owned copies */
	pthread_mutex_t lock;       /* guards states/n/cap; never held during a call */
	struct hook_state **states; /* owned */
	size_t n, cap;
};

/* hook_state.c: a sandboxed state with the pgshift module, the file loaded. */
bool hook_state_open(struct hook_state *hs, struct pgs_error *err);
void hook_state_close(struct hook_state *hs);
/* The hook_state that owns L (kept in L's registry). */
struct hook_state *hook_state_of(lua_State *L);

/* hook_sandbox.c: the allow-listed globals. */
void hook_sandbox_open(lua_State *L);

/* hook_api.c / hook_query.c / hook_exec.c: the pgshift module's C functions. */
void hook_api_register(lua_State *L);
int hook_api_query(lua_State *L);
int hook_api_exec(lua_State *L);

/* hook_deadline.c: hooks.timeout, enforced inside Lua and by the waiting calls. */
void hook_deadline_start(struct hook_state *hs);
void hook_deadline_stop(struct hook_state *hs);
/* Milliseconds left (>= 0), or -1 when the call has no deadline. */
long hook_deadline_left_ms(const struct hook_state *hs);
/* Raises the timeout error (never returns) when the deadline has passed. */
void hook_deadline_check(lua_State *L, struct hook_state *hs);
/* Marks the call timed out and raises (never returns). */
int hook_deadline_raise(lua_State *L, struct hook_state *hs);

/* hook_call.c: runs the file's function for one event. */
bool hook_call(struct hook_state *hs, const struct event *ev, struct pgs_error *err);
/* lua_pcall with a traceback handler; on failure err gets message + traceback. */
bool hook_pcall(struct hook_state *hs, int nargs, int nresults, struct pgs_error *err);

#endif
