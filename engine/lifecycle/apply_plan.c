/* apply: see apply_plan.h. Each phase is one function; apply_plan strings them. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/cdc_slot.h"
#include "cdc/spool_owner.h"
#include "lifecycle/apply_plan.h"
#include "lifecycle/saved_plan.h"
#include "lifecycle/scheduler.h"
#include "metrics/metrics.h"
#include "pg/conn.h"
#include "preflight/preflight.h"
#include "run/progress.h"
#include "run/run.h"
#include "run/run_cdc.h"
#include "run/run_dag.h"
#include "run/run_events.h"
#include "run/stop.h"
#include "steps/steps.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/xalloc.h"

struct apply {
	const struct plan *plan;
	const struct apply_options *opts;
	struct state *state;
	PGconn *src, *dst;
	struct catalog cat;
	struct dag dag;
	struct run run;
	struct run_state prior;         /* the state before this run began */
	bool prior_exists;
	bool schema_restored;           /* schema.pre was recorded done: the tables exist */
	struct dag_record recorded;     /* the DAG the run's first apply recorded; empty: none */
	bool record_dag;                /* a first run, an older state or --replan: record the DAG */
	bool *ddl_covered;              /* owned, per step: made by replicated DDL (cdc.ddl) */
	bool resuming;                  /* state_begin_run found this plan's run */
	bool cdc_recopy;                /* CDC resume with copies left: new slot, copy all again */
	bool *done, *wanted;
};

/*
 * A resume compiles the DAG from the live catalog with the sizes the run
 * recorded, so every table keeps its recorded split (DESIGN.md §4b).
 */
static bool
phase_connect(struct apply *a, struct pgs_error *err)
{
	struct pg_session src_s = {"source", "pgshift apply", true, false, false, true};
	struct pg_session dst_s = {"target", "pgshift apply", true, false, false, true};

	a->src = pg_connect(a->plan->source_uri, &src_s, err);
	a->dst = a->src ? pg_connect(a->plan->target_uri, &dst_s, err) : NULL;
	if (!a->dst || !catalog_load_parallel(a->src, &src_s, a->plan, true, &a->cat, err) ||
		!state_read_dag(a->state, &a->recorded, err))
		return false;
	run_dag_recorded_sizes(&a->recorded, &a->cat);
	xtrim();
	return dag_compile(a->plan, &a->cat, &a->dag, err);
}

/*
 * Catalog drift since the run began, by rule: a recorded step with nothing
 * left to run on is an error; new tables (or indexes, constraints) refuse
 * the resume unless --replan, which adds their steps to the run.
 */
static enum apply_result
phase_drift(struct apply *a, struct pgs_error *err)
{
	struct pgs_error drift;
	enum dag_drift d;
	size_t n;

	pgs_error_clear(&drift);
	a->record_dag = a->recorded.n == 0;
	if (a->plan->cdc.enabled && a->plan->cdc.ddl == DDL_REPLICATE && a->recorded.n > 0) {
		/* the schema changed with the stream: what is new is on the target already */
		a->ddl_covered = xcalloc(a->dag.n ? a->dag.n : 1, sizeof(bool));
		n = run_dag_ddl_covered(&a->recorded, &a->dag, a->ddl_covered);
		if (n)
			log_info("resume: %zu step(s) of objects created on the source during CDC are "
					 "not run: the replicated DDL made them on the target (cdc.ddl: replicate)",
					 n);
		return APPLY_OK;
	}
	d = run_dag_drift(&a->recorded, &a->dag, &a->cat, a->plan->name, a->plan->file, &drift);
	if (d == DAG_SAME)
		return APPLY_OK;
	if (d == DAG_NEW && a->opts->replan) {
		log_info("--replan: %s; their steps are added to the run", drift.message);
		a->record_dag = true;
		a->run.replan = true;
		return APPLY_OK;
	}
	*err = drift;
	return d == DAG_NEW ? APPLY_BLOCKED : APPLY_FAILED;
}

