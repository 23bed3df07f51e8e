/*
 * Helpers of the DDL steps; see steps_int.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pg/conn.h"
#include "pg/dump_classes.h"
#include "plan/object_class.h"
#include "steps/steps_int.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

bool
step_failed(struct run *run, size_t step, struct pgs_error *err)
{
	const char *id = run->dag->steps[step].id;

	snprintf(err->step, sizeof(err->step), "%s", id);
	pgs_error_prefix(err, "step %s", id);
	return false;
}

bool
steps_record(struct run *run, const char *kind, const char *schema, const char *name,
			 struct pgs_error *err)
{
	if (!run->state)
		return true;
	return state_record_object(run->state, kind, schema, name, err);
}

bool
steps_record_created(struct run *run, struct pgs_error *err)
{
	return !run->state || state_manifest_record(run->state, err);
}

static char *
name_key(const char *schema, const char *name)
{
	return xasprintf("%s\x1f%s", schema ? schema : "", name);
}

static int
cmp_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

void
name_set_add(struct name_set *s, const char *schema, const char *name)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->keys = xrealloc(s->keys, s->cap * sizeof(char *));
	}
	s->keys[s->n++] = name_key(schema, name);
}

void
name_set_sort(struct name_set *s)
{
	if (s->n > 1)
		qsort(s->keys, s->n, sizeof(char *), cmp_keys);
}

bool
name_set_has(const struct name_set *s, const char *schema, const char *name)
{
	char *key = name_key(schema, name);
	bool found = s->n > 0 && bsearch(&key, s->keys, s->n, sizeof(char *), cmp_keys) != NULL;

	free(key);
	return found;
}

void
name_set_free(struct name_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->keys[i]);
	free(s->keys);
	memset(s, 0, sizeof(*s));
}

bool
name_set_query(struct name_set *s, PGconn *conn, const char *sql, struct pgs_error *err)
{
	PGresult *res = pg_query(conn, sql, 0, NULL, err);

	if (!res)
		return false;
	for (int r = 0; r < PQntuples(res); r++)
		name_set_add(s, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
	PQclear(res);
	name_set_sort(s);
	return true;
}

/* Every relation pg_dump could dump on its own, of a user schema (as the catalog reads them). */
static const char source_relations_sql[] =
	"SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND c.relpersistence <> 't'"
	" AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT IN ('information_schema', 'pgshift')"
	" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e"
	"  WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"  AND e.objid = c.oid AND e.deptype = 'e')";

static void
catalog_relations(const struct catalog *cat, struct name_set *kept, struct name_set *schemas)
{
	for (size_t i = 0; i < cat->ntables; i++)
		name_set_add(kept, cat->tables[i].schema, cat->tables[i].name);
	for (size_t i = 0; i < cat->nviews; i++)
		name_set_add(kept, cat->views[i].schema, cat->views[i].name);
	for (size_t i = 0; i < cat->nsequences; i++)
		name_set_add(kept, cat->sequences[i].schema, cat->sequences[i].name);
	for (size_t i = 0; i < cat->nschemas; i++)
		name_set_add(schemas, NULL, cat->schemas[i]);
	name_set_sort(kept);
	name_set_sort(schemas);
}

/* Every schema of the source pg_dump would dump, as the catalog reads them. */
static const char source_schemas_sql[] =
	"SELECT '', nspname FROM pg_catalog.pg_namespace"
	" WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'";

static void
exclude_pattern(struct pgtool_cmd *cmd, const char *option, const char *schema,
				const char *name)
{
	char *p = pgtool_exact_pattern(schema, name);

	pgtool_argf(cmd, "%s=%s", option, p);
	free(p);
}

/*
 * Only exclusions, never --schema or --extension: either switch makes
 * pg_dump leave out every object outside a schema (casts, transforms,
 * access methods, foreign-data wrappers, servers, user mappings, event
 * triggers, languages), which the migrated schemas may need. Extensions the
 * filters leave out are dropped from the archive's list (dump_keep_entry).
 */
bool
dump_filter_args(struct run *run, PGconn *src, struct pgtool_cmd *cmd, struct pgs_error *err)
{
	const struct catalog *cat = run->cat;
	struct name_set kept = {0}, schemas = {0}, all = {0};
	PGresult *res;
	bool ok = name_set_query(&all, src, source_schemas_sql, err);

	catalog_relations(cat, &kept, &schemas);
	/*
	 * pgshift's own schema, whatever the source had when it was listed: the
	 * snapshot step may create it (cdc.ddl: replicate) while this dump starts
	 */
	exclude_pattern(cmd, "--exclude-schema", "pgshift", NULL);
	for (size_t i = 0; ok && i < all.n; i++) {
		const char *s = strchr(all.keys[i], '\x1f') + 1;

		if (!name_set_has(&schemas, NULL, s))
			exclude_pattern(cmd, "--exclude-schema", s, NULL);
	}
	res = ok ? pg_query(src, source_relations_sql, 0, NULL, err) : NULL;
	for (int r = 0; res && r < PQntuples(res); r++) {
		const char *s = PQgetvalue(res, r, 0), *n = PQgetvalue(res, r, 1);

		if (name_set_has(&schemas, NULL, s) && !name_set_has(&kept, s, n))
			exclude_pattern(cmd, "--exclude-table", s, n);
	}
	ok = res != NULL;
	PQclear(res);
	name_set_free(&kept);
	name_set_free(&schemas);
	name_set_free(&all);
	return ok;
}

