/*
 * Step transitions and the objects apply created. Transitions are queued,
 * one merged row per step, and written together: started and progress only
 * wait in the queue, finished and failed write it before they return (one
 * statement for every step queued, and runs.updated_at in the same
 * statement). Worker threads call these concurrently: queue_lock guards the
 * queue, write_lock makes writers take turns; a writer takes the queue
 * whole, so steps finishing together share one round trip.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "state/state_int.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "util/clock.h"

/*
 * One row per step, split by what the row carries so that no step is
 * upserted twice in the statement: a start in this batch (attempts + 1,
 * counts from zero), counts without a start (progress, done), a failure
 * without counts (they stay as the last progress left them).
 */
static const char flush_sql[] =
	"WITH x AS (SELECT * FROM json_to_recordset($2::json) AS x(id text, started boolean,"
	"  counts boolean, status text, rows bigint, bytes bigint, total bigint,"
	"  started_at double precision, finished_at double precision, error text)),"
	" a AS (INSERT INTO pgshift.steps AS s (plan, step_id, status, attempts, rows, bytes,"
	"  total_bytes, started_at, finished_at, updated_at, error)"
	"  SELECT $1, id, status, 1, rows, bytes, total, to_timestamp(started_at),"
	"  to_timestamp(finished_at), now(), error FROM x WHERE started"
	"  ON CONFLICT (plan, step_id) DO UPDATE SET status = excluded.status,"
	"  attempts = s.attempts + 1, rows = excluded.rows, bytes = excluded.bytes,"
	"  total_bytes = excluded.total_bytes, started_at = excluded.started_at,"
	"  finished_at = excluded.finished_at, updated_at = now(), error = excluded.error RETURNING 1),"
	" b AS (INSERT INTO pgshift.steps AS s (plan, step_id, status, attempts, rows, bytes,"
	"  started_at, finished_at, updated_at, error)"
	"  SELECT $1, id, status, 1, rows, bytes, to_timestamp(coalesce(finished_at, started_at)),"
	"  to_timestamp(finished_at), now(), error FROM x WHERE NOT started AND counts"
	"  ON CONFLICT (plan, step_id) DO UPDATE SET status = excluded.status, rows = excluded.rows,"
	"  bytes = excluded.bytes, finished_at = excluded.finished_at, updated_at = now(),"
	"  error = excluded.error WHERE excluded.status <> 'running' OR s.status = 'running' RETURNING 1),"
	" c AS (INSERT INTO pgshift.steps AS s (plan, step_id, status, attempts, started_at,"
	"  finished_at, updated_at, error)"
	"  SELECT $1, id, status, 1, to_timestamp(finished_at), to_timestamp(finished_at), now(), error"
	"  FROM x WHERE NOT started AND NOT counts"
	"  ON CONFLICT (plan, step_id) DO UPDATE SET status = excluded.status,"
	"  finished_at = excluded.finished_at, updated_at = now(), error = excluded.error RETURNING 1)"
	" UPDATE pgshift.runs SET updated_at = now() WHERE plan = $1";

static void
record_free(struct step_record *r)
{
	free(r->step_id);
	free(r->error);
}

/*
 * The queued row of step_id, added when there is none; queue_lock held.
 * A linear search: the queue holds what happened since the last write,
 * at most the running steps and those finishing meanwhile.
 */
static struct step_record *
queued(struct state *st, const char *step_id)
{
	struct step_record *r;

	for (size_t i = 0; i < st->nqueue; i++)
		if (strcmp(st->queue[i].step_id, step_id) == 0)
			return &st->queue[i];
	if (st->nqueue == st->capqueue) {
		st->capqueue = st->capqueue ? st->capqueue * 2 : 16;
		st->queue = xrealloc(st->queue, st->capqueue * sizeof(*st->queue));
	}
	r = &st->queue[st->nqueue++];
	memset(r, 0, sizeof(*r));
	r->step_id = xstrdup(step_id);
	r->rows = r->bytes = -1;
	return r;
}

static void
put_record(struct buf *b, const struct step_record *r)
{
	static const char *const names[] = {['r'] = "running", ['d'] = "done", ['f'] = "failed"};

	buf_puts(b, "{\"id\":");
	json_put_string(b, r->step_id);
	buf_printf(b, ",\"started\":%s,\"counts\":%s,\"status\":\"%s\",\"rows\":%" PRId64
			   ",\"bytes\":%" PRId64 ",\"total\":%" PRId64, r->started ? "true" : "false",
			   r->rows >= 0 ? "true" : "false", names[(unsigned char) r->status],
			   r->rows > 0 ? r->rows : 0, r->bytes > 0 ? r->bytes : 0, r->total_bytes);
	if (r->started_at > 0)
		buf_printf(b, ",\"started_at\":%.6f", r->started_at);
	if (r->finished_at > 0)
		buf_printf(b, ",\"finished_at\":%.6f", r->finished_at);
	buf_puts(b, ",\"error\":");
	json_put_string(b, r->error);
	buf_putc(b, '}');
}