static bool
phase_expect(struct apply *a, struct pgs_error *err)
{
	struct saved_plan sp;
	char *fingerprint;
	bool ok;

	if (!a->opts->expect)
		return true;
	if (!saved_plan_read(a->opts->expect, &sp, err))
		return false;
	fingerprint = catalog_fingerprint(&a->cat);
	ok = saved_plan_check(&sp, a->plan, fingerprint, &a->dag, err);
	if (ok)
		log_info("the plan and the source schema match the saved plan %s", a->opts->expect);
	free(fingerprint);
	saved_plan_free(&sp);
	return ok;
}

static void
log_preflight(const struct preflight_report *pf)
{
	for (size_t i = 0; i < pf->nchecks; i++) {
		const struct check_result *c = &pf->checks[i];

		if (c->status == CHECK_PASS)
			log_debug("preflight PASS %s: %s", c->name, c->observed);
		else
			log_msg(c->status == CHECK_FAIL ? LOG_ERROR : LOG_WARNING, "preflight %s %s: %s%s%s",
					check_status_name(c->status), c->name, c->observed,
					c->hint ? " — fix: " : "", c->hint ? c->hint : "");
	}
}

/*
 * A process killed with kill -9 leaves its statements running: a server
 * notices a dead client only when it next talks to it, and an index build
 * (with its parallel workers) or a COPY goes on for minutes, then collides
 * with the resume's own ("duplicate key ... pg_class_relname_nsp_index").
 * We hold the plan's lock, so every session tagged with this run id on
 * either server belongs to a dead process: they are ended before preflight
 * (whose reads would queue behind their locks) and before any step.
 */
static bool
end_dead_run(struct apply *a, struct pgs_error *err)
{
	int n = 0;

	if (!a->prior_exists)
		return true;
	if (!run_end_sessions(a->plan, a->prior.run_id, true, &n, err))
		return false;
	if (n > 0)
		log_info("resume: ended %d session(s) the previous run left working on the servers", n);
	return true;
}

/*
 * A run begun by an older pgshift spooled into .pgshift/spool, then the
 * default of every plan; the default is one per plan now. Resumed into the
 * new, empty directory, the run would find its spooled changes gone.
 */
static bool
check_old_spool(const struct apply *a, struct pgs_error *err)
{
	const struct plan *plan = a->plan;
	char *dflt = plan_default_spool_dir(plan);
	char *old = xasprintf("%s/%s", plan->dir, PLAN_OLD_SPOOL_DIR);
	char *owner = spool_owner(old);
	bool ok = !a->prior_exists || !plan->cdc.enabled || strcmp(plan->cdc.spool_dir, dflt) != 0 ||
		access(dflt, F_OK) == 0 || access(old, F_OK) != 0 || (owner && strcmp(owner, plan->name) != 0);

	if (!ok) {
		pgs_fail(err, "run %s of plan \"%s\" began with its spool in \"%s\", the default of "
				 "older pgshift versions; the default is now \"%s\", one per plan", a->prior.run_id,
				 plan->name, old, dflt);
		pgs_error_hint(err, "when \"%s\" holds this plan's changes (no other plan of that "
					   "directory ran online since), move it: mkdir -p %.*s && mv %s %s, then "
					   "pgshift apply %s again; else start over: pgshift reset %s --yes", old,
					   (int) (strrchr(dflt, '/') - dflt), dflt, old, dflt, plan->file, plan->file);
	}
	free(owner);
	free(old);
	free(dflt);
	return ok;
}

static bool
phase_preflight(struct apply *a, struct pgs_error *err)
{
	struct preflight_report pf;
	bool ok;

	if (!state_read(a->plan, &a->prior, &a->prior_exists, err) || !end_dead_run(a, err) ||
		!check_old_spool(a, err))
		return false;
	if (!preflight_run(a->plan, a->src, a->dst, NULL, &a->cat, a->prior_exists, &pf, err))
		return false;
	log_preflight(&pf);
	ok = pf.nfail == 0;
	if (!ok)
		pgs_fail(err, "preflight found %zu blocking problem(s); nothing was changed", pf.nfail);
	preflight_report_free(&pf);
	return ok;
}

/*
 * Whenever someone can answer (stdin is a terminal), unless --yes: show what
 * will happen and ask. Where the output goes does not matter: "apply p.yaml
 * 2>&1 | tee log" is still an operator at a terminal, and the question goes
 * into the log with the answer's consequences.
 */
