/*
 * The DDL steps on real servers, prepared by tests/integration/ddl.t: the
 * plan is compiled against the source catalog and its steps run in DAG
 * order (copies are simulated here with COPY; the copy step is someone
 * else's), then run a second time, which must succeed and change nothing.
 * The target must then match the source: pg_dump --schema-only of the kept
 * schemas is identical once owners and grants are left out, and each state
 * DESIGN.md §4 names (trigger enabled state, replica identity, NOT VALID,
 * populated materialized views) is as on the source, as are large objects
 * and sequences. The whole run happens twice: as a superuser, and as a
 * role that only owns its target database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgtest.h"
#include "tap.h"
#include "dag/dag.h"
#include "pg/catalog.h"
#include "pg/conn.h"
#include "pg/dump.h"
#include "plan/plan.h"
#include "run/run.h"
#include "steps/steps.h"
#include "steps/steps_int.h"
#include "util/buf.h"
#include "util/xalloc.h"
#include "verify/verify.h"

static const char plan_fmt[] =
	"version: 1\n"
	"name: ddl_test\n"
	"source: { uri: \"${SOURCE_URI}\" }\n"
	"target: { uri: \"%s\" }\n"
	/* the source's objects belong to its superuser, which a non-superuser cannot give them to */
	"schema: { owners: target_role }\n"
	"filters:\n"
	"  exclude_schemas: [scratch]\n"
	"  exclude_tables: [\"app.tmp_*\"]\n"
	"  exclude_extensions: [pgcrypto]\n"
	"cutover:\n"
	"  steps:\n"
	"    - sync_sequences: { margin: 1000 }\n";

static struct plan *
load_plan(const char *target_uri)
{
	char *yaml = xasprintf(plan_fmt, target_uri);
	struct plan *plan = pgtest_load_plan(yaml);

	free(yaml);
	return plan;
}

/* Rows as "a|b\n" lines; "ERROR: ..." when the query fails. */
static char *
rows(PGconn *conn, const char *sql)
{
	struct pgs_error err;
	PGresult *res = pg_query(conn, sql, 0, NULL, &err);
	struct buf b;

	buf_init(&b);
	if (!res) {
		buf_printf(&b, "ERROR: %s", err.message);
		return buf_steal(&b);
	}
	for (int r = 0; r < PQntuples(res); r++) {
		for (int c = 0; c < PQnfields(res); c++)
			buf_printf(&b, "%s%s", c ? "|" : "", PQgetisnull(res, r, c) ? "NULL"
					   : PQgetvalue(res, r, c));
		buf_putc(&b, '\n');
	}
	PQclear(res);
	return buf_steal(&b);
}

/* The copy step, simulated: COPY out of the source into the target. */
static bool
copy_table(PGconn *src, PGconn *tgt, const struct cat_table *t)
{
	char *q = pg_quote_qualified(src, t->schema, t->name);
	struct buf cols;
	char *out, *in, *data;
	PGresult *res;
	int len;
	bool ok = true;

	buf_init(&cols);
	for (size_t c = 0; c < t->ncols; c++)
		if (!t->cols[c].generated) {
			char *qc = pg_quote_ident(src, t->cols[c].name);

			buf_printf(&cols, "%s%s", cols.len ? ", " : "", qc);
			free(qc);
		}
	out = xasprintf("COPY %s (%s) TO STDOUT", q, cols.data);
	in = xasprintf("COPY %s (%s) FROM STDIN", q, cols.data);
	PQclear(PQexec(src, out));
	PQclear(PQexec(tgt, in));
	while ((len = PQgetCopyData(src, &data, 0)) > 0) {
		ok = ok && PQputCopyData(tgt, data, len) == 1;
		PQfreemem(data);
	}
	PQclear(PQgetResult(src));
	ok = ok && PQputCopyEnd(tgt, NULL) == 1;
	res = PQgetResult(tgt);
	ok = ok && PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		printf("# copy %s: %s", q, PQerrorMessage(tgt));
	PQclear(res);
	while ((res = PQgetResult(tgt)))
		PQclear(res);
	buf_free(&cols);
	free(out);
	free(in);
	free(q);
	return ok;
}

