/*
 * The hooks object: one hook_state per hook file, created on the file's
 * first call and kept for its later events (so a hook can keep counters and
 * its connections between events), all closed by hooks_free.
 */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "hooks/hooks_int.h"
#include "util/xalloc.h"

#define DEFAULT_MEM_LIMIT ((size_t) 64 << 20)

struct hooks_config
hooks_config_from_plan(const struct plan *plan)
{
	return (struct hooks_config) {
		.source_uri = plan->source_uri,
		.target_uri = plan->target_uri,
		.allow_shell = plan->hooks.allow_shell,
		.timeout_ms = plan->hooks.timeout_ms,
	};
}

struct hooks *
hooks_new(const struct hooks_config *cfg)
{
	struct hooks *h = xcalloc(1, sizeof(*h));

	h->cfg = *cfg;
	h->cfg.source_uri = cfg->source_uri ? xstrdup(cfg->source_uri) : NULL;
	h->cfg.target_uri = cfg->target_uri ? xstrdup(cfg->target_uri) : NULL;
	if (h->cfg.mem_limit == 0)
		h->cfg.mem_limit = DEFAULT_MEM_LIMIT;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

void
hooks_free(struct hooks *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++) {
		hook_state_close(h->states[i]);
		pthread_mutex_destroy(&h->states[i]->call_lock);
		free(h->states[i]->file);
		free(h->states[i]->dir);
		free(h->states[i]);
	}
	free(h->states);
	free((char *) h->cfg.source_uri);
	free((char *) h->cfg.target_uri);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* The state of file, registered (not yet opened) on first sight; h->lock held. */
static struct hook_state *
state_for(struct hooks *h, const char *file)
{
	struct hook_state *hs;
	char *copy;

	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->states[i]->file, file) == 0)
			return h->states[i];
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 4;
		h->states = xrealloc(h->states, h->cap * sizeof(*h->states));
	}
	hs = xcalloc(1, sizeof(*hs));
	hs->file = xstrdup(file);
	copy = xstrdup(file);
	hs->dir = xstrdup(dirname(copy));
	free(copy);
	pthread_mutex_init(&hs->call_lock, NULL);
	hs->fn_ref = LUA_NOREF;
	hs->mem.limit = h->cfg.mem_limit;
	hs->cfg = &h->cfg;
	h->states[h->n++] = hs;
	return hs;
}

bool
hooks_run(struct hooks *h, const char *file, const struct event *ev, struct pgs_error *err)
{
	struct hook_state *hs;
	bool ok;

	pthread_mutex_lock(&h->lock);
	hs = state_for(h, file);
	pthread_mutex_unlock(&h->lock);
	/* a hook that sleeps or queries holds up only the events of its own file */
	pthread_mutex_lock(&hs->call_lock);
	ok = hook_call(hs, ev, err);
	pthread_mutex_unlock(&hs->call_lock);
	return ok;
}

bool
hooks_compile(const char *file, struct pgs_error *err)
{
	lua_State *L = luaL_newstate();
	bool ok;

	if (!L)
		return pgs_fail(err, "could not create a Lua state: out of memory");
	ok = luaL_loadfilex(L, file, "t") == LUA_OK;
	if (!ok)
		pgs_fail(err, "%s", lua_tostring(L, -1));
	lua_close(L);
	return ok;
}