static bool
phase_confirm(struct apply *a)
{
	char answer[16] = "";

	if (a->opts->yes || !isatty(STDIN_FILENO))
		return true;
	/* the servers as libpq reached them: the operator checks this is not production by mistake */
	fprintf(stderr, "pgshift will %s plan \"%s\": %zu tables, %zu steps,\n"
			"  from the source database \"%s\" on %s:%s\n"
			"  into the target database \"%s\" on %s:%s.\n"
			"Proceed? [y/N] ", a->prior_exists ? "resume" : "apply", a->plan->name,
			a->cat.ntables, a->dag.n, PQdb(a->src), PQhost(a->src), PQport(a->src), PQdb(a->dst),
			PQhost(a->dst), PQport(a->dst));
	if (!fgets(answer, sizeof(answer), stdin))
		return false;
	return answer[0] == 'y' || answer[0] == 'Y';
}

static bool
step_recorded_done(const struct run_state *rs, const char *id)
{
	for (size_t i = 0; i < rs->nsteps; i++)
		if (strcmp(rs->steps[i].step_id, id) == 0)
			return rs->steps[i].status == STEP_DONE;
	return false;
}

/* The N of a part id "...#k/N", 0 for an id of one part. */
static long
parts_of(const char *id)
{
	const char *slash = strrchr(id, '/');

	return strchr(id, '#') && slash ? strtol(slash + 1, NULL, 10) : 0;
}

/*
 * Whether the recorded run copied a table completely under the split it was
 * compiled with then: "copy:S.T" done, or every part "copy:S.T#k/N" of one
 * N done. A table that grew past split_tables_larger_than since (or shrank
 * below it) gets other step ids now; its rows are on the target all the
 * same, and CDC carries what changed since.
 */
static bool
table_copy_recorded(const struct run_state *rs, const char *base)
{
	size_t len = strlen(base);

	for (size_t i = 0; i < rs->nsteps; i++) {
		const char *id = rs->steps[i].step_id;
		long n = parts_of(id), done = 0;

		if (strncmp(id, base, len) != 0 || (id[len] != '\0' && id[len] != '#') ||
			rs->steps[i].status != STEP_DONE)
			continue;
		if (id[len] == '\0')
			return true;
		for (size_t k = 0; k < rs->nsteps; k++)
			done += strncmp(rs->steps[k].step_id, base, len) == 0 &&
				rs->steps[k].step_id[len] == '#' && parts_of(rs->steps[k].step_id) == n &&
				rs->steps[k].status == STEP_DONE;
		if (done == n)
			return true;
	}
	return false;
}

/* A copy step whose table was copied whole before, under another split: done, said once. */
static bool
copy_done_before(struct apply *a, const struct run_state *rs, size_t i, bool *said)
{
	const struct step *st = &a->dag.steps[i];
	const struct cat_table *t = &a->cat.tables[st->table];
	char *base = xasprintf("copy:%s.%s", t->schema, t->name);
	bool done = table_copy_recorded(rs, base);

	if (done && !said[st->table]) {
		said[st->table] = true;
		log_info("resume: table %s.%s was copied completely as other copy steps than \"%s\" "
				 "(its size crossed split_tables_larger_than); that copy is kept, not repeated",
				 t->schema, t->name, st->id);
	}
	free(base);
	return done;
}

/*
 * With CDC, a copy left means the slot's exported snapshot is gone with the
 * process that held it. When the slot's consistent point was never recorded
 * (the crash came while the snapshot step ran), no copy can have finished
 * and the slot may be half made: it is created again and every table copied
 * on its snapshot, as on a first run.
 */
static void
mark_cdc_recopy(struct apply *a)
{
	a->cdc_recopy = true;
	for (size_t i = 0; i < a->dag.n; i++) {
		enum step_kind k = a->dag.steps[i].kind;

		if (k == STEP_COPY || k == STEP_CDC_STREAM || k == STEP_CDC_CATCHUP)
			a->done[i] = false;
	}
}

/*
 * Otherwise only the tables with a copy left are copied again, on a
 * temporary slot's snapshot (step_snapshot_resync.c); the original slot,
 * spool and applier position stay, and so do cdc.stream and cdc.catchup.
 */
