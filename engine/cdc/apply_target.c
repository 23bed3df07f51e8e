/*
 * The applier's target connection. It stays in libpq pipeline mode: BEGIN,
 * PREPAREs, the changes, the applied-LSN update and COMMIT are sent without
 * waiting for each answer, and the answers are read back in order from a
 * queue of what was sent, which is how a failed statement is still named
 * by its table, xid, LSN and key. The queue is drained every PIPELINE_DEPTH
 * statements: each answer is a few dozen bytes, so the server never blocks
 * on a full socket while we block on sending (the deadlock libpq warns of in
 * blocking pipeline mode).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "cdc/apply_int.h"
#include "cdc/cdc_slot.h"
#include "pg/conn.h"
#include "pg/retry.h"
#include "state/state.h"
#include "util/xalloc.h"

#define PIPELINE_DEPTH 512
#define PG_EPOCH_OFFSET_S INT64_C(946684800)

static bool
conn_fail(struct apply_target *t, const char *what, struct pgs_error *err)
{
	const char *why = PQerrorMessage(t->conn);
	size_t len = strlen(why);

	while (len > 0 && (why[len - 1] == '\n' || why[len - 1] == ' '))
		len--;
	pgs_fail(err, "%s: %.*s", what, (int) len, len ? why : "connection lost");
	pg_error_mark_lost(err, t->conn);
	return false;
}

bool
apply_target_connect(struct apply_target *t, const char *conninfo, const char *app_name,
					 struct pgs_error *err)
{
	struct pg_session s = {"target", app_name, false, false, true, false};

	t->conn = pg_connect(conninfo, &s, err);
	if (!t->conn)
		return false;
	/* what the source's triggers and FK actions did arrives as changes of its own */
	if (!pg_exec(t->conn, "SET session_replication_role = replica", 0, NULL, err)) {
		pgs_error_prefix(err, "could not configure the applier's target session");
		pgs_error_hint(err, "session_replication_role needs superuser or, from PostgreSQL 15,"
					   " a role granted SET on it");
		return false;
	}
	/*
	 * An applied LSN the target acknowledged lets the spool below it go:
	 * with the target's synchronous_commit = off a crash of the target could
	 * take back that commit after its spool was deleted. So it is durable
	 * before the answer.
	 */
	if (!pg_exec(t->conn, "SET synchronous_commit = on", 0, NULL, err)) {
		pgs_error_prefix(err, "could not configure the applier's target session");
		return false;
	}
	return true;
}

/* From here on every statement goes through the pipeline. */
bool
apply_target_pipeline(struct apply_target *t, struct pgs_error *err)
{
	if (!PQenterPipelineMode(t->conn))
		return conn_fail(t, "could not enter pipeline mode on the target", err);
	return true;
}

/* Before pipeline mode: the applied LSN a previous applier committed. */
bool
apply_target_read_applied(struct apply_target *t, const char *plan, bool *found, uint64_t *lsn,
						  struct pgs_error *err)
{
	const char *params[1] = {plan};
	PGresult *res = pg_query(t->conn, "SELECT applied_lsn::text FROM pgshift.runs WHERE plan = $1",
							 1, params, err);
	bool ok = res != NULL;

