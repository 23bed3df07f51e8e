/* The reverse stream's locked session on the source; see rollback.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/cdc_slot.h"
#include "lifecycle/rollback.h"
#include "pg/conn.h"
#include "run/run.h"
#include "state/reverse_state.h"
#include "util/log.h"
#include "util/xalloc.h"

static enum lifecycle_result
read_row(const struct plan *plan, struct reverse_session *s, struct pgs_error *err)
{
	struct reverse_state rs = {0};
	bool found;

	if (!reverse_state_read(s->src, plan, &rs, &found, err))
		return LIFECYCLE_FAILED;
	if (!found) {
		pgs_fail(err, "plan \"%s\" has no reverse stream on the source: its cutover's "
				 "rollback.slot step has not run, or `pgshift cleanup` or `reset` ended it "
				 "(after a rollback, or once rollback.keep_for had passed)", plan->name);
		pgs_error_hint(err, "the reverse stream starts at the cutover of `pgshift apply %s`",
					   plan->file);
		return LIFECYCLE_FAILED;
	}
	s->run_id = rs.run_id ? xstrdup(rs.run_id) : xstrdup("");
	s->status = xstrdup(rs.status);
	if (!rs.applied_lsn || !cdc_lsn_parse(rs.applied_lsn, &s->applied))
		s->applied = 0;
	reverse_state_free(&rs);
	return LIFECYCLE_OK;
}

static bool
ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && strcmp(s + n - t, tail) == 0;
}

void
reverse_in_use(const struct plan *plan, PGconn *src, struct pgs_error *err)
{
	char app[64] = "";
	bool held = false;

	if (!reverse_state_lock_held(src, plan, &held, app, sizeof(app), err))
		pgs_error_clear(err);
	/* "pgshift rollback", tagged with the run ("pgshift 1a2b3c4d rollback") once it runs */
	if (strncmp(app, "pgshift ", 8) == 0 && ends_with(app, " rollback")) {
		pgs_fail(err, "a pgshift rollback of plan \"%s\" is running (it holds the reverse "
				 "stream's lock on the source)", plan->name);
		pgs_error_hint(err, "let it finish (`pgshift status %s` shows the reverse stream), or stop "
					   "it (SIGTERM; `pgshift rollback %s --yes` continues it)", plan->file,
					   plan->file);
		return;
	}
	pgs_fail(err, "the reverse stream of plan \"%s\" is in use by %s", plan->name,
			 ends_with(app, "pgshift rollback --follow") ? "`pgshift rollback --follow`"
			 : "another pgshift (rollback --follow or rollback)");
	pgs_error_hint(err, "stop `pgshift rollback %s --follow` (SIGTERM; it resumes exactly "
				   "where it stopped), then run the command again", plan->file);
}

enum lifecycle_result
reverse_session_open(const struct plan *plan, const char *app, struct reverse_session *s,
					 struct pgs_error *err)
{
	struct pg_session ps = {"source", app, false, false, false, false};
	bool got;

	memset(s, 0, sizeof(*s));
	s->plan = plan;
	s->src = pg_connect(plan->source_uri, &ps, err);
	if (!s->src || !reverse_state_lock(s->src, plan, &got, err))
		return LIFECYCLE_FAILED;
	if (!got) {
		reverse_in_use(plan, s->src, err);
		return LIFECYCLE_LOCKED;
	}
	return read_row(plan, s, err);
}

void
reverse_session_cancel(void *session)
{
	struct reverse_session *s = session;
	struct pgs_error err;

	pgs_error_clear(&err);
	if (!run_end_sessions(s->plan, s->run_id, false, NULL, &err))
		log_report(LOG_WARNING, &err);
}

void
reverse_session_close(struct reverse_session *s)
{
	PQfinish(s->src);
	free(s->run_id);
	free(s->status);
	memset(s, 0, sizeof(*s));
}