/* Writes rows taken from the queue, and frees them; write_lock held. */
static bool
write_rows(struct state *st, struct step_record *rows, size_t n, struct pgs_error *err)
{
	struct buf json;
	const char *params[2] = {st->plan, NULL};
	bool ok;

	buf_init(&json);
	buf_putc(&json, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(&json, ',');
		put_record(&json, &rows[i]);
	}
	buf_putc(&json, ']');
	params[1] = json.data;
	ok = state_exec(st, flush_sql, 2, params, err);
	if (!ok) {
		pgs_error_prefix(err, "could not record the transitions of %zu step(s) (\"%s\"%s) in "
						 "the state on the target", n, rows[0].step_id, n > 1 ? ", ..." : "");
		if (!err->step[0])
			snprintf(err->step, sizeof(err->step), "%s", rows[0].step_id);
	}
	for (size_t i = 0; i < n; i++)
		record_free(&rows[i]);
	free(rows);
	buf_free(&json);
	return ok;
}

/*
 * Group commit: the writer takes the whole queue and writes it while the
 * queue refills. A thread whose row another writer took waits on
 * write_lock until that write is over, so its row is on the target when
 * this returns (the other writer's caller reports a failure).
 */
bool
state_flush_steps(struct state *st, struct pgs_error *err)
{
	struct step_record *rows;
	size_t n;
	bool ok = true;

	pthread_mutex_lock(&st->write_lock);
	pthread_mutex_lock(&st->queue_lock);
	rows = st->queue;
	n = st->nqueue;
	st->queue = NULL;
	st->nqueue = st->capqueue = 0;
	pthread_mutex_unlock(&st->queue_lock);
	if (n > 0)
		ok = write_rows(st, rows, n, err);
	pthread_mutex_unlock(&st->write_lock);
	return ok;
}

void
state_queue_free(struct state *st)
{
	for (size_t i = 0; i < st->nqueue; i++)
		record_free(&st->queue[i]);
	free(st->queue);
	st->queue = NULL;
	st->nqueue = st->capqueue = 0;
}

bool
state_step_started(struct state *st, const char *step_id, int64_t total_bytes,
				   struct pgs_error *err)
{
	struct step_record *r;

	(void) err;
	pthread_mutex_lock(&st->queue_lock);
	r = queued(st, step_id);
	free(r->error);
	*r = (struct step_record) {.step_id = r->step_id, .status = 'r', .started = true,
							   .total_bytes = total_bytes, .started_at = clock_wall_s()};
	pthread_mutex_unlock(&st->queue_lock);
	return true;
}

bool
state_step_progress(struct state *st, const char *step_id, int64_t rows, int64_t bytes,
					struct pgs_error *err)
{
	struct step_record *r;

	(void) err;
	pthread_mutex_lock(&st->queue_lock);
	r = queued(st, step_id);
	if (!r->status)
		r->status = 'r';
	if (r->status == 'r') {
		r->rows = rows;
		r->bytes = bytes;
	}
	pthread_mutex_unlock(&st->queue_lock);
	return true;
}

bool
state_step_finished(struct state *st, const char *step_id, int64_t rows, int64_t bytes,
					struct pgs_error *err)
{
	struct step_record *r;

	pthread_mutex_lock(&st->queue_lock);
	r = queued(st, step_id);
	r->status = 'd';
	r->rows = rows;
	r->bytes = bytes;
	r->finished_at = clock_wall_s();
	pthread_mutex_unlock(&st->queue_lock);
	return state_flush_steps(st, err);
}

bool
state_step_failed(struct state *st, const char *step_id, const char *error,
				  struct pgs_error *err)
{
	struct step_record *r;

	pthread_mutex_lock(&st->queue_lock);
	r = queued(st, step_id);
	r->status = 'f';
	r->finished_at = clock_wall_s();
	free(r->error);
	r->error = xstrdup(error ? error : "unknown error");
	pthread_mutex_unlock(&st->queue_lock);
	return state_flush_steps(st, err);
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
state_set_received_lsn(struct state *st, const char *source_lsn, const char *source_lag_s,
					   const char *lsn, struct pgs_error *err)
{
	const char *params[4] = {st->plan, lsn, source_lsn, source_lag_s};
	bool ok;

	ok = state_exec(st, "UPDATE pgshift.runs SET received_lsn = $2::pg_lsn,"
					" source_lsn = coalesce($3::pg_lsn, source_lsn),"
					" source_lag_s = coalesce($4::float8, source_lag_s),"
					" updated_at = now() WHERE plan = $1", 4, params, err);
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