	*found = false;
	*lsn = 0;
	if (ok && PQntuples(res) != 1) {
		ok = pgs_fail(err, "plan \"%s\" has no run in pgshift.runs on the target", plan);
		pgs_error_hint(err, "the applier records its progress in the run that apply started");
	} else if (ok && !PQgetisnull(res, 0, 0)) {
		*found = true;
		if (!cdc_lsn_parse(PQgetvalue(res, 0, 0), lsn))
			ok = pgs_fail(err, "pgshift.runs.applied_lsn is \"%s\"", PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return ok;
}

static void
push_bulk(struct apply_target *t, const struct apply_pending *p, struct apply_bulk *bulk)
{
	if (t->npending == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->pending = xrealloc(t->pending, t->cap * sizeof(*t->pending));
		t->bulks = xrealloc(t->bulks, t->cap * sizeof(*t->bulks));
	}
	t->bulks[t->npending] = bulk;
	t->pending[t->npending++] = *p;
}

static void
push(struct apply_target *t, const struct apply_pending *p)
{
	push_bulk(t, p, NULL);
}

static void
clear_pending(struct apply_target *t)
{
	for (size_t i = 0; i < t->npending; i++) {
		free(t->pending[i].key);
		apply_bulk_free(t->bulks[i]);
	}
	t->npending = 0;
}

static const char *
what_name(char what)
{
	switch (what) {
		case 'P': return "PREPARE";
		case 'B': return "BEGIN";
		case 'I': return "INSERT";
		case 'U': return "UPDATE";
		case 'D': return "DELETE";
		case 'T': return "TRUNCATE";
		case 'S': return "the applied LSN update";
		case 'X': return "replicated DDL";
		case 'Q': return "setting a replicated DDL's role or search_path";
		case 'M': return "recording what a replicated DDL created (pgshift.manifest)";
		default: return "COMMIT";
	}
}

/* Every apply error names the table, the source xid and the commit LSN. */
static bool
fail_entry(const struct apply_pending *p, struct pgs_error *err)
{
	struct apply_ctx ctx = {p->xid, p->lsn};

	pgs_error_prefix(err, "%s", what_name(p->what));
	return apply_fail_ctx(err, p->table, &ctx);
}

static bool
diverged(const char *key, struct pgs_error *err)
{
	if (key)
		pgs_error_detail(err, "replica identity %s", key);
	pgs_error_hint(err, "the target diverged from the source (written to by someone else,"
				   " or not copied from the slot's snapshot); start the migration over");
	return false;
}

/*
 * A multi-row UPDATE or DELETE returns the ordinal of each row it touched:
 * every ordinal exactly once, or the first row that matched no row (or
 * several) is named with its key and its source transaction.
 */
static bool
check_bulk(const struct apply_pending *p, const struct apply_bulk *b, PGresult *res,
		   struct pgs_error *err)
{
	unsigned char *seen = xcalloc(b->nrows, 1);
	struct apply_pending row = *p;
	size_t bad = b->nrows;
	char *key;

	for (int i = 0; i < PQntuples(res); i++) {
		long n = strtol(PQgetvalue(res, i, 0), NULL, 10);

		if (n >= 1 && (size_t) n <= b->nrows && seen[n - 1] < 2)
			seen[n - 1]++;
	}
	for (size_t i = 0; i < b->nrows && bad == b->nrows; i++)
		if (seen[i] != 1)
			bad = i;
	if (bad == b->nrows) {
		free(seen);
		return true;
	}
	pgs_fail(err, "%s rows matched on the target instead of one", seen[bad] ? "2 or more" : "0");
	free(seen);
	key = apply_bulk_key(b, bad);
	diverged(key, err);
	free(key);
	row.xid = b->ctx[bad].xid;
	row.lsn = b->ctx[bad].commit_lsn;
	return fail_entry(&row, err);
}

/*
 * The role a server's 'role "NAME" does not exist' names, malloc'd, or
 * NULL. Roles are global objects: no event trigger sees their creation on
 * the source, so a GRANT to a role made during CDC meets a target without it.
 */
static char *
missing_role(const struct pgs_error *err)
{
	const char *s = strstr(err->message, "role \""), *end;

	if (strcmp(err->sqlstate, "42704") != 0 || !s)
		return NULL;
	s += strlen("role \"");
	end = strstr(s, "\" does not exist");
	return end ? xstrndup(s, (size_t) (end - s)) : NULL;
}

/* A replicated DDL the target refused: the statement, and how to go on from here. */
static void
ddl_refused(const struct apply_pending *p, struct pgs_error *err)
{
	char *role = missing_role(err);

	pgs_error_detail(err, "statement: %.2000s%s", p->key, strlen(p->key) > 2000 ? "..." : "");
	if (role)
		pgs_error_hint(err, "nothing of this source transaction was applied (cdc.ddl: "
					   "replicate); roles are not replicated: create role \"%s\" on the target "
					   "(as on the source), then pgshift apply PLAN again: it resumes at the "
					   "applied LSN and runs the statement again", role);
	else
		pgs_error_hint(err, "nothing of this source transaction was applied (cdc.ddl: "
					   "replicate); when it needs an object the plan's filters exclude, "
					   "include that object and start over (pgshift reset PLAN --yes, then "
					   "pgshift apply PLAN): one made by hand on the target gets no rows; "
					   "else make the target able to run the statement, then pgshift apply "
					   "PLAN again: it runs again at the applied LSN");
	free(role);
}

static bool
check_result(const struct apply_pending *p, const struct apply_bulk *bulk, PGresult *res,
			 struct pgs_error *err)
{
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_FATAL_ERROR || st == PGRES_PIPELINE_ABORTED || !res) {
		pg_fail_result(err, res, "the target refused it");
		if (p->what == 'X' && p->key)
			ddl_refused(p, err);
		return fail_entry(p, err);
	}
	if (bulk)
		return check_bulk(p, bulk, res, err);
	if (p->expect_one && p->what == 'S' && strcmp(PQcmdTuples(res), "1") != 0) {
		pgs_fail(err, "the run's row in pgshift.runs is gone");
		return fail_entry(p, err);
	}
	if (p->expect_one && strcmp(PQcmdTuples(res), "1") != 0) {
		pgs_fail(err, "%s rows matched on the target instead of one", PQcmdTuples(res));
		diverged(p->key, err);
		return fail_entry(p, err);
	}
	return true;
}

/* Reads the answer of every queued statement, in order. */
static bool
drain(struct apply_target *t, struct pgs_error *err)
{
	bool ok = true;

	for (size_t i = 0; i < t->npending && ok; i++) {
		PGresult *res = PQgetResult(t->conn);

		if (!res)
			ok = conn_fail(t, "the target sent no answer", err);
		else
			ok = check_result(&t->pending[i], t->bulks[i], res, err);
		if (!ok)
			pg_error_mark_lost(err, t->conn);
		PQclear(res);
		/* each statement's results end with a NULL */
		while (ok && (res = PQgetResult(t->conn)) != NULL) {
			PQclear(res);
			ok = pgs_fail(err, "the target sent an unexpected second result");
		}
	}
	clear_pending(t);
	return ok;
}

/* Asks the server to flush its answers, then reads every one. */
static bool
flush_drain(struct apply_target *t, struct pgs_error *err)
{
	if (!PQsendFlushRequest(t->conn) || PQflush(t->conn) != 0)
		return conn_fail(t, "could not send to the target", err);
	return drain(t, err);
}

/* Keeps the queue short. */
static bool
maybe_drain(struct apply_target *t, struct pgs_error *err)
{
	return t->npending < PIPELINE_DEPTH || flush_drain(t, err);
}

bool
apply_target_begin(struct apply_target *t, struct pgs_error *err)
{
	struct apply_pending p = {.what = 'B'};

	if (t->in_txn)
		return true;
	if (!PQsendQueryParams(t->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0))
		return conn_fail(t, "could not send BEGIN to the target", err);
	push(t, &p);
	t->in_txn = true;
	t->changes = 0;
	t->started_us = apply_now_us();
	return true;
}

bool
apply_target_prepare(struct apply_target *t, const char *name, const char *sql, int nparams,
					 const uint32_t *types, const struct apply_pending *what,
					 struct pgs_error *err)
{
	struct apply_pending p = *what;

