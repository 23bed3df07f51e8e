/*
 * schema.pre and schema.post (DESIGN.md §3): the source's DDL as pg_dump
 * writes it, filtered to the plan's objects, restored on the target by
 * pg_restore. Nothing here writes DDL by hand.
 *
 * schema.pre restores the pre-data section (schemas, extensions, types,
 * functions, tables with their validated CHECKs, defaults, sequences,
 * views) in batches of archive entries, each one transaction bounded by
 * the target's lock table (schema_batches.h): a crash leaves whole batches,
 * marked, and the resume restores the rest. schema.post
 * restores what the index and constraint steps do not build: triggers (with
 * their enabled state), rules, policies and row security, statistics
 * objects, event triggers, indexes of materialized views, comments on
 * indexes and constraints, and the data of populated materialized views
 * (REFRESH, from the data section; table rows come from the copy steps).
 * With CDC, the triggers and rules that would fire during replay are then
 * disabled until the cutover (held_triggers.c).
 *
 * Owners and grants: schema.pre first creates the roles the plan lets it
 * create (schema_roles.c); schema.post, once every object exists, sets the
 * owners and ACLs the plan keeps or maps (schema_privs.c).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg/conn.h"
#include "state/state.h"
#include "steps/schema_batches.h"
#include "steps/steps.h"
#include "steps/steps_int.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/xalloc.h"

struct schema_job {
	struct run *run;
	size_t step;
	PGconn *src, *tgt;
	char *dump, *use_list, *script; /* owned: files in run->workdir */
	bool dump_is_saved;             /* dump is the saved post-data archive: kept at close */
	struct toc toc;
	bool *keep;                     /* owned; per toc entry */
	bool *missing;                  /* owned, per catalog table: apply --replan restores
									 * only these; NULL restores everything */
};

static const char target_schemas_sql[] =
	"SELECT '', nspname FROM pg_catalog.pg_namespace";
static const char target_relations_sql[] =
	"SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace";

static bool
job_open(struct schema_job *j, struct run *run, size_t step, const char *base,
		 struct pgs_error *err)
{
	char *list = xasprintf("%s.use", base);
	char *script = xasprintf("%s.sql", base);

	memset(j, 0, sizeof(*j));
	j->run = run;
	j->step = step;
	j->dump = work_file(run, base, err);
	j->use_list = j->dump ? work_file(run, list, err) : NULL;
	j->script = j->use_list ? work_file(run, script, err) : NULL;
	free(list);
	free(script);
	if (!j->script)
		return false;
	j->src = run_connect_source(run, run->dag->steps[step].id, err);
	if (j->src)
		j->tgt = run_connect_target(run, run->dag->steps[step].id, err);
	return j->tgt != NULL;
}

static void
job_close(struct schema_job *j)
{
	PQfinish(j->src);
	PQfinish(j->tgt);
	if (j->dump && !j->dump_is_saved)
		unlink(j->dump);
	if (j->use_list)
		unlink(j->use_list);
	if (j->script)
		unlink(j->script);
	free(j->dump);
	free(j->use_list);
	free(j->script);
	toc_free(&j->toc);
	free(j->keep);
	free(j->missing);
}

/*
 * cdc.ddl: replicate: the dump reads the slot's exported snapshot, so a DDL
 * is either in it or in the stream after the slot's start, never in both;
 * the snapshot is held for schema.post's dump too (apply_plan.c). Without
 * it held (a resume), the dump reads the source as it is. True when the
 * dump reads the snapshot.
 */
static bool
snapshot_arg(struct run *run, struct pgtool_cmd *cmd)
{
	bool held;

	if (!run->plan->cdc.enabled || run->plan->cdc.ddl != DDL_REPLICATE)
		return false;
	pthread_mutex_lock(&run->snapshot_lock);
	held = run->snapshot_conn && run->snapshot[0];
	if (held)
		pgtool_argf(cmd, "--snapshot=%s", run->snapshot);
	pthread_mutex_unlock(&run->snapshot_lock);
	return held;
}