static bool
run_step(struct run *run, size_t s, PGconn *src, PGconn *tgt, int pass, struct pgs_error *err)
{
	const struct step *st = &run->dag->steps[s];

	switch (st->kind) {
	case STEP_SCHEMA_PRE: return step_schema_pre(run, s, err);
	case STEP_INDEX: return step_index(run, s, err);
	case STEP_CONSTRAINT: return step_constraint(run, s, err);
	case STEP_SCHEMA_POST: return step_schema_post(run, s, err);
	case STEP_VACUUM: return step_vacuum(run, s, err);
	case STEP_BLOBS: return step_blobs(run, s, err);
	case STEP_COPY:
		/* the copy step is not under test; rows go in once */
		if (pass == 1 && !copy_table(src, tgt, &run->cat->tables[st->table]))
			return pgs_fail(err, "test copy failed");
		return true;
	case STEP_CUTOVER:
		if (run->plan->cutover.steps[st->object].kind == CUTOVER_SYNC_SEQUENCES)
			return cutover_sync_sequences(run, &run->plan->cutover.steps[st->object], err);
		return true;
	default:
		return true;
	}
}

static bool
is_ddl_step(enum step_kind k)
{
	return k == STEP_SCHEMA_PRE || k == STEP_INDEX || k == STEP_CONSTRAINT ||
		k == STEP_SCHEMA_POST || k == STEP_VACUUM || k == STEP_BLOBS || k == STEP_CUTOVER;
}

/* Runs every step in the DAG's (topological) order; one TAP line per step kind. */
static void
run_all(struct run *run, PGconn *src, PGconn *tgt, int pass, const char *who)
{
	int failed[STEP_CLEANUP + 1] = {0}, seen[STEP_CLEANUP + 1] = {0};

	for (size_t s = 0; s < run->dag->n; s++) {
		struct pgs_error err;
		enum step_kind k = run->dag->steps[s].kind;

		pgs_error_clear(&err);
		seen[k]++;
		if (!run_step(run, s, src, tgt, pass, &err)) {
			failed[k]++;
			printf("# %s pass %d: %s\n#   detail: %s\n#   hint: %s\n", who, pass, err.message,
				   err.detail, err.hint);
		}
	}
	for (int k = 0; k <= STEP_CLEANUP; k++) {
		char name[160];

		if (!seen[k] || !is_ddl_step((enum step_kind) k))
			continue;
		snprintf(name, sizeof(name), "%s, pass %d: all %d %s steps succeed", who, pass, seen[k],
				 step_kind_name((enum step_kind) k));
		is_int(failed[k], 0, name);
	}
}

/* pg_dump --schema-only of the kept schemas without owners, grants and comments' headers. */
static char *
schema_text(const char *uri, const char *file)
{
	struct pgtool_cmd cmd;
	struct pgs_error err;
	char *text, *line;
	struct buf out;
	bool ok;

	pgtool_init(&cmd, "pg_dump");
	pgtool_arg(&cmd, "--schema-only");
	pgtool_arg(&cmd, "--no-owner");
	pgtool_arg(&cmd, "--no-privileges");
	pgtool_arg(&cmd, "--schema=app");
	pgtool_arg(&cmd, "--schema=\"select\"");
	pgtool_arg(&cmd, "--exclude-table=app.tmp_*");
	pgtool_argf(&cmd, "--file=%s", file);
	ok = pgtool_dbname(&cmd, uri, &err) && pgtool_run(&cmd, "schema dump", &err);
	pgtool_free(&cmd);
	if (!ok) {
		printf("# %s\n# %s\n", err.message, err.detail);
		return xstrdup("(dump failed)");
	}
	text = read_file_text(file, &err);
	unlink(file);
	buf_init(&out);
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, "--", 2) != 0 && line[0] != '\\' && strncmp(line, "SET ", 4) != 0)
			buf_printf(&out, "%s\n", line);
	free(text);
	return buf_steal(&out);
}

