/*
 * Step transitions and the objects apply created. Each transition is one
 * statement: an upsert on pgshift.steps and, in a data-modifying CTE, the
 * run's updated_at, so both change together in one round trip. Worker
 * threads call these concurrently; conn_lock makes them take turns.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "pg/conn.h"
#include "pg/privs.h"
#include "state/state_int.h"

static const char started_sql[] =
	"WITH s AS (INSERT INTO pgshift.steps AS s"
	"  (plan, step_id, status, attempts, total_bytes, started_at, finished_at, updated_at)"
	"  VALUES ($1, $2, 'running', 1, $3::bigint, now(), NULL, now())"
	"  ON CONFLICT (plan, step_id) DO UPDATE SET status = 'running', attempts = s.attempts + 1,"
	"  rows = 0, bytes = 0, total_bytes = excluded.total_bytes, started_at = now(),"
	"  finished_at = NULL, updated_at = now(), error = NULL RETURNING 1)"
	" UPDATE pgshift.runs SET updated_at = now() WHERE plan = $1";

/* A progress report for a step not recorded as started still lands, as running. */
static const char progress_sql[] =
	"WITH s AS (INSERT INTO pgshift.steps AS s"
	"  (plan, step_id, status, attempts, rows, bytes, started_at, updated_at)"
	"  VALUES ($1, $2, 'running', 1, $3::bigint, $4::bigint, now(), now())"
	"  ON CONFLICT (plan, step_id) DO UPDATE SET rows = excluded.rows, bytes = excluded.bytes,"
	"  updated_at = now() WHERE s.status = 'running' RETURNING 1)"
	" UPDATE pgshift.runs SET updated_at = now() WHERE plan = $1";

static const char finished_sql[] =
	"WITH s AS (INSERT INTO pgshift.steps AS s"
	"  (plan, step_id, status, attempts, rows, bytes, started_at, finished_at, updated_at)"
	"  VALUES ($1, $2, 'done', 1, $3::bigint, $4::bigint, now(), now(), now())"
	"  ON CONFLICT (plan, step_id) DO UPDATE SET status = 'done', rows = excluded.rows,"
	"  bytes = excluded.bytes, finished_at = now(), updated_at = now(), error = NULL RETURNING 1)"
	" UPDATE pgshift.runs SET updated_at = now() WHERE plan = $1";

static const char failed_sql[] =
	"WITH s AS (INSERT INTO pgshift.steps AS s"
	"  (plan, step_id, status, attempts, started_at, finished_at, updated_at, error)"
	"  VALUES ($1, $2, 'failed', 1, now(), now(), now(), $3)"
	"  ON CONFLICT (plan, step_id) DO UPDATE SET status = 'failed', finished_at = now(),"
	"  updated_at = now(), error = excluded.error RETURNING 1)"
	" UPDATE pgshift.runs SET updated_at = now() WHERE plan = $1";

/* Runs one statement under conn_lock, naming the step and what was recorded on failure. */
static bool
record(struct state *st, const char *sql, int n, const char *const *params, const char *what,
	   const char *step_id, struct pgs_error *err)
{
	bool ok;

	ok = state_exec(st, sql, n, params, err);
	if (!ok) {
		pgs_error_prefix(err, "could not record %s of step \"%s\" in the state on the target",
						 what, step_id);
		if (step_id && !err->step[0])
			snprintf(err->step, sizeof(err->step), "%s", step_id);
	}
	return ok;
}

bool
state_step_started(struct state *st, const char *step_id, int64_t total_bytes,
				   struct pgs_error *err)
{
	char total[24];
	const char *params[3] = {st->plan, step_id, total};

	snprintf(total, sizeof(total), "%" PRId64, total_bytes);
	return record(st, started_sql, 3, params, "the start", step_id, err);
}

/* Records a step's rows and bytes with one of the progress/finish statements. */
static bool
record_counts(struct state *st, const char *sql, const char *what, const char *step_id,
			  int64_t rows, int64_t bytes, struct pgs_error *err)
{
	char r[24], b[24];
	const char *params[4] = {st->plan, step_id, r, b};

	snprintf(r, sizeof(r), "%" PRId64, rows);
	snprintf(b, sizeof(b), "%" PRId64, bytes);
	return record(st, sql, 4, params, what, step_id, err);
}

