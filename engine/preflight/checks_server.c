/*
 * Checks of the servers themselves: both reachable, versions that allow a
 * dump/restore in this direction, and the source settings logical decoding
 * depends on (wal_level, wal_sender_timeout, prepared transactions); and
 * that the target database is not fenced read-only (as `pgshift rollback`
 * leaves it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "preflight/preflight_int.h"
#include "steps/fence.h"
#include "util/xalloc.h"

static char *
describe_session(PGconn *conn)
{
	const char *version = PQparameterStatus(conn, "server_version");

	return xasprintf("PostgreSQL %s as %s", version ? version : "?", PQuser(conn));
}

static void
check_connect(struct pf_ctx *c)
{
	pf_add_owned(c, "source_connect", CHECK_PASS, describe_session(c->src), NULL);
	if (c->dst)
		pf_add_owned(c, "target_connect", CHECK_PASS, describe_session(c->dst), NULL);
	else
		pf_add(c, "target_connect", CHECK_FAIL,
			   c->target_error ? c->target_error : "not connected",
			   "check target.uri in the plan and that the target accepts connections");
}

/* pg_dump can read older servers and pg_restore newer archives only within limits;
 * a target older than the source would refuse objects and syntax the source has. */
static void
check_versions(struct pf_ctx *c)
{
	int sv = PQserverVersion(c->src), tv;
	char smaj[16], tmaj[16], hint[96];

	if (!c->dst) {
		pf_no_target(c, "server_versions");
		return;
	}
	tv = PQserverVersion(c->dst);
	pf_major_name(sv, smaj, sizeof(smaj));
	pf_major_name(tv, tmaj, sizeof(tmaj));
	snprintf(hint, sizeof(hint), "migrate to a target running PostgreSQL %s or newer", smaj);
	pf_add_owned(c, "server_versions",
				 pf_major_of(tv) >= pf_major_of(sv) ? CHECK_PASS : CHECK_FAIL,
				 xasprintf("source %s, target %s", smaj, tmaj), hint);
}

static void
check_wal_level(struct pf_ctx *c)
{
	char *level = pf_setting(c->src, "wal_level");

	if (!level) {
		pf_query_failed(c, "wal_level", c->src, NULL);
		return;
	}
	pf_add_cdc(c, "wal_level", strcmp(level, "logical") == 0 ? CHECK_PASS : CHECK_FAIL, level,
			   "set wal_level = logical and restart the source");
}

/*
 * 0 disables the timeout: a pgshift that died leaves its WAL sender holding
 * the slot as "active" until TCP notices, so a resume fails with "replication
 * slot is active". Below 10s the source cuts the stream whenever the receiver
 * stalls briefly (an fsync of the spool on a busy disk), and each reconnect
 * resends WAL. The default, 60s, is what pgshift is built for.
 */
static void
check_wal_sender_timeout(struct pf_ctx *c)
{
	char *val = pf_setting(c->src, "wal_sender_timeout");
	long long ms;

	if (!val) {
		pf_query_failed(c, "wal_sender_timeout", c->src, NULL);
		return;
	}
	ms = strtoll(val, NULL, 10);    /* reset_val is in the setting's unit, ms */
	free(val);
	if (ms == 0) {
		pf_add_cdc(c, "wal_sender_timeout", CHECK_WARN, xstrdup("0 (disabled)"),
				   "set wal_sender_timeout = 60s on the source, so a dead receiver releases the slot");
		return;
	}
	pf_add_cdc(c, "wal_sender_timeout", ms < 10000 ? CHECK_WARN : CHECK_PASS,
			   ms % 1000 == 0 ? xasprintf("%llds", ms / 1000) : xasprintf("%lldms", ms),
			   "set wal_sender_timeout = 60s on the source, so short stalls do not cut the stream");
}

/* Creating a logical slot waits until every transaction running then ends,
 * prepared ones included (in any database): a forgotten one blocks the run.
 * where names the server in the observation ("" for the source). */
void
pf_check_prepared(struct pf_ctx *c, PGconn *conn, const char *name, const char *where,
				  const char *hint)
{
	PGresult *res = pf_query(conn, "SELECT count(*) FROM pg_catalog.pg_prepared_xacts", 0, NULL);
	long n;

	if (!res) {
		pf_query_failed(c, name, conn, NULL);
		return;
	}
	n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	pf_add_owned(c, name, n > 0 ? CHECK_WARN : CHECK_PASS,
				 n == 0 ? xasprintf("none%s", where)
				 : xasprintf("%ld prepared transaction%s%s", n, n == 1 ? "" : "s", where), hint);
}

static bool
fences_role(const struct plan *plan, const char *role)
{
	for (size_t i = 0; i < plan->cutover.nsteps; i++) {
		const struct cutover_step *cs = &plan->cutover.steps[i];

		if (cs->kind != CUTOVER_FENCE_WRITES)
			continue;
		for (size_t r = 0; r < cs->roles.n; r++)
			if (strcmp(cs->roles.items[r], role) == 0)
				return true;
	}
	return false;
}

/* fence_writes spares pgshift's own sessions, but not the application's under the same role. */
static void
check_fence_roles(struct pf_ctx *c)
{
	PGresult *res = pf_query(c->src, "SELECT session_user", 0, NULL);
	bool own;

	if (!res) {
		pf_query_failed(c, "fence_roles", c->src, NULL);
		return;
	}
	own = fences_role(c->plan, PQgetvalue(res, 0, 0));
	pf_add_owned(c, "fence_roles", own ? CHECK_WARN : CHECK_PASS,
				 own ? xasprintf("fence_writes lists \"%s\", the role pgshift connects to the "
								 "source as", PQgetvalue(res, 0, 0))
				 : xstrdup("pgshift's own role is not fenced"),
				 "pgshift's own sessions are kept, but every other session of that role "
				 "(e.g. the application's) will be ended at the fence");
	PQclear(res);
}

/*
 * pgshift's own sessions turn default_transaction_read_only off, so a run
 * into a fenced target would finish and leave the application a target it
 * cannot write to.
 */
static void
check_target_writable(struct pf_ctx *c)
{
	struct pgs_error err;
	char *db, *hint;
	bool fenced;

	if (!c->dst)
		return;
	pgs_error_clear(&err);
	if (!database_fenced(c->dst, &fenced, &err)) {
		pf_query_failed(c, "target_writable", c->dst, NULL);
		return;
	}
	db = pg_quote_ident(c->dst, PQdb(c->dst));
	hint = xasprintf("on the target: ALTER DATABASE %s RESET default_transaction_read_only "
					 "(a pgshift rollback fenced it; `pgshift reset` or `cleanup --unfence` of "
					 "that plan undoes it)", db);
	pf_add_owned(c, "target_writable", fenced ? CHECK_FAIL : CHECK_PASS,
				 fenced ? xasprintf("target database %s is read-only for new sessions "
									"(default_transaction_read_only = on)", db)
				 : xstrdup("the target database takes writes"), hint);
	free(hint);
	free(db);
}

void
pf_checks_server(struct pf_ctx *c)
{
	check_connect(c);
	check_versions(c);
	check_wal_level(c);
	check_wal_sender_timeout(c);
	pf_check_prepared(c, c->src, "prepared_transactions", "",
					  "COMMIT PREPARED or ROLLBACK PREPARED them (see pg_prepared_xacts): "
					  "creating the slot waits for them");
	check_fence_roles(c);
	check_target_writable(c);
}