static void
same_schema(const char *src_uri, const char *tgt_uri, const char *dir, const char *who)
{
	char *sf = xasprintf("%s/src.sql", dir), *tf = xasprintf("%s/tgt.sql", dir);
	char *a = schema_text(src_uri, sf), *b = schema_text(tgt_uri, tf);
	char name[128];

	snprintf(name, sizeof(name), "%s: pg_dump --schema-only of target equals source", who);
	if (!ok(strcmp(a, b) == 0 && strlen(a) > 1000, name)) {
		size_t i = 0;

		while (a[i] && a[i] == b[i])
			i++;
		printf("# first difference at byte %zu:\n# source: %.200s\n# target: %.200s\n", i,
			   a + i, b + i);
	}
	free(a); free(b); free(sf); free(tf);
}

/* The same query gives the same rows on both servers. */
static void
same_rows(PGconn *src, PGconn *tgt, const char *sql, const char *name, bool nonempty)
{
	char *a = rows(src, sql), *b = rows(tgt, sql);

	if (!is_str(b, a, name))
		printf("# query: %s\n", sql);
	else if (nonempty)
		ok(strlen(a) > 0 && strncmp(a, "ERROR", 5) != 0, "... and it has rows");
	free(a);
	free(b);
}

static void
verify_target(PGconn *src, PGconn *tgt, const char *who)
{
	char name[160];
	char *got;

#define NAME(what) (snprintf(name, sizeof(name), "%s: %s", who, what), name)
	same_rows(src, tgt, "SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t"
			  " JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal ORDER BY 1, 2",
			  NAME("triggers with their enabled state"), true);
	same_rows(src, tgt, "SELECT n.nspname, c.relname, c.relreplident, c.relrowsecurity"
			  " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
			  " WHERE n.nspname IN ('app', 'select') AND c.relkind IN ('r', 'p')"
			  " AND c.relname NOT LIKE 'tmp\\_%' ORDER BY 1, 2",
			  NAME("replica identity and row security per table"), true);
	same_rows(src, tgt, "SELECT c.relname, i.relname FROM pg_index x"
			  " JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid"
			  " WHERE x.indisreplident ORDER BY 1", NAME("replica identity index"), true);
	same_rows(src, tgt, "SELECT conrelid::regclass::text, conname, contype, convalidated"
			  " FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
			  " WHERE n.nspname IN ('app', 'select') AND conrelid::regclass::text NOT LIKE"
			  " 'app.tmp\\_%' ORDER BY 1, 2", NAME("constraints, NOT VALID kept"), true);
	same_rows(src, tgt, "SELECT relname, relispopulated FROM pg_class WHERE relkind = 'm'"
			  " ORDER BY 1", NAME("materialized views populated as on the source"), true);
	same_rows(src, tgt, "SELECT n FROM app.customer_count", NAME("matview rows"), true);
	same_rows(src, tgt, "SELECT indexrelid::regclass::text, indisvalid FROM pg_index x"
			  " JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n"
			  " ON n.oid = c.relnamespace WHERE n.nspname IN ('app', 'select')"
			  " AND c.relname NOT LIKE 'tmp\\_%' ORDER BY 1", NAME("indexes, all valid"), true);
	same_rows(src, tgt, "SELECT oid, encode(lo_get(oid), 'hex') FROM pg_largeobject_metadata"
			  " ORDER BY 1", NAME("large objects: OIDs and contents"), true);
	same_rows(src, tgt, "SELECT obj_description('app.customers'::regclass, 'pg_class')",
			  NAME("comment on a table"), true);
	same_rows(src, tgt, "SELECT count(*) FROM app.orders", NAME("rows copied"), true);
	got = rows(tgt, "SELECT extname FROM pg_extension ORDER BY 1");
	is_str(got, "hstore\nplpgsql\n", NAME("extensions: hstore kept, pgcrypto excluded"));
	free(got);
	got = rows(tgt, "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n"
			   " ON n.oid = c.relnamespace WHERE c.relname LIKE 'tmp\\_%' OR n.nspname = 'scratch'"
			   " OR n.nspname = 'pgshift' UNION ALL SELECT nspname FROM pg_namespace"
			   " WHERE nspname IN ('scratch', 'pgshift')");
	is_str(got, "", NAME("excluded table, its sequence and schema are absent"));
	free(got);
#undef NAME
}