/* Writes the dump of sections to file; *on_snapshot: it read the slot's snapshot. */
static bool
dump_to(struct schema_job *j, const char *file, const char *const *sections,
		bool exclude_table_data, bool *on_snapshot, struct pgs_error *err)
{
	struct pgtool_cmd cmd;
	bool ok, held;

	pgtool_init(&cmd, "pg_dump");
	/* large objects have their own step */
	pgtool_arg(&cmd, "--no-blobs");
	for (const char *const *s = sections; *s; s++)
		pgtool_argf(&cmd, "--section=%s", *s);
	held = snapshot_arg(j->run, &cmd);
	if (on_snapshot)
		*on_snapshot = held;
	ok = dump_common_args(j->run, &cmd, file, err) &&
		dump_filter_args(j->run, j->src, &cmd, err);
	/* rows move by COPY on the snapshot, never through a dump */
	for (size_t t = 0; ok && exclude_table_data && t < j->run->cat->ntables; t++) {
		const struct cat_table *tab = &j->run->cat->tables[t];
		char *p = pgtool_exact_pattern(tab->schema, tab->name);

		pgtool_argf(&cmd, "--exclude-table-data=%s", p);
		free(p);
	}
	if (ok)
		ok = pgtool_run(&cmd, "pg_dump of the source schema failed", err);
	pgtool_free(&cmd);
	return ok;
}

static bool
read_toc(struct schema_job *j, struct pgs_error *err)
{
	if (!toc_list(j->dump, &j->toc, err))
		return false;
	j->keep = xcalloc(j->toc.n ? j->toc.n : 1, sizeof(bool));
	return true;
}

static bool
run_dump(struct schema_job *j, const char *const *sections, bool exclude_table_data,
		 struct pgs_error *err)
{
	return dump_to(j, j->dump, sections, exclude_table_data, NULL, err) && read_toc(j, err);
}

static const char *const post_sections[] = {"data", "post-data", NULL};

/*
 * schema.post's archive as the slot's snapshot shows the source, dumped by
 * schema.pre and kept in the spool directory (cdc.ddl: replicate). A crash
 * loses the snapshot; the resume restores this archive, so it creates
 * exactly what the first run would have: what was made on the source later
 * (a trigger, a key of a table the stream has not created yet) comes with
 * the stream.
 */
static char *
saved_post_path(const struct run *run)
{
	return xasprintf("%s/schema-post.dump", run->plan->cdc.spool_dir);
}

/* Only a dump on the snapshot is saved: one without it (a resume) is not the first run's. */
static bool
save_post_archive(struct schema_job *j, struct pgs_error *err)
{
	char *path = saved_post_path(j->run);
	char *tmp = xasprintf("%s.tmp", path);
	bool on_snapshot = false;
	bool ok = make_dirs(j->run->plan->cdc.spool_dir) == 0 ||
		pgs_fail(err, "could not create spool directory \"%s\": %m", j->run->plan->cdc.spool_dir);

	ok = ok && dump_to(j, tmp, post_sections, true, &on_snapshot, err);

	if (ok && !on_snapshot)
		unlink(tmp);
	else if (ok && rename(tmp, path) != 0)
		ok = pgs_fail(err, "could not rename \"%s\" to \"%s\": %m", tmp, path);
	free(tmp);
	free(path);
	return ok;
}

/* The saved archive, when this run has one (cdc.ddl: replicate); else a new dump. */
static bool
post_dump(struct schema_job *j, struct pgs_error *err)
{
	char *path;

	if (j->run->plan->cdc.enabled && j->run->plan->cdc.ddl == DDL_REPLICATE) {
		path = saved_post_path(j->run);
		if (access(path, R_OK) == 0) {
			log_info("%s: restoring the archive dumped on the replication slot's snapshot (%s)",
					 j->run->dag->steps[j->step].id, path);
			free(j->dump);
			j->dump = path;
			j->dump_is_saved = true;
			return read_toc(j, err);
		}
		free(path);
	}
	return run_dump(j, post_sections, true, err);
}

/*
 * Restores the kept entries in lock-bounded batches (schema_batches.h).
 * counted[i] marks the entries the batches are cut over; resumable runs
 * skip the batches a dead run committed, which requires the same cut on
 * every attempt.
 */