	p.what = 'P';
	p.expect_one = false;
	p.key = NULL;
	if (!PQsendPrepare(t->conn, name, sql, nparams, types))
		return conn_fail(t, "could not send PREPARE to the target", err);
	push(t, &p);
	return true;
}

bool
apply_target_send(struct apply_target *t, const char *stmt, int nparams,
				  const char *const *values, const int *lengths, const struct apply_pending *what,
				  struct pgs_error *err)
{
	/* text format: the target parses each value with its own input function */
	if (!PQsendQueryPrepared(t->conn, stmt, nparams, values, lengths, NULL, 0)) {
		free(what->key);
		conn_fail(t, "could not send a change to the target", err);
		return fail_entry(what, err);
	}
	push(t, what);
	t->changes++;
	return maybe_drain(t, err);
}

bool
apply_target_push(struct apply_target *t, struct pgs_error *err)
{
	if (PQflush(t->conn) != 0)
		return conn_fail(t, "could not send to the target", err);
	return true;
}

bool
apply_target_send_bulk(struct apply_target *t, const char *stmt, const char *sql,
					   int nparams, const uint32_t *types, const char *const *values,
					   const struct apply_pending *what, struct apply_bulk *bulk,
					   struct pgs_error *err)
{
	int sent = stmt ? PQsendQueryPrepared(t->conn, stmt, nparams, values, NULL, NULL, 0) :
		PQsendQueryParams(t->conn, sql, nparams, types, values, NULL, NULL, 0);