bool
state_step_progress(struct state *st, const char *step_id, int64_t rows, int64_t bytes,
					struct pgs_error *err)
{
	return record_counts(st, progress_sql, "the progress", step_id, rows, bytes, err);
}

bool
state_step_finished(struct state *st, const char *step_id, int64_t rows, int64_t bytes,
					struct pgs_error *err)
{
	return record_counts(st, finished_sql, "the end", step_id, rows, bytes, err);
}

bool
state_step_failed(struct state *st, const char *step_id, const char *error,
				  struct pgs_error *err)
{
	const char *params[3] = {st->plan, step_id, error ? error : "unknown error"};

	return record(st, failed_sql, 3, params, "the failure", step_id, err);
}

bool
state_record_object(struct state *st, const char *kind, const char *schema, const char *name,
					struct pgs_error *err)
{
	const char *params[4] = {st->plan, kind, schema ? schema : "", name};
	bool ok;

	ok = state_exec(st, "INSERT INTO pgshift.created_objects (plan, kind, schema_name,"
					" object_name) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", 4, params, err);
	if (!ok)
		pgs_error_prefix(err, "could not record %s \"%s%s%s\" as created by pgshift", kind,
						 schema ? schema : "", schema ? "." : "", name);
	return ok;
}

bool
state_record_objects(struct state *st, const char *kind, size_t n, char *const *schemas,
					 char *const *names, struct pgs_error *err)
{
	char *s, *o;
	const char *params[4];
	bool ok;

	if (n == 0)
		return true;
	s = privs_text_array(schemas, n);
	o = privs_text_array(names, n);
	params[0] = st->plan;
	params[1] = kind;
	params[2] = s;
	params[3] = o;
	ok = state_exec(st, "INSERT INTO pgshift.created_objects (plan, kind, schema_name, object_name)"
					" SELECT $1, $2, s, o FROM unnest($3::text[], $4::text[]) AS u (s, o)"
					" ON CONFLICT DO NOTHING", 4, params, err);
	if (!ok)
		pgs_error_prefix(err, "could not record %zu %s objects as created by pgshift", n, kind);
	free(s);
	free(o);
	return ok;
}

bool
state_set_received_lsn(struct state *st, const char *source_lsn, const char *lsn,
					   struct pgs_error *err)
{
	const char *params[3] = {st->plan, lsn, source_lsn};
	bool ok;

	ok = state_exec(st, "UPDATE pgshift.runs SET received_lsn = $2::pg_lsn,"
					" source_lsn = coalesce($3::pg_lsn, source_lsn),"
					" updated_at = now() WHERE plan = $1", 3, params, err);
	if (!ok)
		pgs_error_prefix(err, "could not record the received LSN %s", lsn ? lsn : "(none)");
	return ok;
}

/*
 * The snapshot step records the slot's consistent point as the applied LSN:
 * the copy on the slot's snapshot holds every transaction before it. Later
 * values are written by the applier, with its data (state_applied_lsn_sql).
 */
bool
state_set_applied_lsn(struct state *st, const char *lsn, struct pgs_error *err)
{
	const char *params[3] = {st->plan, lsn, NULL};
	bool ok;

	ok = state_exec(st, state_applied_lsn_sql, 3, params, err);
	if (!ok)
		pgs_error_prefix(err, "could not record the applied LSN %s", lsn ? lsn : "(none)");
	return ok;
}

bool
state_set_fenced(struct state *st, bool fenced, struct pgs_error *err)
{
	const char *params[2] = {st->plan, fenced ? "true" : "false"};
	bool ok;

	ok = state_exec(st, "UPDATE pgshift.runs SET fenced = $2::boolean, updated_at = now()"
					" WHERE plan = $1", 2, params, err);
	if (!ok)
		pgs_error_prefix(err, "could not record that source writes are %s",
						 fenced ? "fenced" : "no longer fenced");
	return ok;
}

const char state_applied_lsn_sql[] =
	"UPDATE pgshift.runs SET applied_lsn = $2::pg_lsn,"
	" applied_commit_at = coalesce($3::timestamptz, applied_commit_at), updated_at = now()"
	" WHERE plan = $1";
