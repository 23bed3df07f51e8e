/* Freeing a plan and the small helpers every plan parser shares. */
#include <stdlib.h>

#include "plan/parse_ctx.h"
#include "plan/plan.h"
#include "util/xalloc.h"

void
strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

char *
plan_resolve_path(const struct plan *plan, const char *path)
{
	if (path[0] == '/')
		return xstrdup(path);
	return xasprintf("%s/%s", plan->dir, path);
}

char *
plan_default_spool_dir(const struct plan *plan)
{
	char *rel = plan->name ? xasprintf(".pgshift/%s/spool", plan->name) : xstrdup(PLAN_OLD_SPOOL_DIR);
	char *path = plan_resolve_path(plan, rel);

	free(rel);
	return path;
}

static void
free_filters(struct plan *p)
{
	strlist_free(&p->filters.include_schemas);
	strlist_free(&p->filters.exclude_schemas);
	strlist_free(&p->filters.include_tables);
	strlist_free(&p->filters.exclude_tables);
	strlist_free(&p->filters.exclude_table_data);
	strlist_free(&p->filters.exclude_extensions);
	strlist_free(&p->filters.exclude_object_classes);
}

void
plan_free(struct plan *p)
{
	if (!p)
		return;
	free_filters(p);
	for (size_t i = 0; i < p->schema.nmap; i++) {
		free(p->schema.map[i].source);
		free(p->schema.map[i].target);
	}
	free(p->schema.map);
	for (size_t i = 0; i < p->cutover.nsteps; i++) {
		free(p->cutover.steps[i].lua_file);
		strlist_free(&p->cutover.steps[i].roles);
	}
	free(p->cutover.steps);
	for (size_t i = 0; i < p->hooks.nlua; i++) {
		free(p->hooks.lua[i].file);
		strlist_free(&p->hooks.lua[i].on);
	}
	free(p->hooks.lua);
	for (size_t i = 0; i < p->nnotify; i++) {
		free(p->notify[i].url);
		free(p->notify[i].secret);
		strlist_free(&p->notify[i].on);
	}
	free(p->notify);
	free(p->cdc.slot);
	free(p->cdc.publication);
	free(p->cdc.spool_dir);
	free(p->rollback.slot);
	free(p->rollback.publication);
	free(p->rollback.spool_dir);
	free(p->source_uri);
	free(p->target_uri);
	free(p->name);
	free(p->sha256);
	free(p->dir);
	free(p->file);
	free(p);
}