static bool
run_restore(struct schema_job *j, bool clean, const bool *counted, bool resumable,
			struct pgs_error *err)
{
	struct restore_job rj = {
		.run = j->run, .step_id = j->run->dag->steps[j->step].id, .dump = j->dump,
		.list = j->use_list, .script = j->script, .toc = &j->toc, .keep = j->keep,
		.clean = clean, .resumable = resumable,
	};
	struct restore_batches b = {0};
	long budget;
	bool ok = restore_lock_budget(j->tgt, &budget, err);

	if (ok) {
		restore_batches_split(&b, &j->toc, counted ? counted : j->keep, budget);
		if (b.n > 1)
			log_info("%s: restoring %zu archive entries in %zu batches of at most %ld locks "
					 "each", rj.step_id, j->toc.n, b.n, budget);
		ok = restore_in_batches(&rj, &b, err);
	}
	restore_batches_free(&b);
	return ok;
}

/* How many of the catalog's tables the target already has; j->missing marks the others. */
static bool
count_existing_tables(struct schema_job *j, size_t *present, const struct cat_table **one_present,
					  const struct cat_table **one_missing, struct pgs_error *err)
{
	const struct catalog *cat = j->run->cat;
	struct name_set rels = {0};

	if (!name_set_query(&rels, j->tgt, target_relations_sql, err))
		return false;
	*present = 0;
	j->missing = xcalloc(cat->ntables ? cat->ntables : 1, sizeof(bool));
	for (size_t t = 0; t < cat->ntables; t++) {
		if (name_set_has(&rels, cat->tables[t].schema, cat->tables[t].name)) {
			(*present)++;
			*one_present = &cat->tables[t];
		} else {
			*one_missing = &cat->tables[t];
			j->missing[t] = true;
		}
	}
	name_set_free(&rels);
	return true;
}

/*
 * A run that stopped between restore batches left marked batches
 * (schema_batches.h): the restore goes on with the unmarked ones. Without
 * marks, the target holds either none of the tables or all of them (an
 * earlier attempt committed its last batch, or restored in one transaction
 * as older versions did, then stopped before recording the step done).
 * Some but not all means something else created them: pgshift does not
 * guess which to keep.
 */
static bool
already_restored(struct schema_job *j, bool *done, struct pgs_error *err)
{
	const struct catalog *cat = j->run->cat;
	const struct cat_table *in = NULL, *out = NULL;
	size_t present, marked = 0;

	*done = false;
	if (j->run->state && !j->run->replan &&
		!state_batches_done(j->run->state, j->run->dag->steps[j->step].id, NULL, 0, &marked, err))
		return false;
	if (marked > 0)
		return true;
	if (!count_existing_tables(j, &present, &in, &out, err))
		return false;
	if (present == 0) {
		free(j->missing);
		j->missing = NULL;
		return true;
	}
	if (present == cat->ntables) {
		log_info("%s: the target already holds all %zu tables (an earlier attempt restored "
				 "them)", j->run->dag->steps[j->step].id, present);
		*done = true;
		return true;
	}
	if (j->run->replan)
		return true;
	pgs_fail(err, "the target already holds %zu of the %zu tables to restore (\"%s\".\"%s\" is "
			 "there, \"%s\".\"%s\" is not)", present, cat->ntables, in->schema, in->name,
			 out->schema, out->name);
	pgs_error_hint(err, "drop them from the target (pgshift reset) or restore into an empty "
				   "database");
	return false;
}

/* Keeps every entry except CREATE SCHEMA of schemas the target has (e.g. public). */
static bool
select_pre_entries(struct schema_job *j, struct name_set *existing, struct pgs_error *err)
{
	if (!name_set_query(existing, j->tgt, target_schemas_sql, err))
		return false;
	for (size_t i = 0; i < j->toc.n; i++) {
		const struct toc_entry *e = &j->toc.items[i];

		j->keep[i] = dump_keep_entry(j->run->plan, j->run->cat, e);
		if (e->desc && strcmp(e->desc, "SCHEMA") == 0)
			for (size_t s = 0; s < j->run->cat->nschemas; s++)
				if (name_set_has(existing, "", j->run->cat->schemas[s]) &&
					toc_names(e, NULL, j->run->cat->schemas[s]))
					j->keep[i] = false;
	}
	return true;
}

