/*
 * Checks that CDC can start: the role may replicate, the source has a free
 * slot and WAL sender, and nothing of an earlier attempt of this plan (slot,
 * publication, state on the target) is left behind — a forgotten slot keeps
 * WAL on the source forever, so it is named, not silently reused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight/preflight_int.h"
#include "util/xalloc.h"

/* rds_replication is how RDS/Aurora grant replication without superuser. */
static const char privilege_sql[] =
	"SELECT r.rolsuper, r.rolreplication,"
	" EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = 'rds_replication'"
	"         AND pg_has_role(r.oid, g.oid, 'MEMBER'))"
	" FROM pg_roles r WHERE r.rolname = current_user";

static void
check_privilege(struct pf_ctx *c)
{
	PGresult *res = pf_query(c->src, privilege_sql, 0, NULL);
	char *user, *hint;

	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		pf_query_failed(c, "replication_privilege", c->src, NULL);
		return;
	}
	user = pf_quoted_role(c->src);
	hint = xasprintf("on the source: ALTER ROLE %s REPLICATION (RDS/Aurora: GRANT rds_replication"
					 " TO %s; Cloud SQL: ALTER USER %s WITH REPLICATION as a cloudsqlsuperuser"
					 " member; Azure: ALTER ROLE %s REPLICATION as an azure_pg_admin member;"
					 " Supabase: the postgres role has it)", user, user, user, user);
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		pf_add_cdc(c, "replication_privilege", CHECK_PASS, xstrdup("superuser"), NULL);
	else if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
		pf_add_cdc(c, "replication_privilege", CHECK_PASS, xstrdup("REPLICATION"), NULL);
	else if (strcmp(PQgetvalue(res, 0, 2), "t") == 0)
		pf_add_cdc(c, "replication_privilege", CHECK_PASS,
				   xstrdup("member of rds_replication"), NULL);
	else
		pf_add_cdc(c, "replication_privilege", CHECK_FAIL,
				   xasprintf("role %s has no REPLICATION", PQuser(c->src)), hint);
	free(hint);
	free(user);
	PQclear(res);
}

static void
list_leftover(struct buf *b, const char *what)
{
	if (b->len > 0)
		buf_puts(b, "; ");
	buf_puts(b, what);
}

/* The state table's layout belongs to apply; when it is not the one we know,
 * any pgshift schema counts as state of this plan, erring on the safe side. */
static bool
target_state_exists(struct pf_ctx *c, bool *exists)
{
	static const char layout_sql[] =
		"SELECT to_regnamespace('pgshift') IS NOT NULL,"
		" EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('pgshift.runs')"
		"         AND attname = 'plan' AND NOT attisdropped)";
	const char *params[1] = {c->plan->name};
	PGresult *res = pf_query(c->dst, layout_sql, 0, NULL);
	bool known;

	if (!res)
		return false;
	*exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	known = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	if (!*exists || !known)
		return true;
	res = pf_query(c->dst, "SELECT EXISTS (SELECT 1 FROM pgshift.runs WHERE plan = $1)", 1, params);
	if (!res)
		return false;
	*exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return true;
}

static bool
source_leftovers(struct pf_ctx *c, struct buf *found)
{
	const char *params[2] = {c->plan->cdc.slot, c->plan->cdc.publication};
	PGresult *res = pf_query(c->src,
							 "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1),"
							 " EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $2)",
							 2, params);
	char *what;

	if (!res)
		return false;
	c->own_slot_exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (c->own_slot_exists) {
		what = xasprintf("slot \"%s\" on the source", c->plan->cdc.slot);
		list_leftover(found, what);
		free(what);
	}
	if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
		what = xasprintf("publication \"%s\" on the source", c->plan->cdc.publication);
		list_leftover(found, what);
		free(what);
	}
	PQclear(res);
	return true;
}

/* rollback.enabled: the reverse stream's slot and publication an earlier cutover left on the target */
static bool
target_leftovers(struct pf_ctx *c, struct buf *found)
{
	const char *params[2] = {c->plan->rollback.slot, c->plan->rollback.publication};
	PGresult *res;
	char *what;

	if (!c->plan->rollback.enabled)
		return true;
	res = pf_query(c->dst,
				   "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1),"
				   " EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $2)", 2, params);
	if (!res)
		return false;
	for (int i = 0; i < 2; i++)
		if (strcmp(PQgetvalue(res, 0, i), "t") == 0) {
			what = xasprintf("reverse %s \"%s\" on the target", i ? "publication" : "slot",
							 params[i]);
			list_leftover(found, what);
			free(what);
		}
	PQclear(res);
	return true;
}

static void
check_leftovers(struct pf_ctx *c)
{
	struct buf found;
	bool state = false, any;

	if (!c->dst) {
		pf_no_target(c, "leftover_objects");
		return;
	}
	buf_init(&found);
	if (!source_leftovers(c, &found)) {
		buf_free(&found);
		pf_query_failed(c, "leftover_objects", c->src, NULL);
		return;
	}
	if (!target_state_exists(c, &state) || !target_leftovers(c, &found)) {
		buf_free(&found);
		pf_query_failed(c, "leftover_objects", c->dst, NULL);
		return;
	}
	if (state)
		list_leftover(&found, "state schema \"pgshift\" on the target");
	any = found.len > 0;
	if (!any)
		buf_puts(&found, "none");
	else if (c->resuming)
		buf_puts(&found, " (resuming)");
	pf_add_owned(c, "leftover_objects", any && !c->resuming ? CHECK_FAIL : CHECK_PASS,
				 buf_steal(&found),
				 "an earlier attempt of this plan left these: resume it with `pgshift apply`, "
				 "or drop them with `pgshift cleanup` (`--force` also ends a reverse stream "
				 "rollback.keep_for still keeps)");
}

/* Reads "max - used" for a limit and the rows counted against it. */
static void
check_free(struct pf_ctx *c, const char *name, const char *sql, int need, const char *hint)
{
	PGresult *res = pf_query(c->src, sql, 0, NULL);
	long max, used, free_n;

	if (!res) {
		pf_query_failed(c, name, c->src, NULL);
		return;
	}
	max = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	used = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	free_n = max > used ? max - used : 0;
	pf_add_cdc(c, name, free_n >= need ? CHECK_PASS : CHECK_FAIL,
			   xasprintf("%ld of %ld free", free_n, max), hint);
}

void
pf_checks_replication(struct pf_ctx *c)
{
	check_privilege(c);
	check_leftovers(c);
	/* a slot kept from an earlier attempt is reused on resume: no new one needed */
	check_free(c, "replication_slots",
			   "SELECT current_setting('max_replication_slots')::int,"
			   " (SELECT count(*) FROM pg_replication_slots)",
			   c->own_slot_exists ? 0 : 1,
			   "raise max_replication_slots on the source (needs a restart) or drop unused slots");
	check_free(c, "wal_senders",
			   "SELECT current_setting('max_wal_senders')::int,"
			   " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender')",
			   1, "raise max_wal_senders on the source (needs a restart)");
}