static bool
kept_extension(const struct catalog *cat, const char *name)
{
	for (size_t i = 0; i < cat->nextensions; i++)
		if (strcmp(cat->extensions[i].name, name) == 0)
			return true;
	return false;
}

/* A user mapping's password stays on the source: preflight names the mapping. */
static bool
mapping_with_password(const struct catalog *cat, const struct toc_entry *e)
{
	for (size_t i = 0; i < cat->nglobals; i++) {
		const char *tag = cat->globals[i].dump_tag;
		size_t len = tag ? strlen(tag) : 0;

		if (cat->globals[i].has_password && tag && strncmp(e->rest, "- ", 2) == 0 &&
			strncmp(e->rest + 2, tag, len) == 0 && e->rest[2 + len] == ' ')
			return true;
	}
	return false;
}

/* pgshift's own publications, their members and comments stay on the source. */
static bool
keep_publication_entry(const struct plan *plan, const struct catalog *cat,
					   const struct toc_entry *e)
{
	return toc_object_class(e) != OBJ_PUBLICATIONS ||
		!toc_publication_is_pgshifts(e, plan ? plan->cdc.publication : NULL, cat->schemas,
									 cat->nschemas);
}

/*
 * pgshift's DDL capture (cdc.ddl: replicate) stays on the source:
 * "pgshift_ddl_capture_*", a name without spaces, so the tag's first word.
 */
static bool
capture_trigger_entry(const struct toc_entry *e)
{
	char *name = strcmp(e->desc, "EVENT TRIGGER") == 0 ? toc_tag(e, "") :
		strcmp(e->desc, "COMMENT") == 0 ? toc_tag_ident(e, "EVENT TRIGGER ") : NULL;
	bool ours = name && strncmp(name, "pgshift_ddl_capture_", strlen("pgshift_ddl_capture_")) == 0;

	free(name);
	return ours;
}

/* An EXTENSION entry's tag is the name as is ("- my ext OWNER"), its comment's an identifier. */
static bool
keep_extension_entry(const struct catalog *cat, const struct toc_entry *e)
{
	char *name;
	bool keep;

	if (strcmp(e->desc, "EXTENSION") == 0) {
		for (size_t i = 0; i < cat->nextensions; i++)
			if (toc_names(e, NULL, cat->extensions[i].name))
				return true;
		return false;
	}
	name = toc_tag_ident(e, "EXTENSION ");
	keep = !name || kept_extension(cat, name);
	free(name);
	return keep;
}

bool
dump_keep_entry(const struct plan *plan, const struct catalog *cat, const struct toc_entry *e)
{
	if (!e->desc)
		return true;
	if (capture_trigger_entry(e))
		return false;
	if (plan_excludes_class(plan, toc_object_class(e)))
		return false;
	if (!keep_publication_entry(plan, cat, e))
		return false;
	if (strcmp(e->desc, "USER MAPPING") == 0)
		return !mapping_with_password(cat, e);
	if (strcmp(e->desc, "EXTENSION") == 0 || strcmp(e->desc, "COMMENT") == 0)
		return keep_extension_entry(cat, e);
	return true;
}

/*
 * Subscriptions are never moved: one copied to the target would start
 * replicating into it. Publications are (schema.post), but pgshift's own,
 * which live on the source for CDC (dump_keep_entry).
 */
bool
dump_common_args(struct run *run, struct pgtool_cmd *cmd, const char *file,
				 struct pgs_error *err)
{
	pgtool_arg(cmd, "--format=custom");
	pgtool_argf(cmd, "--file=%s", file);
	pgtool_arg(cmd, "--no-subscriptions");
	return pgtool_dbname(cmd, run->plan->source_uri, err);
}

/*
 * --no-owner --no-privileges: objects belong to the role pgshift connects as,
 * so a target role that is not a superuser (the usual case on managed
 * services) can restore, copy and index; schema.post then sets the owners
 * and grants the plan's schema keys keep (schema_privs.c), from the catalog
 * rather than from pg_dump's text, so roles can be mapped.
 * --no-tablespaces: the target's storage layout is its own.
 */
void
restore_script_args(struct pgtool_cmd *cmd)
{
	pgtool_arg(cmd, "--no-owner");
	pgtool_arg(cmd, "--no-privileges");
	pgtool_arg(cmd, "--no-tablespaces");
}

bool
restore_common_args(struct run *run, struct pgtool_cmd *cmd, struct pgs_error *err)
{
	restore_script_args(cmd);
	pgtool_arg(cmd, "--exit-on-error");
	return pgtool_dbname(cmd, run->plan->target_uri, err);
}

