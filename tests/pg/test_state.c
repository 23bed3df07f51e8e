/*
 * The run state on a real target (engine/state/), run by
 * tests/integration/state.t with TARGET_URI set: schema creation (twice,
 * and four processes' worth of connections racing), the per-plan lock,
 * starting and resuming runs, the plan-hash check, step transitions,
 * approval from a second connection while the lock is held, created
 * objects, reading for `status`, and dropping the state.
 *
 * `test_state seed NAME` instead leaves a run of plan NAME with steps in
 * every status on the target, for tests/integration/status.t.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "pg/conn.h"
#include "plan/plan.h"
#include "state/state.h"
#include "util/xalloc.h"

static const char sha_a[] = "aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111";
static const char sha_b[] = "bbbbbbbbbbbb2222222222222222222222222222222222222222222222222222";

/* Only what engine/state/ reads of a plan: its name, target and file. */
static struct plan
make_plan(const char *name, const char *uri)
{
	struct plan p;

	memset(&p, 0, sizeof(p));
	p.name = (char *) name;
	p.target_uri = (char *) uri;
	p.file = (char *) "plan.yaml";
	return p;
}

/* First value of a one-row query on the checker connection, as a malloc'd string ("(null)"). */
static char *
q1(PGconn *c, const char *sql, const char *param)
{
	const char *params[1] = {param};
	PGresult *res = PQexecParams(c, sql, param ? 1 : 0, NULL, param ? params : NULL, NULL,
								 NULL, 0);
	char *v;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1)
		v = xasprintf("(error: %s)", PQresultErrorMessage(res));
	else
		v = xstrdup(PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static void
is_q(PGconn *c, const char *sql, const char *param, const char *want, const char *name)
{
	char *got = q1(c, sql, param);

	is_str(got, want, name);
	free(got);
}

static void
test_schema(PGconn *chk, struct state *st)
{
	struct pgs_error err;

	pgs_error_clear(&err);
	ok(state_ensure_schema(st, &err), "state_ensure_schema creates the schema");
	ok(state_ensure_schema(st, &err), "state_ensure_schema a second time is a no-op");
	is_q(chk, "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c"
		 " WHERE c.relnamespace = 'pgshift'::regnamespace AND c.relkind = 'r'", NULL,
		 "created_objects,held_triggers,identity_changes,manifest,restore_batches,run_dag,runs,steps,"
		 "table_sync,target_baseline",
		 "pgshift holds runs, steps, created_objects, held_triggers, identity_changes, manifest,"
		 " restore_batches, run_dag, table_sync and target_baseline");
	is_q(chk, "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute"
		 " WHERE attrelid = 'pgshift.steps'::regclass AND attnum > 0 AND NOT attisdropped", NULL,
		 "plan,step_id,status,attempts,rows,bytes,total_bytes,started_at,finished_at,"
		 "updated_at,error", "pgshift.steps has the documented columns");
	is_q(chk, "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
		 " WHERE conrelid = 'pgshift.runs'::regclass AND contype = 'p'", NULL,
		 "PRIMARY KEY (plan)", "pgshift.runs is keyed by plan");
}

static void
test_lock(const char *uri, struct state **st_a)
{
	struct plan a = make_plan("state_a", uri), b = make_plan("state_b", uri);
	struct pgs_error err;
	struct state *again, *other;
	bool locked = false;

	pgs_error_clear(&err);
	again = state_open(&a, &locked, &err);
	ok(!again && locked, "a second state_open of the same plan is refused as locked");
	is_str(err.message, "another pgshift apply of plan \"state_a\" is running (it holds the "
		   "advisory lock on the target)", "the refusal names the plan");
	ok(err.hint[0] != '\0', "the refusal has a hint");
	ok(strstr(err.detail, "server process") != NULL, "the refusal names the lock's holder");
	other = state_open(&b, &locked, &err);
	ok(other && !locked, "another plan is not blocked by the lock");
	state_close(other);
	state_close(*st_a);
	*st_a = state_open(&a, &locked, &err);
	ok(*st_a && !locked, "the lock is released by state_close");
	if (!*st_a)
		printf("# %s\n", err.message);
}

static void
test_runs(PGconn *chk, struct state *st)
{
	struct pgs_error err;
	char run_id[40], again[40];
	bool resuming = true;

	pgs_error_clear(&err);
	ok(state_begin_run(st, sha_a, false, &resuming, run_id, sizeof(run_id), &err) && !resuming,
	   "begin_run without a row starts a new run");
	is_int(strlen(run_id), 36, "the run id is a UUID");
	ok(run_id[14] == '4' && strchr("89ab", run_id[19]), "the run id is a version 4 UUID");
	is_q(chk, "SELECT run_id::text FROM pgshift.runs WHERE plan = $1", "state_a", run_id,
		 "the run row holds the run id");
	ok(state_begin_run(st, sha_a, false, &resuming, again, sizeof(again), &err) && resuming,
	   "begin_run with the same plan hash resumes");
	is_str(again, run_id, "resuming keeps the run id");
	ok(!state_begin_run(st, sha_b, false, &resuming, again, sizeof(again), &err),
	   "begin_run refuses a changed plan file");
	{
		char *want = xasprintf("the plan file changed since run %s began "
							   "(sha256 aaaaaaaaaaaa… → bbbbbbbbbbbb…)", run_id);

		is_str(err.message, want, "the refusal names the run and both hashes");
		free(want);
	}
	is_str(err.hint, "apply --force resumes anyway; pgshift reset starts over",
		   "the refusal says how to go on");
	is_q(chk, "SELECT plan_sha256 FROM pgshift.runs WHERE plan = $1", "state_a", sha_a,
		 "a refused resume leaves the hash");
	ok(state_begin_run(st, sha_b, true, &resuming, again, sizeof(again), &err) && resuming,
	   "begin_run with force resumes a changed plan");
	is_q(chk, "SELECT plan_sha256 FROM pgshift.runs WHERE plan = $1", "state_a", sha_b,
		 "force records the new hash");
}

static void
test_steps(PGconn *chk, struct state *st)
{
	struct pgs_error err;
	const char *sql = "SELECT concat_ws(' ', status, attempts, rows, bytes, total_bytes,"
					  " started_at IS NOT NULL, finished_at IS NOT NULL, coalesce(error, '-'))"
					  " FROM pgshift.steps WHERE plan = 'state_a' AND step_id = $1";

	pgs_error_clear(&err);
	ok(state_step_started(st, "copy:public.t", 4096, &err), "step started");
	is_q(chk, "SELECT count(*) FROM pgshift.steps WHERE plan = 'state_a' AND step_id = $1",
		 "copy:public.t", "0", "a start is only queued");
	ok(state_flush_steps(st, &err), "the queue is written");
	is_q(chk, sql, "copy:public.t", "running 1 0 0 4096 t f -", "started: running, attempt 1");
	ok(state_step_progress(st, "copy:public.t", 10, 2048, &err) && state_flush_steps(st, &err),
	   "step progress");
	is_q(chk, sql, "copy:public.t", "running 1 10 2048 4096 t f -", "progress: rows and bytes");
	ok(state_step_failed(st, "copy:public.t", "could not copy: boom", &err), "step failed");
	is_q(chk, sql, "copy:public.t", "failed 1 10 2048 4096 t t could not copy: boom",
		 "failed: status and error text");
	ok(state_step_started(st, "copy:public.t", 4096, &err) && state_flush_steps(st, &err),
	   "step started again");
	is_q(chk, sql, "copy:public.t", "running 2 0 0 4096 t f -",
		 "a retry counts attempt 2 and starts from scratch");
	ok(state_step_finished(st, "copy:public.t", 20, 4096, &err), "step finished");
	is_q(chk, sql, "copy:public.t", "done 2 20 4096 4096 t t -", "finished: done with totals");
	ok(state_step_started(st, "index:public.t_pkey", 0, &err), "a second step started");
	ok(state_step_started(st, "vacuum:public.t", 0, &err) &&
	   state_step_progress(st, "vacuum:public.t", 3, 30, &err) &&
	   state_step_finished(st, "vacuum:public.t", 5, 50, &err),
	   "a third step started, progressed and finished");
	is_q(chk, sql, "index:public.t_pkey", "running 1 0 0 0 t f -",
		 "a step's end writes the starts queued before it");
	is_q(chk, sql, "vacuum:public.t", "done 1 5 50 0 t t -",
		 "a start, progress and end queued together: one row, attempt 1");
}

static void
test_resume_pending(PGconn *chk, const char *uri, struct state **st)
{
	struct plan a = make_plan("state_a", uri);
	struct pgs_error err;
	char run_id[40];
	bool locked, resuming = false;

	pgs_error_clear(&err);
	state_close(*st);                           /* an apply that died mid-step */
	*st = state_open(&a, &locked, &err);
	ok(*st && state_begin_run(*st, sha_b, false, &resuming, run_id, sizeof(run_id), &err) &&
	   resuming, "a new apply resumes the run");
	is_q(chk, "SELECT status || ' ' || attempts FROM pgshift.steps WHERE plan = 'state_a'"
		 " AND step_id = $1", "index:public.t_pkey", "pending 1",
		 "an interrupted step is pending again, its attempts kept");
	is_q(chk, "SELECT status FROM pgshift.steps WHERE plan = 'state_a' AND step_id = $1",
		 "copy:public.t", "done", "a done step stays done");
}

static void
test_approval(const char *uri, struct state *st)
{
	struct plan a = make_plan("state_a", uri), none = make_plan("state_none", uri);
	struct approval ap;
	struct pgs_error err;
	bool approved = true;

	pgs_error_clear(&err);
	ok(state_is_approved(st, &approved, &err) && !approved, "not approved at first");
	ok(state_approve_plan(&a, &ap, &err) && ap.exists && ap.live && !ap.waiting && !ap.approved_at,
	   "a live apply not at the gate is not approved");
	approval_free(&ap);
	ok(state_is_approved(st, &approved, &err) && !approved, "still not approved");
	ok(state_gate_wait(st, true, &err), "the apply waits at the gate");
	ok(state_approve_plan(&a, &ap, &err) && ap.exists && ap.waiting && !ap.already,
	   "approval from another connection while apply waits at the gate");
	ok(ap.run_id && ap.approved_by && ap.approved_at > 0, "approval returns run, role and time");
	is_str(ap.status, "running", "approval sees the run's status");
	approval_free(&ap);
	ok(state_is_approved(st, &approved, &err) && approved, "the lock holder sees the approval");
	ok(state_approve_plan(&a, &ap, &err) && ap.exists && ap.already,
	   "approving twice says it was approved already");
	approval_free(&ap);
	ok(state_gate_wait(st, false, &err) && state_is_approved(st, &approved, &err) && !approved,
	   "an approval counts only while its session waits at the gate");
	ok(state_approve(st, &err), "state_approve on the locked state works too");
	ok(state_approve_plan(&none, &ap, &err) && !ap.exists, "approving a plan without run: no run");
	approval_free(&ap);
}

static void
test_objects(PGconn *chk, struct state *st)
{
	struct pgs_error err;

	pgs_error_clear(&err);
	ok(state_record_object(st, "table", "public", "t", &err), "record a table");
	ok(state_record_object(st, "table", "public", "t", &err), "record it again");
	ok(state_record_object(st, "schema", NULL, "app", &err), "record a schema");
	is_q(chk, "SELECT string_agg(kind || ':' || schema_name || '.' || object_name, ','"
		 " ORDER BY kind) FROM pgshift.created_objects WHERE plan = $1", "state_a",
		 "schema:.app,table:public.t", "created objects are listed once each");
}

static void
test_read(PGconn *chk, const char *uri, struct state *st)
{
	struct plan a = make_plan("state_a", uri), none = make_plan("state_none", uri);
	struct run_state rs;
	struct pgs_error err;
	const char *params[3] = {"state_a", "0/3000100", NULL};
	bool exists;

	pgs_error_clear(&err);
	ok(state_set_received_lsn(st, "0/3000300", NULL, "0/3000200", &err), "record the source and received LSN");
	PQclear(PQexecParams(chk, state_applied_lsn_sql, 3, NULL, params, NULL, NULL, 0));
	ok(state_set_fenced(st, true, &err), "record fenced");
	ok(state_read(&a, &rs, &exists, &err) && exists, "state_read finds the run");
	is_str(rs.status, "running", "read: status");
	ok(rs.approved && rs.approved_by && rs.approved_at > 0, "read: approval");
	ok(rs.fenced, "read: fenced");
	is_str(rs.received_lsn, "0/3000200", "read: received LSN");
	is_str(rs.applied_lsn, "0/3000100", "read: applied LSN (written by the applier's SQL)");
	is_str(rs.source_lsn, "0/3000300", "read: source LSN");
	is_int(rs.lag_bytes, 512, "read: lag = source - applied");
	is_int(rs.receive_lag_bytes, 256, "read: receive lag = source - received");
	is_int(rs.apply_lag_bytes, 256, "read: apply lag = received - applied");
	is_int(rs.nsteps, 3, "read: the three steps");
	ok(rs.nsteps == 3 && strcmp(rs.steps[0].step_id, "copy:public.t") == 0 &&
	   rs.steps[0].status == STEP_DONE && rs.steps[0].rows == 20 && rs.steps[0].attempts == 2,
	   "read: the done step with rows and attempts");
	run_state_free(&rs);
	ok(state_read(&none, &rs, &exists, &err) && !exists, "state_read of a plan without run");
	ok(state_finish_run(st, true, NULL, &err), "finish the run");
	is_q(chk, "SELECT status || ' ' || (finished_at IS NOT NULL) FROM pgshift.runs"
		 " WHERE plan = $1", "state_a", "finished true", "finished: status and time");
}

struct racer {
	const char *uri;
	char name[32];
	bool ok;
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	struct plan p = make_plan(r->name, r->uri);
	struct pgs_error err;
	struct state *st;
	char run_id[40];
	bool locked, resuming;

	pgs_error_clear(&err);
	st = state_open(&p, &locked, &err);
	r->ok = st && state_ensure_schema(st, &err) &&
			state_begin_run(st, sha_a, false, &resuming, run_id, sizeof(run_id), &err);
	if (!r->ok)
		printf("# %s: %s\n", r->name, err.message);
	state_close(st);
	return NULL;
}

/* Four connections create the schema at once; every one must succeed. */
static void
test_race(PGconn *chk, const char *uri)
{
	struct racer r[4];
	pthread_t t[4];
	int n = 0;

	for (int i = 0; i < 4; i++) {
		r[i].uri = uri;
		snprintf(r[i].name, sizeof(r[i].name), "race_%d", i);
		pthread_create(&t[i], NULL, race, &r[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		n += r[i].ok;
	}
	is_int(n, 4, "four racing creators all succeed");
	is_q(chk, "SELECT count(*) FROM pgshift.runs WHERE plan LIKE 'race%'", NULL, "4",
		 "each racer has its run");
}

static void
drop_plan(const char *uri, const char *name, const char *label)
{
	struct plan p = make_plan(name, uri);
	struct pgs_error err;
	struct state *st;
	bool locked;

	pgs_error_clear(&err);
	st = state_open(&p, &locked, &err);
	ok(st && state_drop(st, &err), label);
	if (!st || err.message[0])
		printf("# %s\n", err.message);
	state_close(st);
}

static void
test_drop(PGconn *chk, const char *uri, struct state *st)
{
	struct pgs_error err;

	pgs_error_clear(&err);
	ok(state_drop(st, &err), "state_drop of plan state_a");
	is_q(chk, "SELECT (SELECT count(*) FROM pgshift.runs WHERE plan = 'state_a') +"
		 " (SELECT count(*) FROM pgshift.steps WHERE plan = 'state_a')", NULL, "0",
		 "its rows are gone");
	is_q(chk, "SELECT count(*) FROM pgshift.created_objects WHERE plan = 'state_a'", NULL, "2",
		 "what apply created stays listed for reset");
	ok(state_drop_all(st, &err), "state_drop_all (reset) of plan state_a");
	is_q(chk, "SELECT count(*) FROM pgshift.created_objects WHERE plan = 'state_a'", NULL, "0",
		 "and then that list is gone too");
	is_q(chk, "SELECT to_regnamespace('pgshift') IS NOT NULL", NULL, "t",
		 "the schema stays while other plans have rows");
	for (int i = 0; i < 4; i++) {
		char name[32];

		snprintf(name, sizeof(name), "race_%d", i);
		drop_plan(uri, name, "state_drop of a racer's plan");
	}
	is_q(chk, "SELECT to_regnamespace('pgshift') IS NULL", NULL, "t",
		 "the schema is dropped with the last plan's rows");
	ok(state_drop(st, &err), "state_drop without a schema is a no-op");
}

/* An object that is not pgshift's in schema pgshift keeps the schema (no CASCADE). */
static void
test_drop_foreign(PGconn *chk, const char *uri)
{
	struct plan p = make_plan("state_keep", uri);
	struct pgs_error err;
	struct state *st;
	char run_id[40];
	bool locked, resuming;

	pgs_error_clear(&err);
	st = state_open(&p, &locked, &err);
	ok(st && state_begin_run(st, sha_a, false, &resuming, run_id, sizeof(run_id), &err),
	   "a run creates the schema again");
	PQclear(PQexec(chk, "CREATE TABLE pgshift.keep_me (id int)"));
	ok(st && state_drop(st, &err), "state_drop with a foreign table in the schema");
	is_q(chk, "SELECT string_agg(relname, ',') FROM pg_class"
		 " WHERE relnamespace = 'pgshift'::regnamespace AND relkind = 'r'", NULL, "keep_me",
		 "our tables are dropped, the foreign table and the schema stay");
	PQclear(PQexec(chk, "DROP TABLE pgshift.keep_me; DROP SCHEMA pgshift"));
	state_close(st);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Ends the session holding plan's advisory lock and waits until it is gone; its pid or NULL. */
static char *
kill_lock_holder(PGconn *chk, const char *plan)
{
	char *pid = q1(chk, "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
				   " AND ((l.classid::bigint << 32) | l.objid::bigint) ="
				   " hashtextextended('pgshift:' || $1, 0)", plan);
	char *gone = NULL;

	free(q1(chk, "SELECT pg_terminate_backend($1::int)", pid));
	for (int i = 0; i < 100; i++) {
		free(gone);
		gone = q1(chk, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int", pid);
		if (strcmp(gone, "0") == 0)
			break;
		sleep_ms(50);
	}
	free(gone);
	return pid;
}

/*
 * A lost state session (here: its backend terminated, 57P01, as a target
 * restart would) is opened again and its lock taken again by the next
 * call; if another session took the lock meanwhile, that call and every
 * later one fail saying so.
 */
static void
test_reconnect(PGconn *chk, const char *uri)
{
	struct plan p = make_plan("state_r", uri);
	struct pgs_error err;
	struct state *st;
	char *old, *now;
	bool locked;
	PGconn *other;

	pgs_error_clear(&err);
	p.cdc.reconnect_for_ms = 5000;
	st = state_open(&p, &locked, &err);
	if (!st || !state_ensure_schema(st, &err)) {
		printf("# %s\n", err.message);
		return;
	}
	old = kill_lock_holder(chk, "state_r");
	ok(st && state_set_received_lsn(st, NULL, NULL, NULL, &err), "a call after the session was terminated works");
	now = q1(chk, "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
			 " AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended('pgshift:' || $1, 0)",
			 "state_r");
	ok(strcmp(now, old) != 0 && strncmp(now, "(", 1) != 0, "the plan's lock is held again, by a new session");
	free(old);
	free(now);

	old = kill_lock_holder(chk, "state_r");
	other = pg_connect(uri, &(struct pg_session) {"target", "pgshift-test", false, false, false, false},
					   &err);
	free(q1(other, "SELECT pg_advisory_lock(hashtextextended('pgshift:' || $1, 0))", "state_r"));
	pgs_error_clear(&err);
	ok(!state_set_received_lsn(st, NULL, NULL, NULL, &err), "when another session took the lock meanwhile, the call fails");
	ok(strstr(err.message, "the target was unreachable and, meanwhile, the advisory lock of plan"
			  " \"state_r\" was taken by another session") != NULL, "saying so");
	printf("# %s\n", err.message);
	pgs_error_clear(&err);
	ok(!state_check_lock(st, &err) && strstr(err.message, "was taken by another session"),
	   "state_check_lock says it too, so the run stops");
	free(old);
	state_close(st);
	PQfinish(other);
}

static int
run_all(const char *uri)
{
	struct pg_session s = {"target", "pgshift-test", false, false, false, false};
	struct plan a = make_plan("state_a", uri);
	struct pgs_error err;
	struct state *st;
	PGconn *chk;
	bool locked = true;

	pgs_error_clear(&err);
	chk = pg_connect(uri, &s, &err);
	st = chk ? state_open(&a, &locked, &err) : NULL;
	if (!st) {
		printf("Bail out! setup failed: %s\n", err.message);
		return 1;
	}
	ok(!locked, "state_open takes the lock of a free plan");
	test_schema(chk, st);
	test_lock(uri, &st);
	if (!st)
		return printf("Bail out! could not reopen the state\n"), 1;
	test_runs(chk, st);
	test_steps(chk, st);
	test_resume_pending(chk, uri, &st);
	if (!st)
		return printf("Bail out! could not reopen the state\n"), 1;
	test_approval(uri, st);
	test_objects(chk, st);
	test_read(chk, uri, st);
	test_race(chk, uri);
	test_drop(chk, uri, st);
	test_drop_foreign(chk, uri);
	test_reconnect(chk, uri);
	state_close(st);
	PQfinish(chk);
	return done_testing();
}

/* The state status.t reads: every step status, CDC positions, not approved. */
static int
seed(const char *uri, const char *name)
{
	struct plan p = make_plan(name, uri);
	struct pgs_error err;
	struct state *st;
	char run_id[40];
	bool locked, resuming;
	bool ok;

	pgs_error_clear(&err);
	st = state_open(&p, &locked, &err);
	ok = st && state_begin_run(st, sha_a, false, &resuming, run_id, sizeof(run_id), &err) &&
		 state_step_started(st, "preflight", 0, &err) &&
		 state_step_finished(st, "preflight", 0, 0, &err) &&
		 state_step_started(st, "copy:public.orders", 1048576, &err) &&
		 state_step_finished(st, "copy:public.orders", 1000, 1048576, &err) &&
		 state_step_started(st, "copy:public.items", 2097152, &err) &&
		 state_step_progress(st, "copy:public.items", 500, 1048576, &err) &&
		 state_step_started(st, "index:public.orders_pkey", 0, &err) &&
		 state_step_failed(st, "index:public.orders_pkey", "could not create index: boom", &err) &&
		 state_set_received_lsn(st, "0/5000600", NULL, "0/5000400", &err);
	if (!ok) {
		fprintf(stderr, "seed failed: %s\n", err.message);
		state_close(st);
		return 1;
	}
	printf("%s\n", run_id);
	state_close(st);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *uri = getenv("TARGET_URI");

	if (!uri) {
		printf("1..0 # SKIP TARGET_URI is not set (run tests/integration/state.t)\n");
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "seed") == 0)
		return seed(uri, argv[2]);
	return run_all(uri);
}
