/*
 * Connections of a run's steps: the session settings of pg/conn.h and an
 * application_name naming the step, so pg_stat_activity shows which step a
 * session belongs to.
 */
#include <stdio.h>

#include "pg/conn.h"
#include "run/run.h"

static PGconn *
connect_as(const char *conninfo, const char *role, const char *step_id, bool user_path,
		   struct pgs_error *err)
{
	char app[64];
	struct pg_session s = {role, app, false, false, user_path};

	/* application_name is cut at NAMEDATALEN - 1 by the server anyway */
	snprintf(app, sizeof(app), "pgshift %s", step_id);
	return pg_connect(conninfo, &s, err);
}

PGconn *
run_connect_source(struct run *run, const char *step_id, struct pgs_error *err)
{
	return connect_as(run->plan->source_uri, "source", step_id, false, err);
}

PGconn *
run_connect_target(struct run *run, const char *step_id, struct pgs_error *err)
{
	return connect_as(run->plan->target_uri, "target", step_id, false, err);
}

PGconn *
run_connect_target_rows(struct run *run, const char *step_id, struct pgs_error *err)
{
	return connect_as(run->plan->target_uri, "target", step_id, true, err);
}