/* Whether entry e creates new table t, a column default of it, or a sequence it owns. */
static bool
belongs_to_table(const struct catalog *cat, const struct toc_entry *e, const struct cat_table *t)
{
	if (strcmp(e->desc, "TABLE") == 0 || strcmp(e->desc, "DEFAULT") == 0)
		return toc_names(e, t->schema, t->name);
	if (strcmp(e->desc, "SEQUENCE") != 0 && strcmp(e->desc, "SEQUENCE OWNED BY") != 0)
		return false;
	for (size_t s = 0; s < cat->nsequences; s++) {
		const struct cat_sequence *q = &cat->sequences[s];

		if (q->owner_table && strcmp(q->owner_schema, t->schema) == 0 &&
			strcmp(q->owner_table, t->name) == 0 && toc_names(e, q->schema, q->name))
			return true;
	}
	return false;
}

/*
 * apply --replan after schema.pre: only the tables the target lacks (new
 * in the source since the run began), their defaults and owned sequences;
 * schema_replan_needs adds the objects they use that are new as well.
 */
static void
select_new_table_entries(struct schema_job *j)
{
	const struct catalog *cat = j->run->cat;

	for (size_t i = 0; i < j->toc.n; i++) {
		const struct toc_entry *e = &j->toc.items[i];

		j->keep[i] = false;
		for (size_t t = 0; e->desc && t < cat->ntables && !j->keep[i]; t++)
			j->keep[i] = j->missing[t] && belongs_to_table(cat, e, &cat->tables[t]);
	}
}

static bool
restore_new_tables(struct schema_job *j, struct pgs_error *err)
{
	static const char *const sections[] = {"pre-data", NULL};
	const struct catalog *cat = j->run->cat;
	bool ok;

	ok = run_dump(j, sections, false, err);
	if (ok)
		select_new_table_entries(j);
	ok = ok && schema_replan_needs(j->run, j->src, j->tgt, j->missing, &j->toc, j->keep, err) &&
		run_restore(j, false, NULL, false, err);
	for (size_t t = 0; ok && t < cat->ntables; t++)
		if (j->missing[t])
			log_info("%s: --replan: created new table %s.%s on the target",
					 j->run->dag->steps[j->step].id, cat->tables[t].schema, cat->tables[t].name);
	return ok;
}

/*
 * The baseline is taken before the first restore; what appeared since goes
 * into the manifest after each restore, also when an earlier attempt's
 * restore committed and its process died before recording it.
 */
static bool
schema_pre(struct schema_job *j, struct pgs_error *err)
{
	static const char *const sections[] = {"pre-data", NULL};
	struct name_set schemas = {0};
	bool *counted = NULL;
	bool done, ok;

	if (!already_restored(j, &done, err))
		return false;
	if (done || j->run->cat->nschemas == 0)
		return steps_record_created(j->run, err);
	if (j->missing)
		return schema_roles_create(j->run, j->src, j->tgt, err) && restore_new_tables(j, err) &&
			steps_record_created(j->run, err);
	ok = (!j->run->state || state_manifest_baseline(j->run->state, err)) &&
		schema_roles_create(j->run, j->src, j->tgt, err) &&
		run_dump(j, sections, false, err) &&
		(!j->run->plan->cdc.enabled || j->run->plan->cdc.ddl != DDL_REPLICATE ||
		 save_post_archive(j, err)) &&
		select_pre_entries(j, &schemas, err);
	/* batches are cut over every entry, whatever the target has, so each attempt cuts alike */
	if (ok) {
		counted = xcalloc(j->toc.n ? j->toc.n : 1, sizeof(bool));
		for (size_t i = 0; i < j->toc.n; i++)
			counted[i] = dump_keep_entry(j->run->plan, j->run->cat, &j->toc.items[i]);
	}
	ok = ok && run_restore(j, false, counted, true, err) && steps_record_created(j->run, err);
	free(counted);
	name_set_free(&schemas);
	return ok;
}

bool
step_schema_pre(struct run *run, size_t step, struct pgs_error *err)
{
	struct schema_job j;
	bool ok = job_open(&j, run, step, "schema-pre.dump", err) && schema_pre(&j, err);

	job_close(&j);
	return ok || step_failed(run, step, err);
}

/* pg_constraint oids on the source of the constraints the constraint steps build. */
static const char source_constraints_sql[] =
	"SELECT n.nspname, t.relname, c.conname, c.oid FROM pg_catalog.pg_constraint c"
	" JOIN pg_catalog.pg_class t ON t.oid = c.conrelid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace";