static void
mark_resync(struct apply *a)
{
	a->run.resync_tables = xcalloc(a->cat.ntables ? a->cat.ntables : 1, sizeof(bool));
	for (size_t i = 0; i < a->dag.n; i++)
		if (a->dag.steps[i].kind == STEP_COPY && !a->done[i])
			a->run.resync_tables[a->dag.steps[i].table] = true;
}

/*
 * Which steps a resumed run skips. The exported snapshot died with the
 * previous process, so while any copy is left the snapshot is taken again;
 * a split table with any part left is copied again whole, since a part may
 * have committed without its state row.
 */
static void
mark_done(struct apply *a, const struct run_state *rs)
{
	bool copies_left = false;
	bool *said = xcalloc(a->cat.ntables ? a->cat.ntables : 1, sizeof(bool));

	a->done = xcalloc(a->dag.n, sizeof(bool));
	for (size_t i = 0; i < a->dag.n; i++)
		a->done[i] = (a->ddl_covered && a->ddl_covered[i]) ||
			step_recorded_done(rs, a->dag.steps[i].id) ||
			(a->dag.steps[i].kind == STEP_COPY && copy_done_before(a, rs, i, said));
	free(said);
	a->schema_restored = step_recorded_done(rs, "schema.pre");
	/*
	 * --replan: schema.pre runs again to create only the new tables, and
	 * cdc.catchup once they are copied: the applier must not meet a change of
	 * a table still being copied (or not yet created).
	 */
	for (size_t i = 0; a->run.replan && i < a->dag.n; i++)
		if (a->dag.steps[i].kind == STEP_SCHEMA_PRE || a->dag.steps[i].kind == STEP_CDC_CATCHUP)
			a->done[i] = false;
	for (size_t i = 0; i < a->dag.n; i++) {
		const struct step *st = &a->dag.steps[i];

		if (st->kind != STEP_COPY || a->done[i])
			continue;
		copies_left = true;
		for (size_t k = 0; st->nparts && k < a->dag.n; k++)
			if (a->dag.steps[k].kind == STEP_COPY && a->dag.steps[k].table == st->table)
				a->done[k] = false;
	}
	for (size_t i = 0; i < a->dag.n; i++)
		if (a->dag.steps[i].kind == STEP_SNAPSHOT && copies_left)
			a->done[i] = false;
	if (a->plan->cdc.enabled && copies_left && rs->applied_lsn)
		mark_resync(a);
	else if (a->plan->cdc.enabled && copies_left)
		mark_cdc_recopy(a);
}

/* Marks step i and everything it runs after as wanted. */
static void
want_with_ancestors(const struct dag *dag, bool *wanted, size_t i)
{
	if (wanted[i])
		return;
	wanted[i] = true;
	for (size_t k = 0; k < dag->steps[i].ndeps; k++)
		want_with_ancestors(dag, wanted, step_deps(dag, &dag->steps[i])[k]);
}

/* --until STEP: a step id, or a stage name meaning all its steps. */
static bool
phase_until(struct apply *a, struct pgs_error *err)
{
	const char *until = a->opts->until;
	bool matched = false;

	if (!until)
		return true;
	a->wanted = xcalloc(a->dag.n, sizeof(bool));
	for (size_t i = 0; i < a->dag.n; i++) {
		const struct step *st = &a->dag.steps[i];

		if (strcmp(st->id, until) == 0 || strcmp(step_stage(st), until) == 0 ||
			strcmp(step_kind_name(st->kind), until) == 0) {
			want_with_ancestors(&a->dag, a->wanted, i);
			matched = true;
		}
	}
	/*
	 * cdc.stream is no step's dependency (the applier reads the spool it
	 * writes), but a run that took the slot's snapshot must read the slot:
	 * else nothing is spooled for the changes during the copy, and the next
	 * apply finds no spool to continue from.
	 */
	for (size_t i = 0; matched && i < a->dag.n; i++)
		if (a->dag.steps[i].kind == STEP_CDC_STREAM && a->dag.steps[i].ndeps > 0 &&
			a->wanted[step_deps(&a->dag, &a->dag.steps[i])[0]])
			want_with_ancestors(&a->dag, a->wanted, i);
	if (!matched) {
		pgs_fail(err, "--until %s: no step or stage of this plan has that name", until);
		pgs_error_hint(err, "pgshift plan shows the step ids; stages are schema, copy, index, "
					   "constraint, vacuum, cutover, cleanup");
	}
	return matched;
}