/* After sync_sequences (margin 1000), every sequence is past the source's position. */
static void
check_sequences(PGconn *src, PGconn *tgt, const char *who)
{
	static const char sql[] =
		"SELECT schemaname || '.' || sequencename, coalesce(last_value, 0)"
		" FROM pg_sequences WHERE schemaname IN ('app', 'select') ORDER BY 1";
	char *a = rows(src, sql), *b = rows(tgt, sql);
	char name[160], *sp, *tp;
	int n = 0, ahead = 0;

	for (char *sl = strtok_r(a, "\n", &sp), *tl = strtok_r(b, "\n", &tp); sl && tl;
		 sl = strtok_r(NULL, "\n", &sp), tl = strtok_r(NULL, "\n", &tp)) {
		long long sv = strtoll(strchr(sl, '|') + 1, NULL, 10);
		long long tv = strtoll(strchr(tl, '|') + 1, NULL, 10);

		n++;
		if (tv >= sv + 1000 || (strstr(sl, "free_seq") && tv >= sv))
			ahead++;
		else
			printf("# %s -> %s\n", sl, tl);
	}
	snprintf(name, sizeof(name), "%s: all %d sequences set past the source by the margin", who, n);
	ok(n >= 4 && ahead == n, name);
	free(a);
	free(b);
	a = rows(src, "SELECT last_value FROM app.orders_id_seq");
	b = rows(tgt, "SELECT last_value - 1000, is_called FROM app.orders_id_seq");
	snprintf(name, sizeof(name), "%s: identity sequence = source last_value + margin, called", who);
	{
		char *want = xasprintf("%.*s|t\n", (int) strcspn(a, "\n"), a);

		is_str(b, want, name);
		free(want);
	}
	free(a);
	free(b);
}

static long
find_step(const struct dag *dag, enum step_kind kind, const char *id)
{
	for (size_t s = 0; s < dag->n; s++)
		if (dag->steps[s].kind == kind && (!id || strcmp(dag->steps[s].id, id) == 0))
			return (long) s;
	return -1;
}