/*
 * A constraint with its own step, or a partition's copy of a key, which its
 * parent's step attaches (see step_constraint.c).
 */
static bool *
constraints_built_by_steps(const struct run *run)
{
	const struct catalog *cat = run->cat;
	bool *built = xcalloc(cat->nconstraints ? cat->nconstraints : 1, sizeof(bool));

	for (size_t s = 0; s < run->dag->n; s++)
		if (run->dag->steps[s].kind == STEP_CONSTRAINT && run->dag->steps[s].object >= 0)
			built[run->dag->steps[s].object] = true;
	for (size_t k = 0; k < cat->nconstraints; k++) {
		const struct cat_constraint *c = &cat->constraints[k];

		if (c->inherited && (c->type == 'p' || c->type == 'u') && c->index >= 0 &&
			cat->indexes[c->index].parent >= 0)
			built[k] = true;
	}
	return built;
}

static bool
built_constraint_oids(struct schema_job *j, struct name_set *oids, struct pgs_error *err)
{
	const struct catalog *cat = j->run->cat;
	bool *built = constraints_built_by_steps(j->run);
	struct name_set names = {0};
	PGresult *res;

	for (size_t k = 0; k < cat->nconstraints; k++)
		if (built[k]) {
			const struct cat_table *t = &cat->tables[cat->constraints[k].table];
			char *tn = xasprintf("%s\x1f%s", t->schema, t->name);

			name_set_add(&names, tn, cat->constraints[k].name);
			free(tn);
		}
	name_set_sort(&names);
	free(built);
	res = pg_query(j->src, source_constraints_sql, 0, NULL, err);
	for (int r = 0; res && r < PQntuples(res); r++) {
		char *tn = xasprintf("%s\x1f%s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));

		if (name_set_has(&names, tn, PQgetvalue(res, r, 2)))
			name_set_add(oids, "", PQgetvalue(res, r, 3));
		free(tn);
	}
	name_set_sort(oids);
	name_set_free(&names);
	PQclear(res);
	return res != NULL;
}

static bool
is_catalog_index_oid(const struct catalog *cat, uint32_t oid)
{
	for (size_t i = 0; i < cat->nindexes; i++)
		if (cat->indexes[i].oid == oid)
			return true;
	return false;
}

static bool
is_attached_catalog_index(const struct catalog *cat, const struct toc_entry *e)
{
	for (size_t i = 0; i < cat->nindexes; i++)
		if (cat->indexes[i].parent >= 0 &&
			toc_names(e, cat->indexes[i].schema, cat->indexes[i].name))
			return true;
	return false;
}

static bool
is_desc(const struct toc_entry *e, const char *desc)
{
	return e->desc && strcmp(e->desc, desc) == 0;
}

/*
 * Whether a post-data (or data) entry is restored here. Left out: table rows
 * and large objects (their own steps), sequence values (set at cutover), and
 * the indexes, keys, checks and FKs the index and constraint steps build.
 * Indexes pg_dump writes for objects outside the catalog (materialized
 * views) stay.
 */
static bool
keep_post_entry(const struct catalog *cat, const struct name_set *con_oids,
				const struct toc_entry *e)
{
	char oid[16];

	if (is_desc(e, "TABLE DATA") || is_desc(e, "SEQUENCE SET") || is_desc(e, "BLOB") ||
		is_desc(e, "BLOBS"))
		return false;
	if (is_desc(e, "INDEX"))
		return !is_catalog_index_oid(cat, e->oid);
	if (is_desc(e, "INDEX ATTACH"))
		return !is_attached_catalog_index(cat, e);
	if (is_desc(e, "CONSTRAINT") || is_desc(e, "CHECK CONSTRAINT") ||
		is_desc(e, "FK CONSTRAINT")) {
		snprintf(oid, sizeof(oid), "%u", e->oid);
		return !name_set_has(con_oids, "", oid);
	}
	return true;
}

/*
 * Replica identities as the catalog read them before pgshift changed any on
 * the source for CDC (step_snapshot_cdc.c): the dump shows the changed ones,
 * and USING INDEX is written with the key by pg_dump, which the steps replace.
 */
static const char target_identity_sql[] =
	"SELECT n.nspname, c.relname, c.relreplident FROM pg_catalog.pg_class c"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')";

static const char *
identity_clause(char replident)
{
	switch (replident) {
	case 'n':
		return "NOTHING";
	case 'f':
		return "FULL";
	default:
		return "DEFAULT";
	}
}

static bool
set_replica_identity(struct schema_job *j, const struct cat_table *t, struct pgs_error *err)
{
	char *qt = pg_quote_qualified(j->tgt, t->schema, t->name);
	char *qi = t->replident == 'i' ? pg_quote_ident(j->tgt, t->replident_index) : NULL;
	char *sql = qi ? xasprintf("ALTER TABLE ONLY %s REPLICA IDENTITY USING INDEX %s", qt, qi)
		: xasprintf("ALTER TABLE ONLY %s REPLICA IDENTITY %s", qt, identity_clause(t->replident));
	bool ok = pg_exec(j->tgt, sql, 0, NULL, err);

	if (!ok)
		pgs_error_prefix(err, "could not set the replica identity of \"%s\".\"%s\"", t->schema,
						 t->name);
	free(sql);
	free(qt);
	free(qi);
	return ok;
}

static bool
replica_identities(struct schema_job *j, struct pgs_error *err)
{
	const struct catalog *cat = j->run->cat;
	PGresult *res = pg_query(j->tgt, target_identity_sql, 0, NULL, err);
	struct name_set as_wanted = {0}, present = {0};
	bool ok = res != NULL;
	bool ddl = j->run->plan->cdc.enabled && j->run->plan->cdc.ddl == DDL_REPLICATE;

	for (int r = 0; ok && r < PQntuples(res); r++) {
		char *key = xasprintf("%s\x1f%c", PQgetvalue(res, r, 1), PQgetvalue(res, r, 2)[0]);

		name_set_add(&as_wanted, PQgetvalue(res, r, 0), key);
		name_set_add(&present, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
		free(key);
	}
	name_set_sort(&as_wanted);
	name_set_sort(&present);
	for (size_t i = 0; ok && i < cat->ntables; i++) {
		const struct cat_table *t = &cat->tables[i];
		char *key = xasprintf("%s\x1f%c", t->name, t->replident);
		bool same = t->replident != 'i' && name_set_has(&as_wanted, t->schema, key);

		free(key);
		/* a resume's catalog has the tables made on the source since: the stream brings them */
		if (ddl && !name_set_has(&present, t->schema, t->name))
			continue;
		if (!same && (t->replident != 'i' || t->replident_index))
			ok = set_replica_identity(j, t, err);
	}
	PQclear(res);
	name_set_free(&as_wanted);
	name_set_free(&present);
	return ok;
}

/*
 * --clean --if-exists inside the single transaction: a second run drops and
 * recreates exactly the entries it restores (triggers, rules, policies...),
 * never a table, so it is safe to repeat.
 */
static bool
schema_post(struct schema_job *j, struct pgs_error *err)
{
	struct name_set con_oids = {0};
	bool ok;

	if (j->run->cat->nschemas == 0)
		return true;
	ok = post_dump(j, err);
	if (j->run->plan->cdc.enabled && j->run->plan->cdc.ddl == DDL_REPLICATE)
		run_release_snapshot(j->run);
	ok = ok && built_constraint_oids(j, &con_oids, err);
	for (size_t i = 0; ok && i < j->toc.n; i++)
		j->keep[i] = dump_keep_entry(j->run->plan, j->run->cat, &j->toc.items[i]) &&
			keep_post_entry(j->run->cat, &con_oids, &j->toc.items[i]);
	name_set_free(&con_oids);
	return ok && run_restore(j, true, NULL, false, err) && steps_record_created(j->run, err) &&
		replica_identities(j, err) && schema_privs_apply(j->run, j->src, j->tgt, err) &&
		steps_record_created(j->run, err) &&
		(!j->run->plan->cdc.enabled || held_triggers_disable(j->tgt, j->run->plan->name, err));
}

bool
step_schema_post(struct run *run, size_t step, struct pgs_error *err)
{
	struct schema_job j;
	bool ok = job_open(&j, run, step, "schema-post.dump", err) && schema_post(&j, err);

	job_close(&j);
	return ok || step_failed(run, step, err);
}