	if (!sent) {
		apply_bulk_free(bulk);
		conn_fail(t, "could not send a change to the target", err);
		return fail_entry(what, err);
	}
	push_bulk(t, what, bulk);
	return maybe_drain(t, err);
}

/*
 * Tables whose changes apply_batch.c may send in other than the source's
 * order: a change of one table commutes with a change of another only when
 * no trigger or rule that fires under session_replication_role = replica
 * can see it (FK checks are triggers that do not). Their net changes per
 * key may also be merged when no unique index or exclusion constraint but
 * the replica identity's can make two keys collide ("k"); else only runs
 * of INSERTs are joined ("a").
 */
static const char plain_tables_sql[] =
	"SELECT n.nspname, c.relname, CASE WHEN (SELECT count(*) FROM pg_catalog.pg_index i"
	"      WHERE i.indrelid = c.oid AND (i.indisunique OR i.indisexclusion)) = 1"
	"      THEN 'k' ELSE 'a' END"
	" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.relkind = 'r'"
	" AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger g"
	"      WHERE g.tgrelid = c.oid AND g.tgenabled IN ('A', 'R'))"
	" AND NOT EXISTS (SELECT FROM pg_catalog.pg_rewrite r"
	"      WHERE r.ev_class = c.oid AND r.ev_enabled IN ('A', 'R'))";

static int
cmp_name(const void *x, const void *y)
{
	return strcmp(*(char *const *) x, *(char *const *) y);
}

bool
apply_target_read_plain(struct apply_target *t, char ***tables, size_t *n, struct pgs_error *err)
{
	PGresult *res = pg_query(t->conn, plain_tables_sql, 0, NULL, err);

	*tables = NULL;
	*n = 0;
	if (!res) {
		pgs_error_prefix(err, "could not read the target's unique indexes and triggers");
		return false;
	}
	*tables = xcalloc((size_t) PQntuples(res) + 1, sizeof(char *));
	for (int i = 0; i < PQntuples(res); i++)
		(*tables)[(*n)++] = xasprintf("%s\n%s\n%s", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
									  PQgetvalue(res, i, 2));
	PQclear(res);
	qsort(*tables, *n, sizeof(char *), cmp_name);
	return true;
}

bool
apply_target_send_sql(struct apply_target *t, const char *sql, const struct apply_pending *what,
					  struct pgs_error *err)
{
	if (!PQsendQueryParams(t->conn, sql, 0, NULL, NULL, NULL, NULL, 0)) {
		conn_fail(t, "could not send a change to the target", err);
		return fail_entry(what, err);
	}
	push(t, what);
	t->changes++;
	return maybe_drain(t, err);
}

/* Source commit time (microseconds since 2000-01-01 UTC) as timestamptz text. */
static void
commit_time_text(int64_t pg_us, char *out, size_t size)
{
	time_t secs = (time_t) (pg_us / 1000000 + PG_EPOCH_OFFSET_S);
	long us = (long) (pg_us % 1000000);
	struct tm tm;

	if (us < 0) {
		us += 1000000;
		secs--;
	}
	gmtime_r(&secs, &tm);
	snprintf(out, size, "%04d-%02d-%02d %02d:%02d:%02d.%06ld+00", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
}

/* Reads everything up to the sync point the commit ended with. */
static bool
read_sync(struct apply_target *t, struct pgs_error *err)
{
	bool ok = drain(t, err);
	PGresult *res;

	if (!ok)
		return false;
	res = PQgetResult(t->conn);
	if (PQresultStatus(res) != PGRES_PIPELINE_SYNC)
		ok = conn_fail(t, "the target did not confirm the commit", err);
	PQclear(res);
	return ok;
}

/*
 * The applied LSN and COMMIT go in the same target transaction as the
 * changes (STYLE habit 7): either both are on the target or neither is.
 */
bool
apply_target_commit(struct apply_target *t, const char *plan, uint64_t applied,
					int64_t commit_time, struct pgs_error *err)
{
	char lsn[PGO_LSN_TEXT_SIZE], at[48];
	const char *params[3] = {plan, lsn, commit_time ? at : NULL};
	struct apply_pending s = {.what = 'S', .expect_one = true, .lsn = applied};
	struct apply_pending c = {.what = 'C', .lsn = applied};

	/*
	 * Every change's answer is read before COMMIT is sent: a change that
	 * matched no row succeeded on the server, and only this check keeps its
	 * transaction (and the applied LSN in it) from committing.
	 */
	if (!apply_target_begin(t, err) || !flush_drain(t, err))
		return false;
	apply_lsn_text(applied, lsn);
	commit_time_text(commit_time, at, sizeof(at));
	if (!PQsendQueryParams(t->conn, state_applied_lsn_sql, 3, NULL, params, NULL, NULL, 0))
		return conn_fail(t, "could not send the applied LSN to the target", err);
	push(t, &s);
	if (!PQsendQueryParams(t->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0))
		return conn_fail(t, "could not send COMMIT to the target", err);
	push(t, &c);
	if (!PQpipelineSync(t->conn))
		return conn_fail(t, "could not send to the target", err);
	t->in_txn = false;
	if (!read_sync(t, err)) {
		pgs_error_prefix(err, "could not commit the changes up to %s on the target", lsn);
		return false;
	}
	return true;
}

void
apply_target_close(struct apply_target *t)
{
	clear_pending(t);
	free(t->pending);
	free(t->bulks);
	t->pending = NULL;
	t->bulks = NULL;
	t->cap = 0;
	/* an open transaction rolls back with the session: nothing half-applied stays */
	PQfinish(t->conn);
	t->conn = NULL;
	t->in_txn = false;
}
