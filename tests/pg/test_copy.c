/*
 * The snapshot and copy steps on real servers prepared by
 * tests/integration/copy.t. PGSHIFT_SCENARIO picks what runs:
 *   copy    every copy step of the plan (format COPY_FORMAT): unsplit tables
 *           one after the other, each split table's parts in parallel
 *           threads after copy_prepare_split_table; rows written on the
 *           source after the snapshot must not arrive. The .t then compares
 *           every table independently.
 *   atomic  a copy the target refuses (a CHECK constraint) and a cancelled
 *           copy leave the target table as it was; a copy into a non-empty
 *           table replaces its rows.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pgtest.h"
#include "tap.h"
#include "dag/dag.h"
#include "pg/catalog.h"
#include "pg/conn.h"
#include "plan/plan.h"
#include "run/run.h"
#include "steps/steps.h"
#include "util/buf.h"
#include "util/xalloc.h"

/*
 * One table job: the split threshold alone decides (dag_copy_parts), so big
 * and docs are split whatever share of all the data they hold.
 */
static const char plan_copy[] =
	"version: 1\n"
	"name: copy_test\n"
	"source: { uri: \"${SOURCE_URI}\" }\n"
	"target: { uri: \"${TARGET_URI}\" }\n"
	"filters:\n"
	"  exclude_tables: [public.guarded, public.replaced]\n"
	"copy:\n"
	"  table_jobs: 1\n"
	"  split_tables_larger_than: ${COPY_SPLIT:-64kB}\n"
	"  split_max_parts: 4\n"
	"  format: ${COPY_FORMAT}\n"
	"cdc: { enabled: false }\n";

static const char plan_atomic[] =
	"version: 1\n"
	"name: copy_atomic\n"
	"source: { uri: \"${SOURCE_URI}\" }\n"
	"target: { uri: \"${TARGET_URI}\" }\n"
	"filters:\n"
	"  include_tables: [public.guarded, public.replaced]\n"
	"copy:\n"
	"  format: ${COPY_FORMAT}\n"
	"cdc: { enabled: false }\n";

static bool
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

struct fixture {
	struct plan *plan;
	struct catalog cat;
	struct dag dag;
	struct run run;
	PGconn *src, *dst;          /* the test's own sessions, for checks */
};

static bool
fixture_open(struct fixture *fx, const char *plan_text)
{
	struct pgs_error err;

	memset(fx, 0, sizeof(*fx));
	pgs_error_clear(&err);
	fx->plan = pgtest_load_plan(plan_text);
	fx->src = fx->plan ? pgtest_connect(fx->plan->source_uri, "source", false) : NULL;
	fx->dst = fx->src ? pgtest_connect(fx->plan->target_uri, "target", false) : NULL;
	if (!fx->dst)
		return false;
	if (!catalog_load(fx->src, fx->plan, &fx->cat, &err) ||
		!dag_compile(fx->plan, &fx->cat, &fx->dag, &err)) {
		printf("# %s\n", err.message);
		return false;
	}
	fx->run.plan = fx->plan;
	fx->run.cat = &fx->cat;
	fx->run.dag = &fx->dag;
	pthread_mutex_init(&fx->run.snapshot_lock, NULL);
	fx->run.progress = xcalloc(fx->dag.n, sizeof(struct step_progress));
	return true;
}

static void
fixture_close(struct fixture *fx)
{
	run_release_snapshot(&fx->run);
	pthread_mutex_destroy(&fx->run.snapshot_lock);
	free(fx->run.progress);
	dag_free(&fx->dag);
	catalog_free(&fx->cat);
	PQfinish(fx->src);
	PQfinish(fx->dst);
	plan_free(fx->plan);
}

static bool
take_snapshot(struct fixture *fx)
{
	struct pgs_error err;
	long s = dag_find(&fx->dag, "snapshot");
	bool done;

	pgs_error_clear(&err);
	done = s >= 0 && step_snapshot(&fx->run, (size_t) s, &err);
	if (!done)
		printf("# %s\n", err.message);
	ok(done, "snapshot step exports a snapshot");
	ok(fx->run.snapshot[0] != '\0' && fx->run.snapshot_conn != NULL,
	   "the run holds the snapshot id and its session");
	return done;
}

struct part_job {
	struct run *run;
	size_t step;
	bool ok;
	struct pgs_error err;
};