char *
work_file(struct run *run, const char *name, struct pgs_error *err)
{
	if (run->workdir[0] == '\0') {
		pgs_fail(err, "no work directory for dump files");
		return NULL;
	}
	if (mkdir(run->workdir, 0700) != 0 && errno != EEXIST) {
		pgs_fail(err, "could not create directory \"%s\": %m", run->workdir);
		return NULL;
	}
	return xasprintf("%s/%s", run->workdir, name);
}

bool
toc_list(const char *dump, struct toc *toc, struct pgs_error *err)
{
	struct pgtool_cmd cmd;
	char *list = xasprintf("%s.list", dump);
	char *text = NULL;
	bool ok;

	pgtool_init(&cmd, "pg_restore");
	pgtool_arg(&cmd, "--list");
	pgtool_argf(&cmd, "--file=%s", list);
	pgtool_arg(&cmd, dump);
	ok = pgtool_run(&cmd, "could not list the dump", err);
	if (ok)
		ok = (text = read_file_text(list, err)) != NULL;
	if (ok)
		toc_parse(toc, text);
	unlink(list);
	free(text);
	free(list);
	pgtool_free(&cmd);
	return ok;
}

bool
toc_write_kept(const struct toc *toc, const bool *keep, const char *path,
			   struct pgs_error *err)
{
	struct buf b;
	bool ok;

	buf_init(&b);
	for (size_t i = 0; i < toc->n; i++)
		if (keep[i])
			buf_printf(&b, "%s\n", toc->items[i].line);
	ok = write_file_text(path, b.data ? b.data : "", err);
	buf_free(&b);
	return ok;
}

long
cat_constraint_of_index(const struct catalog *cat, long i)
{
	for (size_t k = 0; k < cat->nconstraints; k++)
		if (cat->constraints[k].index == i)
			return (long) k;
	return -1;
}

/*
 * maintenance_work_mem of an index, constraint or vacuum session, from the
 * target's memory: index builds and constraint checks sort whole tables, and
 * the server default (64MB) makes a large build spill to disk many times
 * over, while index_jobs sessions may each hold the setting at once. SQL
 * cannot read the server's RAM, so it is estimated from what its settings
 * assume: shared_buffers is commonly a quarter of it, effective_cache_size
 * (default 4GB) half to three quarters (managed services derive both from the
 * instance's memory). A quarter of that estimate is shared by the index_jobs
 * sessions, never less than the server's own setting, at most 2GB each (a
 * larger sort gains little).
 */
static const char ddl_session_sql[] =
	"SELECT pg_catalog.set_config('maintenance_work_mem',"
	" greatest(m.kb, least(2097152, greatest(s.kb, e.kb / 3) / $1::int))::text || 'kB', false)"
	" FROM (SELECT reset_val::bigint AS kb FROM pg_catalog.pg_settings"
	"       WHERE name = 'maintenance_work_mem') m,"
	"      (SELECT setting::bigint * 8 AS kb FROM pg_catalog.pg_settings"
	"       WHERE name = 'shared_buffers') s,"
	"      (SELECT setting::bigint * 8 AS kb FROM pg_catalog.pg_settings"
	"       WHERE name = 'effective_cache_size') e";

static const char set_mem_sql[] =
	"SELECT pg_catalog.set_config('maintenance_work_mem', $1, false)";

static pthread_mutex_t ddl_mem_lock = PTHREAD_MUTEX_INITIALIZER;   /* guards run->ddl_mem */

/*
 * The first session of a run computes the setting; the others set the
 * value it got: ddl_session_sql reads pg_settings three times, 3 ms of
 * the target's CPU for each of the ~50 DDL steps of issue 20's FK set.
 */
bool
steps_ddl_session(struct run *run, PGconn *conn, struct pgs_error *err)
{
	int index_jobs = run->plan->copy.index_jobs;
	char jobs[16], mem[sizeof(run->ddl_mem)];
	const char *params[1];
	PGresult *res;

	pthread_mutex_lock(&ddl_mem_lock);
	memcpy(mem, run->ddl_mem, sizeof(mem));
	pthread_mutex_unlock(&ddl_mem_lock);
	snprintf(jobs, sizeof(jobs), "%d", index_jobs > 0 ? index_jobs : 1);
	params[0] = mem[0] ? mem : jobs;
	res = pg_query(conn, mem[0] ? set_mem_sql : ddl_session_sql, 1, params, err);
	if (!res)
		return false;
	log_debug("target session: maintenance_work_mem = %s", PQgetvalue(res, 0, 0));
	pthread_mutex_lock(&ddl_mem_lock);
	if (!run->ddl_mem[0])
		snprintf(run->ddl_mem, sizeof(run->ddl_mem), "%s", PQgetvalue(res, 0, 0));
	pthread_mutex_unlock(&ddl_mem_lock);
	PQclear(res);
	return true;
}
