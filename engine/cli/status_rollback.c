/* The reverse stream in `pgshift status`; see status_rollback.h. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "cdc/cdc_slot.h"
#include "cdc/pgoutput.h"
#include "cli/status_rollback.h"
#include "pg/conn.h"
#include "state/reverse_state.h"
#include "steps/fence.h"
#include "steps/steps.h"
#include "util/json.h"
#include "util/log.h"

static void
copy_lsn(char *dst, size_t n, const char *lsn)
{
	snprintf(dst, n, "%s", lsn ? lsn : "");
}

/*
 * The target's WAL position now; when the target cannot be read, the one
 * the follower recorded last (already in out->target_lsn) stands.
 */
static void
read_target(const struct plan *plan, struct rollback_status *out)
{
	struct pg_session s = {"target", "pgshift status", true, false, false, false};
	struct pgs_error err;
	PGconn *tgt;
	uint64_t wal, applied;

	pgs_error_clear(&err);
	tgt = pg_connect(plan->target_uri, &s, &err);
	/* the database's setting itself: the fence outlives the reverse row (cleanup without --unfence) */
	if (tgt && database_fenced(tgt, &out->target_fenced, &err) && source_wal_lsn(tgt, &wal, &err))
		pgo_lsn_text(wal, out->target_lsn);
	else
		log_report(LOG_WARNING, &err);
	PQfinish(tgt);
	if (cdc_lsn_parse(out->target_lsn, &wal) && cdc_lsn_parse(out->applied_lsn, &applied))
		out->lag_bytes = wal > applied ? (int64_t) (wal - applied) : 0;
	/* received is the follower's record every 10 s; what was applied was received */
	if (cdc_lsn_parse(out->applied_lsn, &applied) &&
		(!cdc_lsn_parse(out->received_lsn, &wal) || wal < applied))
		copy_lsn(out->received_lsn, sizeof(out->received_lsn), out->applied_lsn);
}

void
status_rollback_read(const struct plan *plan, struct rollback_status *out)
{
	struct pg_session s = {"source", "pgshift status", true, false, false, false};
	struct reverse_state rs = {0};
	struct pgs_error err;
	PGconn *src;

	memset(out, 0, sizeof(*out));
	out->lag_bytes = -1;
	if (!plan->rollback.enabled)
		return;
	pgs_error_clear(&err);
	src = pg_connect(plan->source_uri, &s, &err);
	if (!src || !reverse_state_read(src, plan, &rs, &out->found, &err)) {
		pgs_error_prefix(&err, "status: could not read the reverse stream on the source");
		log_report(LOG_WARNING, &err);
	} else if (out->found) {
		snprintf(out->status, sizeof(out->status), "%s", rs.status);
		out->target_fenced = rs.fenced;
		out->started_at = rs.started_at;
		out->keep_until = rs.started_at + (double) plan->rollback.keep_for_ms / 1000.0;
		out->now = rs.now;
		copy_lsn(out->target_lsn, sizeof(out->target_lsn), rs.source_lsn);
		copy_lsn(out->received_lsn, sizeof(out->received_lsn), rs.received_lsn);
		copy_lsn(out->applied_lsn, sizeof(out->applied_lsn), rs.applied_lsn);
		snprintf(out->error, sizeof(out->error), "%s", rs.error ? rs.error : "");
		reverse_state_free(&rs);
		if (!reverse_state_lock_held(src, plan, &out->streaming, NULL, 0, &err))
			log_report(LOG_WARNING, &err);
	}
	PQfinish(src);
	read_target(plan, out);
}

static const char *
utc(double t, char *buf, size_t n)
{
	time_t s = (time_t) t;

	strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", gmtime(&s));
	return buf;
}

void
status_rollback_text(FILE *f, const struct rollback_status *rs)
{
	char a[32], b[32];

	if (!rs->found) {
		if (rs->target_fenced)
			fprintf(f, "\nrollback: the target database is fenced (read-only for new sessions); "
					"`pgshift cleanup PLAN --unfence` or `pgshift reset PLAN --yes` undoes it\n");
		return;
	}
	if (strcmp(rs->status, "finished") == 0)
		fprintf(f, "\nrollback: rolled back (reverse stream from the cutover at %s)",
				utc(rs->started_at, a, sizeof(a)));
	else
		fprintf(f, "\nrollback: reverse stream from the cutover at %s, kept until %s%s",
				utc(rs->started_at, a, sizeof(a)), utc(rs->keep_until, b, sizeof(b)),
				rs->now > rs->keep_until ? " (passed: `pgshift cleanup PLAN` ends it)" : "");
	fprintf(f, "%s\n", rs->target_fenced ? "; the target is fenced" : "");
	if (rs->error[0])
		fprintf(f, "  the last rollback %s: %s\n",
				strcmp(rs->status, "interrupted") == 0 ? "was interrupted" : "failed", rs->error);
	if (strcmp(rs->status, "finished") != 0)
		fprintf(f, "  %s\n", rs->streaming ? "a pgshift rollback (or --follow) is streaming it"
				: "no follower runs: the reverse slot keeps the target's WAL until `pgshift "
				"rollback PLAN --follow` (or the rollback) reads it");
	fprintf(f, "  target at %s, received %s, applied into the source %s",
			rs->target_lsn[0] ? rs->target_lsn : "?", rs->received_lsn[0] ? rs->received_lsn : "-",
			rs->applied_lsn[0] ? rs->applied_lsn : "-");
	if (rs->lag_bytes >= 0)
		fprintf(f, ": lag %" PRId64 " bytes", rs->lag_bytes);
	fputc('\n', f);
}

static void
json_lsn(struct buf *b, const char *key, const char *lsn)
{
	buf_printf(b, ",\"%s\":", key);
	if (lsn[0])
		json_put_string(b, lsn);
	else
		buf_puts(b, "null");
}

void
status_rollback_json(struct buf *b, const struct rollback_status *rs)
{
	buf_puts(b, "\"rollback\":{\"status\":");
	if (!rs->found)
		buf_puts(b, "null");
	else if (strcmp(rs->status, "running") == 0)
		/* the row's running means resumable: whether anything streams it now is the lock's */
		json_put_string(b, rs->streaming ? "streaming" : "kept");
	else
		json_put_string(b, rs->status);
	buf_printf(b, ",\"target_fenced\":%s,\"started_at\":%.3f,\"keep_until\":%.3f",
			   rs->target_fenced ? "true" : "false", rs->started_at, rs->keep_until);
	json_lsn(b, "target_lsn", rs->target_lsn);
	json_lsn(b, "received_lsn", rs->received_lsn);
	json_lsn(b, "applied_lsn", rs->applied_lsn);
	buf_printf(b, ",\"streaming\":%s", rs->streaming ? "true" : "false");
	buf_puts(b, ",\"error\":");
	if (rs->error[0])
		json_put_string(b, rs->error);
	else
		buf_puts(b, "null");
	if (rs->lag_bytes >= 0)
		buf_printf(b, ",\"lag_bytes\":%" PRId64 "}", rs->lag_bytes);
	else
		buf_puts(b, ",\"lag_bytes\":null}");
}