enum { DAG_CHUNK_STEPS = 2000 };

static char *
dag_chunk(void *ctx, size_t i)
{
	const struct apply *a = ctx;

	return run_dag_json(&a->dag, &a->cat, i * DAG_CHUNK_STEPS, (i + 1) * DAG_CHUNK_STEPS);
}

/* The DAG as compiled now: all of it on a first run, the new steps with --replan. */
static bool
record_dag(struct apply *a, struct pgs_error *err)
{
	char *fingerprint;
	bool ok;

	if (!a->record_dag)
		return true;
	fingerprint = catalog_fingerprint(&a->cat);
	ok = state_record_dag(a->state, fingerprint ? fingerprint : "", dag_chunk, a,
						  (a->dag.n + DAG_CHUNK_STEPS - 1) / DAG_CHUNK_STEPS, err);
	free(fingerprint);
	return ok;
}

static void
list_steps(const struct apply *a, bool done, struct buf *b, size_t *n)
{
	for (size_t i = 0; i < a->dag.n; i++) {
		if (a->done[i] != done)
			continue;
		if ((*n)++ < 30)
			buf_printf(b, "%s%s", *n > 1 ? ", " : "", a->dag.steps[i].id);
	}
	if (*n > 30)
		buf_printf(b, " and %zu more", *n - 30);
}

/* What a resume skips and what it runs, by step id. */
static void
log_resume_steps(const struct apply *a)
{
	struct buf skip, run;
	size_t nskip = 0, nrun = 0;

	buf_init(&skip);
	buf_init(&run);
	list_steps(a, true, &skip, &nskip);
	list_steps(a, false, &run, &nrun);
	log_info("resume: %zu step(s) done, skipped%s%s", nskip, nskip ? ": " : "",
			 nskip ? skip.data : "");
	log_info("resume: %zu step(s) to run%s%s", nrun, nrun ? ": " : "", nrun ? run.data : "");
	buf_free(&skip);
	buf_free(&run);
}

/* New tables cannot join a cutover already decided: the gate passed on the old set. */
static bool
replan_allowed(const struct apply *a, struct pgs_error *err)
{
	for (size_t i = 0; a->run.replan && a->prior_exists && i < a->dag.n; i++) {
		const struct step *st = &a->dag.steps[i];

		if ((st->kind == STEP_CUTOVER_GATE || st->kind == STEP_CUTOVER ||
			 st->kind == STEP_CLEANUP) && step_recorded_done(&a->prior, st->id)) {
			pgs_fail(err, "--replan: the cutover of plan \"%s\" has begun (step %s is done): "
					 "new tables cannot join it; nothing was changed", a->plan->name, st->id);
			pgs_error_hint(err, "resume without the new tables (filters.exclude_tables) and move "
						   "them with a plan of their own, or start over with pgshift reset");
			return false;
		}
	}
	return true;
}

static bool
phase_begin(struct apply *a, struct pgs_error *err)
{
	struct run_state rs;
	bool resuming, exists;
	char run_id[40];
	bool ok;

	if (!replan_allowed(a, err) || !state_ensure_schema(a->state, err) ||
		!state_begin_run(a->state, a->plan->sha256, a->opts->force, &resuming, run_id,
						 sizeof(run_id), err) ||
		!record_dag(a, err))
		return false;
	/* read again: begin_run turned steps left running by a crash into pending */
	ok = state_read(a->plan, &rs, &exists, err);
	if (ok) {
		mark_done(a, &rs);
		/* where CDC starts: the slot's consistent point, or what the applier committed since */
		if (rs.applied_lsn && !cdc_lsn_parse(rs.applied_lsn, &a->run.cdc_start_lsn))
			a->run.cdc_start_lsn = 0;
		run_state_free(&rs);
	}
	a->resuming = resuming;
	snprintf(a->run.run_id, sizeof(a->run.run_id), "%s", run_id);
	log_set_run_id(run_id);
	log_info("%s run %s of plan \"%s\"", resuming ? "resuming" : "starting", run_id, a->plan->name);
	if (ok && resuming)
		log_resume_steps(a);
	return ok;
}