/* An index left invalid (a build that failed half way) is dropped and built again. */
static void
invalid_index_rebuilt(struct run *run, PGconn *tgt)
{
	long s = find_step(run->dag, STEP_INDEX, "index:app.orders_big");
	struct pgs_error err;
	char *got;

	PQclear(PQexec(tgt, "UPDATE pg_index SET indisvalid = false"
				   " WHERE indexrelid = 'app.orders_big'::regclass"));
	ok(s >= 0 && step_index(run, (size_t) s, &err), "index step over an invalid index succeeds");
	got = rows(tgt, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'app.orders_big'::regclass");
	is_str(got, "t\n", "the invalid index was built again");
	free(got);
}

/* The setting a run's first DDL session gets with index_jobs = jobs. */
static long
session_mwm_kb(const struct run *base, PGconn *conn, int jobs)
{
	struct plan plan = *base->plan;
	struct run run;
	struct pgs_error err;
	char *got;
	long kb;

	memset(&run, 0, sizeof(run));
	plan.copy.index_jobs = jobs;
	run.plan = &plan;
	pgs_error_clear(&err);
	if (!steps_ddl_session(&run, conn, &err))
		return -1;
	got = rows(conn, "SELECT setting FROM pg_settings WHERE name = 'maintenance_work_mem'");
	kb = atol(got);
	free(got);
	return kb;
}

/*
 * A DDL session's maintenance_work_mem: a quarter of the memory the target's
 * settings imply, shared by index_jobs sessions, between the server's own
 * setting and 2GB (the test clusters keep shared_buffers and
 * effective_cache_size at their defaults: 4GB / 3 / jobs).
 */
static void
ddl_session_memory(const struct run *run, PGconn *tgt)
{
	long one = session_mwm_kb(run, tgt, 1), four = session_mwm_kb(run, tgt, 4);
	long huge = session_mwm_kb(run, tgt, 100000);
	char *server = rows(tgt, "SELECT reset_val FROM pg_settings WHERE name = 'maintenance_work_mem'");
	struct plan plan = *run->plan;
	struct run again;
	struct pgs_error err;
	char *got;

	ok(one == 1398101 && four == 349525, "maintenance_work_mem: 4GB / 3 split over index_jobs");
	printf("# 1 job: %ld kB, 4 jobs: %ld kB, 100000 jobs: %ld kB\n", one, four, huge);
	ok(huge == atol(server), "... never below the server's own setting");
	free(server);
	/* a run's later sessions get the value its first one computed */
	memset(&again, 0, sizeof(again));
	plan.copy.index_jobs = 4;
	again.plan = &plan;
	pgs_error_clear(&err);
	PQclear(PQexec(tgt, "RESET maintenance_work_mem"));
	ok(steps_ddl_session(&again, tgt, &err) && strcmp(again.ddl_mem, "349525kB") == 0,
	   "the first DDL session of a run keeps the setting it computed");
	PQclear(PQexec(tgt, "RESET maintenance_work_mem"));
	ok(steps_ddl_session(&again, tgt, &err), "a later session sets it");
	got = rows(tgt, "SELECT setting FROM pg_settings WHERE name = 'maintenance_work_mem'");
	is_str(got, "349525\n", "... to the same value");
	free(got);
	PQclear(PQexec(tgt, "RESET maintenance_work_mem"));
}

/*
 * An FK is added NOT VALID, then validated in a second transaction. A run
 * stopped between the two leaves it NOT VALID: the step validates it; a row
 * that breaks it fails the step, naming it, and leaves what a re-run repairs.
 */
static void
fk_validated_later(struct run *run, PGconn *tgt)
{
	long s = find_step(run->dag, STEP_CONSTRAINT, "constraint:app.orders.orders_customer_id_fkey");
	struct pgs_error err;
	char *got;

	PQclear(PQexec(tgt, "ALTER TABLE app.orders DROP CONSTRAINT orders_customer_id_fkey;"
				   " ALTER TABLE app.orders ADD CONSTRAINT orders_customer_id_fkey"
				   " FOREIGN KEY (customer_id) REFERENCES app.customers (id) NOT VALID"));
	pgs_error_clear(&err);
	ok(s >= 0 && step_constraint(run, (size_t) s, &err), "FK step over a NOT VALID FK succeeds");
	got = rows(tgt, "SELECT convalidated FROM pg_constraint WHERE conname = 'orders_customer_id_fkey'");
	is_str(got, "t\n", "... and the FK is validated");
	free(got);
	PQclear(PQexec(tgt, "ALTER TABLE app.orders DROP CONSTRAINT orders_customer_id_fkey;"
				   " INSERT INTO app.orders (customer_id, qty, price) VALUES (424242, 1, 1)"));
	pgs_error_clear(&err);
	ok(s >= 0 && !step_constraint(run, (size_t) s, &err) &&
	   strstr(err.message, "could not add constraint \"orders_customer_id_fkey\""),
	   "an FK the rows break fails its step, naming it");
	printf("# %s: %s\n", err.message, err.detail);
	PQclear(PQexec(tgt, "DELETE FROM app.orders WHERE customer_id = 424242"));
	pgs_error_clear(&err);
	ok(s >= 0 && step_constraint(run, (size_t) s, &err), "... and a re-run after the fix succeeds");
	got = rows(tgt, "SELECT convalidated FROM pg_constraint WHERE conname = 'orders_customer_id_fkey'");
	is_str(got, "t\n", "... with the FK validated");
	free(got);
}

/*
 * A target holding some of the tables was not filled by pgshift's one
 * transaction: schema.pre refuses, naming what it found.
 */
static void
partial_target_refused(const struct catalog *cat,
					   const struct dag *dag, const char *tgt_uri, const char *dir)
{
	PGconn *admin = pgtest_connect(tgt_uri, "test", false), *conn;
	char *uri = xasprintf("%.*s/partial", (int) (strrchr(tgt_uri, '/') - tgt_uri), tgt_uri);
	struct plan *plan = load_plan(uri);
	struct run run;
	struct pgs_error err;
	long s = find_step(dag, STEP_SCHEMA_PRE, NULL);

	memset(&run, 0, sizeof(run));
	PQclear(PQexec(admin, "CREATE DATABASE partial"));
	conn = pgtest_connect(uri, "test", false);
	PQclear(PQexec(conn, "CREATE SCHEMA app; CREATE TABLE app.customers (id int)"));
	run.plan = plan;
	run.cat = cat;
	run.dag = dag;
	snprintf(run.workdir, sizeof(run.workdir), "%s/work", dir);
	pgs_error_clear(&err);
	ok(plan && s >= 0 && !step_schema_pre(&run, (size_t) s, &err),
	   "schema.pre refuses a target holding some of the tables");
	ok(strstr(err.message, "step schema.pre: the target already holds 1 of the 9 tables") &&
	   strstr(err.message, "\"app\".\"customers\" is there") && strstr(err.hint, "pgshift reset"),
	   "... naming one present table and pointing at reset");
	printf("# %s\n", err.message);
	PQfinish(conn);
	PQclear(PQexec(admin, "DROP DATABASE partial"));
	PQfinish(admin);
	plan_free(plan);
	free(uri);
}

/*
 * The cutover step verify reads the source catalog when it runs (DESIGN.md
 * §4a): a table created on the source after run.cat was read is a FAIL,
 * although run.cat does not know it.
 */
static void
verify_reads_source_catalog(struct run *run, PGconn *src)
{
	struct cutover_step cs = {.kind = CUTOVER_VERIFY, .level = VERIFY_SCHEMA};
	struct pgs_error err;

	pgs_error_clear(&err);
	ok(cutover_verify(run, &cs, &err), "cutover verify schema passes on the migrated target");
	PQclear(PQexec(src, "CREATE TABLE app.verify_late (id int)"));
	pgs_error_clear(&err);
	ok(!cutover_verify(run, &cs, &err) &&
	   strstr(err.message, "table app.verify_late: table missing on the target"),
	   "... and fails naming a table created on the source after the run's catalog was read");
	printf("# %s\n", err.message);
	PQclear(PQexec(src, "DROP TABLE app.verify_late"));
}

static void
migrate(const char *src_uri, const char *tgt_uri, const char *dir, const char *who)
{
	struct plan *plan = load_plan(tgt_uri);
	PGconn *src = pgtest_connect(src_uri, "test", false), *tgt = pgtest_connect(tgt_uri, "test", false);
	struct catalog cat;
	struct dag dag;
	struct pgs_error err;
	struct run run;

	memset(&run, 0, sizeof(run));
	if (!ok(plan && src && tgt, "plan loads, both servers answer") ||
		!ok(catalog_load(src, plan, &cat, &err), "catalog_load")) {
		PQfinish(src);
		PQfinish(tgt);
		plan_free(plan);
		return;
	}
	ok(dag_compile(plan, &cat, &dag, &err), "dag_compile");
	run.plan = plan;
	run.cat = &cat;
	run.dag = &dag;
	snprintf(run.workdir, sizeof(run.workdir), "%s/work", dir);
	run.progress = xcalloc(dag.n, sizeof(*run.progress));

	run_all(&run, src, tgt, 1, who);
	same_schema(src_uri, tgt_uri, dir, who);
	verify_target(src, tgt, who);
	check_sequences(src, tgt, who);
	run_all(&run, src, tgt, 2, who);
	same_schema(src_uri, tgt_uri, dir, who);
	verify_target(src, tgt, who);
	if (strcmp(who, "superuser") == 0) {
		invalid_index_rebuilt(&run, tgt);
		fk_validated_later(&run, tgt);
		ddl_session_memory(&run, tgt);
		partial_target_refused(&cat, &dag, tgt_uri, dir);
		verify_reads_source_catalog(&run, src);
	}

	free(run.progress);
	rmdir(run.workdir);
	dag_free(&dag);
	catalog_free(&cat);
	plan_free(plan);
	PQfinish(src);
	PQfinish(tgt);
}

int
main(void)
{
	const char *src = getenv("SOURCE_URI"), *tgt = getenv("TARGET_URI");
	const char *mig = getenv("MIGRATOR_URI");
	char tmpl[] = "/tmp/pgshift-ddl-XXXXXX";
	char *dir = mkdtemp(tmpl);

	/* whole lines, so the steps' log lines on stderr never split a TAP line */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!src || !tgt || !mig || !dir) {
		printf("1..0 # SKIP SOURCE_URI, TARGET_URI and MIGRATOR_URI are not all set\n");
		return 0;
	}
	migrate(src, tgt, dir, "superuser");
	migrate(src, mig, dir, "non-superuser");
	rmdir(dir);
	return done_testing();
}