static void *
part_thread(void *arg)
{
	struct part_job *j = arg;

	pgs_error_clear(&j->err);
	j->ok = step_copy(j->run, j->step, &j->err);
	return NULL;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* count(*) of a catalog table on a session, as a number. */
static long long
count_rows(PGconn *conn, const struct cat_table *t)
{
	char *q = pg_quote_qualified(conn, t->schema, t->name);
	char *sql = xasprintf("SELECT count(*) FROM ONLY %s", q);
	char *v = pgtest_value(conn, sql);
	long long n = strtoll(v, NULL, 10);

	free(q);
	free(sql);
	free(v);
	return n;
}

/* Runs every part of a split table at once, each in its own thread. */
static void
copy_split_table(struct fixture *fx, size_t first)
{
	const struct step *st = &fx->dag.steps[first];
	const struct cat_table *t = &fx->cat.tables[st->table];
	int n = st->nparts;
	struct part_job *jobs = xcalloc((size_t) n, sizeof(*jobs));
	pthread_t *threads = xcalloc((size_t) n, sizeof(*threads));
	struct pgs_error err;
	long long rows = 0;
	bool all_ok = true, all_rows = true;
	char name[300];
	size_t k = 0;

	pgs_error_clear(&err);
	snprintf(name, sizeof(name), "%s.%s", t->schema, t->name);
	ok(copy_prepare_split_table(&fx->run, st->table, &err), "copy_prepare_split_table empties the table");
	for (size_t s = first; s < fx->dag.n && k < (size_t) n; s++) {
		if (fx->dag.steps[s].kind != STEP_COPY || fx->dag.steps[s].table != st->table)
			continue;
		jobs[k].run = &fx->run;
		jobs[k].step = s;
		pthread_create(&threads[k], NULL, part_thread, &jobs[k]);
		k++;
	}
	for (size_t i = 0; i < k; i++) {
		pthread_join(threads[i], NULL);
		if (!jobs[i].ok)
			printf("# %s\n", jobs[i].err.message);
		all_ok = all_ok && jobs[i].ok;
		rows += atomic_load(&fx->run.progress[jobs[i].step].rows);
		all_rows = all_rows && atomic_load(&fx->run.progress[jobs[i].step].rows) > 0;
		printf("# %s: %lld rows\n", fx->dag.steps[jobs[i].step].id,
			   (long long) atomic_load(&fx->run.progress[jobs[i].step].rows));
	}
	is_int(k, n, "every part of the split table found");
	ok(all_ok, "all parts copied in parallel");
	is_int(rows, count_rows(fx->dst, t), "the parts' rows add up to the rows that arrived");
	if (strcmp(name, "public.big") == 0 || strcmp(name, "public.docs") == 0) {
		char what[340];

		snprintf(what, sizeof(what), "%s: every part carried rows", name);
		ok(all_rows, what);
	}
	free(jobs);
	free(threads);
}

static void
copy_one(struct fixture *fx, size_t s)
{
	const struct step *st = &fx->dag.steps[s];
	const struct cat_table *t = &fx->cat.tables[st->table];
	struct pgs_error err;
	bool done;
	char name[320];

	pgs_error_clear(&err);
	done = step_copy(&fx->run, s, &err);
	if (!done)
		printf("# %s\n", err.message);
	snprintf(name, sizeof(name), "%s copied", st->id);
	ok(done, name);
	snprintf(name, sizeof(name), "%s: progress counts the rows that arrived", st->id);
	is_int(atomic_load(&fx->run.progress[s].rows), count_rows(fx->dst, t), name);
}

/* Changes the probe table after the snapshot; the copy must not see them. */
static void
write_after_snapshot(struct fixture *fx)
{
	(void) pgtest_exec(fx->src, "INSERT INTO public.probe VALUES (2, 'after')");
	(void) pgtest_exec(fx->src, "UPDATE public.probe SET v = 'changed' WHERE id = 1");
}

static void
check_probe(struct fixture *fx)
{
	char *v = pgtest_value(fx->dst, "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM public.probe");

	is_str(v, "1:before", "rows written on the source after the snapshot did not arrive");
	free(v);
	/* back to the snapshot's state, so the .t's comparison holds */
	(void) pgtest_exec(fx->src, "DELETE FROM public.probe WHERE id = 2");
	(void) pgtest_exec(fx->src, "UPDATE public.probe SET v = 'before' WHERE id = 1");
}

static long
find_copy(struct fixture *fx, const char *id)
{
	long s = dag_find(&fx->dag, id);

	if (s < 0)
		printf("# no step %s\n", id);
	return s;
}

static void
release_twice(struct fixture *fx)
{
	run_release_snapshot(&fx->run);
	run_release_snapshot(&fx->run);
	ok(fx->run.snapshot_conn == NULL, "run_release_snapshot closes the session, twice is harmless");
}

/* After the release the snapshot cannot be imported: the copy fails, naming the table. */
static void
copy_without_snapshot(struct fixture *fx)
{
	long s = find_copy(fx, "copy:public.probe");
	struct pgs_error err;

	pgs_error_clear(&err);
	ok(s >= 0 && !step_copy(&fx->run, (size_t) s, &err), "a copy on a released snapshot fails");
	ok(starts_with(err.message, "could not copy table \"public.probe\": "),
	   "the error names the table");
	is_str(err.sqlstate, "22023", "the SQLSTATE is kept");
	printf("# %s\n", err.message);
}

static int
scenario_copy(void)
{
	struct fixture fx;
	double t0, secs;
	long long bytes = 0, rows = 0;
	size_t ncopy = 0;

	if (!fixture_open(&fx, plan_copy) || !take_snapshot(&fx)) {
		ok(0, "fixture");
		return done_testing();
	}
	write_after_snapshot(&fx);
	t0 = now();
	for (size_t s = 0; s < fx.dag.n; s++) {
		const struct step *st = &fx.dag.steps[s];

		if (st->kind != STEP_COPY)
			continue;
		ncopy++;
		if (st->nparts == 0)
			copy_one(&fx, s);
		else if (st->part == 1)
			copy_split_table(&fx, s);
	}
	secs = now() - t0;
	for (size_t s = 0; s < fx.dag.n; s++) {
		bytes += atomic_load(&fx.run.progress[s].bytes);
		rows += atomic_load(&fx.run.progress[s].rows);
	}
	printf("# %zu copy steps: %lld rows, %.1f MB in %.2f s (%.0f rows/s, %.1f MB/s)\n", ncopy,
		   rows, bytes / 1e6, secs, rows / secs, bytes / 1e6 / secs);
	ok(ncopy >= 10, "the plan has copy steps for the tables");
	check_probe(&fx);
	release_twice(&fx);
	copy_without_snapshot(&fx);
	fixture_close(&fx);
	return done_testing();
}

static int
scenario_atomic(void)
{
	struct fixture fx;
	struct pgs_error err;
	long guarded, replaced;
	char *v;

	if (!fixture_open(&fx, plan_atomic) || !take_snapshot(&fx)) {
		ok(0, "fixture");
		return done_testing();
	}
	guarded = find_copy(&fx, "copy:public.guarded");
	replaced = find_copy(&fx, "copy:public.replaced");
	pgs_error_clear(&err);
	ok(guarded >= 0 && !step_copy(&fx.run, (size_t) guarded, &err),
	   "a copy the target refuses fails");
	printf("# %s\n", err.message);
	ok(starts_with(err.message, "could not copy table \"public.guarded\": COPY on the target failed: "
				   "new row for relation \"guarded\" violates check constraint \"no_forbidden\""),
	   "the error names the table and the server's reason");
	is_str(err.sqlstate, "23514", "the SQLSTATE is kept");
	is_str(err.step, "copy:public.guarded", "the error names the step");
	v = pgtest_value(fx.dst, "SELECT count(*) FROM public.guarded");
	is_str(v, "2", "the refused copy left the target's rows");
	free(v);

	atomic_store(&fx.run.cancel, true);
	pgs_error_clear(&err);
	ok(replaced >= 0 && !step_copy(&fx.run, (size_t) replaced, &err), "a cancelled copy fails");
	ok(strstr(err.message, "cancelled") != NULL, "and says it was cancelled");
	printf("# %s\n", err.message);
	v = pgtest_value(fx.dst, "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.replaced");
	is_str(v, "7", "the cancelled copy left the target's rows");
	free(v);

	atomic_store(&fx.run.cancel, false);
	pgs_error_clear(&err);
	ok(replaced >= 0 && step_copy(&fx.run, (size_t) replaced, &err), "a copy into a non-empty table");
	v = pgtest_value(fx.dst, "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM public.replaced");
	is_str(v, "1:source one,2:source two", "replaces its rows with the source's");
	free(v);
	fixture_close(&fx);
	return done_testing();
}

int
main(void)
{
	const char *scenario = getenv("PGSHIFT_SCENARIO");

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!getenv("SOURCE_URI") || !getenv("TARGET_URI") || !scenario) {
		printf("1..0 # SKIP SOURCE_URI, TARGET_URI and PGSHIFT_SCENARIO are set by copy.t\n");
		return 0;
	}
	if (strcmp(scenario, "copy") == 0)
		return scenario_copy();
	if (strcmp(scenario, "atomic") == 0)
		return scenario_atomic();
	printf("1..0 # SKIP unknown scenario %s\n", scenario);
	return 0;
}