/*
 * A split table with parts left is emptied once before its parts run again;
 * one that --replan took in is created empty by schema.pre.
 */
static bool
prepare_split_tables(struct apply *a, struct pgs_error *err)
{
	if (!a->schema_restored)
		return true;
	for (size_t i = 0; i < a->dag.n; i++) {
		const struct step *st = &a->dag.steps[i];
		const struct cat_table *t = st->kind == STEP_COPY ? &a->cat.tables[st->table] : NULL;

		if (t && st->part == 1 && !a->done[i] &&
			(a->recorded.n == 0 || run_dag_has_table(&a->recorded, t->schema, t->name)) &&
			!copy_prepare_split_table(&a->run, st->table, err))
			return false;
	}
	return true;
}

/*
 * The scheduler's look every second while CDC runs: its threads, schema
 * changes on the source (every few seconds), then cdc.lag.
 */
static bool
apply_cdc_tick(struct run *run, struct pgs_error *err)
{
	return run_cdc_tick(run, err) && run_ddl_tick(run, err) && run_events_cdc_tick(run, err);
}

/* Every second: running copies' progress into the state (for `status`), then CDC's look. */
static bool
apply_tick(struct run *run, struct pgs_error *err)
{
	progress_tick(run);
	return !run->plan->cdc.enabled || apply_cdc_tick(run, err);
}

/* Steps an earlier run finished count as done in the live view and the metrics. */
static void
progress_mark_done(struct apply *a)
{
	for (size_t i = 0; i < a->dag.n; i++)
		if (a->done[i])
			atomic_store(&a->run.progress[i].finished, true);
}

/*
 * The last copy is done: the snapshot may go, except with cdc.ddl:
 * replicate, where schema.post dumps on it too (and then lets it go).
 */
static void
copies_done(struct run *run)
{
	if (!(run->plan->cdc.enabled && run->plan->cdc.ddl == DDL_REPLICATE))
		run_release_snapshot(run);
}

static bool
phase_run(struct apply *a, struct pgs_error *err)
{
	struct run *run = &a->run;
	const struct sched_hooks hooks = {run_step_execute, progress_step_started,
									  progress_step_finished, copies_done, apply_tick};
	struct pgs_error cdc_err;
	char workdir[] = "/tmp/pgshift-run-XXXXXX";
	bool ok;

	run->plan = a->plan;
	run->cat = &a->cat;
	run->dag = &a->dag;
	run->state = a->state;
	run->approve = a->opts->approve;
	run->progress = xcalloc(a->dag.n, sizeof(struct step_progress));
	pthread_mutex_init(&run->snapshot_lock, NULL);
	pthread_mutex_init(&run->cdc_lock, NULL);
	if (!mkdtemp(workdir))
		return pgs_fail(err, "could not create a scratch directory in /tmp: %m");
	snprintf(run->workdir, sizeof(run->workdir), "%s", workdir);
	ok = state_step_finished(a->state, "preflight", 0, 0, err) &&
		(!a->resuming || run_cdc_prepare_resume(run, a->done, a->cdc_recopy, err)) &&
		(run->copy_pretruncated || prepare_split_tables(a, err)) &&
		run_events_begin(run, a->done, a->wanted, err);
	if (ok) {
		progress_mark_done(a);
		ok = !a->opts->metrics || metrics_serve(a->opts->metrics, run, err);
	}
	if (ok) {
		progress_start(run, a->opts->progress);
		stop_watch_attach(run);
		ok = scheduler_run(run, a->done, a->wanted, &hooks, err);
		progress_stop(run);
	}
	run_release_snapshot(run);
	/* applier first: it commits whole transactions; then the receiver confirms its spool */
	pgs_error_clear(&cdc_err);
	if (!run_cdc_stop(run, &cdc_err)) {
		if (ok)
			*err = cdc_err;
		else
			log_report(LOG_WARNING, &cdc_err);
		ok = false;
	}
	remove_tree(workdir);
	/* before the events end: the notifier it reads goes with them */
	metrics_stop(a->opts->metrics);
	/* last: run.finished means everything above is over; notifications drain here */
	run_events_end(run, ok, err);
	stop_watch_attach(NULL);
	return ok;
}

static void
apply_free(struct apply *a)
{
	free(a->done);
	free(a->ddl_covered);
	free(a->wanted);
	free(a->run.resync_tables);
	free(a->run.progress);
	if (a->prior_exists)
		run_state_free(&a->prior);
	dag_free(&a->dag);
	dag_record_free(&a->recorded);
	catalog_free(&a->cat);
	PQfinish(a->src);
	PQfinish(a->dst);
	state_close(a->state);
}

/* A signal stopped the run: it is interrupted, not failed, and a re-run continues it. */
static enum apply_result
interrupted(struct apply *a, struct pgs_error *err)
{
	struct pgs_error ferr;

	pgs_error_clear(&ferr);
	if (!state_stop_run(a->state, "interrupted", NULL, &ferr))
		log_report(LOG_WARNING, &ferr);
	pgs_error_clear(err);
	pgs_fail(err, "run %s of plan \"%s\" was interrupted by %s; nothing that finished is lost",
			 a->run.run_id, a->plan->name, stop_signal() == SIGINT ? "SIGINT" : "SIGTERM");
	pgs_error_hint(err, "\"pgshift apply %s\" resumes it", a->plan->file);
	return APPLY_INTERRUPTED;
}

/* --until left steps out: whether any of them is still to do. */
static bool
steps_left(const struct apply *a)
{
	for (size_t i = 0; a->wanted && i < a->dag.n; i++)
		if (!a->wanted[i] && !a->done[i])
			return true;
	return false;
}

/*
 * --until stopped short of the end: the run is paused, not finished, so the
 * next apply continues it with its slot and spool, and status says so.
 */
static enum apply_result
paused(struct apply *a)
{
	struct pgs_error ferr;

	pgs_error_clear(&ferr);
	if (!state_stop_run(a->state, "paused", a->opts->until, &ferr)) {
		log_report(LOG_WARNING, &ferr);
		return APPLY_FAILED;
	}
	log_info("paused after \"%s\" as --until asked; \"pgshift apply %s\" continues the run",
			 a->opts->until, a->plan->file);
	if (a->plan->cdc.enabled)
		log_warning("replication slot \"%s\" keeps WAL on the source while the run is paused",
					a->plan->cdc.slot);
	return APPLY_OK;
}

static enum apply_result
finish(struct apply *a, bool ok, struct pgs_error *err)
{
	struct pgs_error ferr;

	if (stop_signal())
		return interrupted(a, err);
	if (ok && steps_left(a))
		return paused(a);
	pgs_error_clear(&ferr);
	if (!state_finish_run(a->state, ok, ok ? NULL : err->message, &ferr))
		log_report(LOG_WARNING, &ferr);
	if (ok && a->run.drop_state_at_end && !state_drop(a->state, &ferr))
		log_report(LOG_WARNING, &ferr);
	return ok ? APPLY_OK : APPLY_FAILED;
}

enum apply_result
apply_plan(const struct plan *plan, const struct apply_options *opts, struct pgs_error *err)
{
	struct apply a = {.plan = plan, .opts = opts};
	bool locked = false;
	enum apply_result rc = APPLY_FAILED;

	if (!stop_watch_start(err))
		return APPLY_FAILED;
	a.state = state_open(plan, &locked, err);
	if (!a.state)
		return locked ? APPLY_LOCKED : APPLY_FAILED;
	if (!phase_connect(&a, err))
		goto out;
	rc = phase_drift(&a, err);
	if (rc != APPLY_OK)
		goto out;
	rc = APPLY_FAILED;
	if (!phase_expect(&a, err) || !phase_until(&a, err) || !phase_preflight(&a, err))
		goto out;
	if (!phase_confirm(&a)) {
		rc = APPLY_DECLINED;
		goto out;
	}
	if (!phase_begin(&a, err))
		goto out;
	rc = finish(&a, phase_run(&a, err), err);
out:
	apply_free(&a);
	return rc;
}
