/*
 * Checks for rollback.enabled (README "Rollback"): at cutover the TARGET
 * becomes a publisher whose slot the reverse stream reads, and `pgshift
 * rollback` fences it, so what CDC asks of the source is asked of the
 * target here, before anything is written: wal_level = logical, the
 * REPLICATION privilege, a free slot and WAL sender, the right to create
 * the publication, and the database owner's rights for the fence. Every
 * migrated table must also have a usable identity (a primary key, a
 * replica identity index or FULL): the target keeps the source's, and an
 * UPDATE on a published table without one would fail on the target, which
 * pgshift must never make refuse an application statement.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "preflight/preflight_int.h"
#include "util/buf.h"
#include "util/xalloc.h"

static bool
is_true(const PGresult *res, int col)
{
	return strcmp(PQgetvalue(res, 0, col), "t") == 0;
}

static void
check_wal_level(struct pf_ctx *c)
{
	char *level = pf_setting(c->dst, "wal_level");

	if (!level) {
		pf_query_failed(c, "rollback_wal_level", c->dst, NULL);
		return;
	}
	pf_add_owned(c, "rollback_wal_level", strcmp(level, "logical") == 0 ? CHECK_PASS : CHECK_FAIL,
				 xasprintf("target wal_level = %s", level),
				 "on the target: ALTER SYSTEM SET wal_level = logical, then restart it");
	free(level);
}

/*
 * One row: superuser, REPLICATION, rds_replication member, CREATE on the
 * database, rights of the database owner, whether the reverse slot exists,
 * free slots, free WAL senders.
 */
static const char target_sql[] =
	"SELECT r.rolsuper, r.rolreplication,"
	" EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = 'rds_replication'"
	"  AND pg_catalog.pg_has_role(r.oid, g.oid, 'MEMBER')),"
	" pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE'),"
	" (SELECT pg_catalog.pg_has_role(d.datdba, 'USAGE') FROM pg_catalog.pg_database d"
	"  WHERE d.datname = pg_catalog.current_database()),"
	" EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1),"
	" current_setting('max_replication_slots')::int"
	"  - (SELECT count(*) FROM pg_catalog.pg_replication_slots),"
	" current_setting('max_wal_senders')::int"
	"  - (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'walsender')"
	" FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

static void
check_target_rights(struct pf_ctx *c)
{
	const char *params[1] = {c->plan->rollback.slot};
	PGresult *res = pf_query(c->dst, target_sql, 1, params);
	char *role, *hint;
	bool super, repl, slot_exists;
	long slots, senders;

	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		pf_query_failed(c, "rollback_target_privileges", c->dst, NULL);
		return;
	}
	role = pf_quoted_role(c->dst);
	super = is_true(res, 0);
	repl = super || is_true(res, 1) || is_true(res, 2);
	hint = xasprintf("on the target: ALTER ROLE %s REPLICATION (RDS/Aurora: GRANT rds_replication "
					 "TO %s)", role, role);
	pf_add_owned(c, "rollback_replication_privilege", repl ? CHECK_PASS : CHECK_FAIL,
				 xasprintf("target role %s %s", role, repl ? "may replicate" : "has no REPLICATION"),
				 hint);
	free(hint);
	/* CREATE PUBLICATION needs CREATE on the database; FOR TABLE, each table's ownership,
	 * which the target role has for the tables it creates unless schema.owners keeps others */
	hint = xasprintf("on the target: GRANT CREATE ON DATABASE <db> TO %s (the reverse stream's "
					 "publication \"%s\")", role, c->plan->rollback.publication);
	pf_add_owned(c, "rollback_publication_privilege",
				 super || is_true(res, 3) ? CHECK_PASS : CHECK_FAIL,
				 xasprintf("%s %s CREATE on the target database", role,
						   super || is_true(res, 3) ? "has" : "lacks"), hint);
	free(hint);
	hint = xasprintf("on the target: ALTER DATABASE <db> OWNER TO %s (pgshift rollback fences "
					 "the target with ALTER DATABASE ... SET default_transaction_read_only = on)",
					 role);
	pf_add_owned(c, "rollback_fence_database_owner", super || is_true(res, 4) ? CHECK_PASS : CHECK_FAIL,
				 xasprintf("%s %s the target database owner's rights", role,
						   super || is_true(res, 4) ? "has" : "lacks"), hint);
	free(hint);
	slot_exists = is_true(res, 5);
	slots = strtol(PQgetvalue(res, 0, 6), NULL, 10);
	senders = strtol(PQgetvalue(res, 0, 7), NULL, 10);
	pf_add_owned(c, "rollback_replication_slots", slot_exists || slots >= 1 ? CHECK_PASS : CHECK_FAIL,
				 slot_exists ? xasprintf("slot \"%s\" exists", c->plan->rollback.slot)
				 : xasprintf("%ld free on the target", slots > 0 ? slots : 0),
				 "raise max_replication_slots on the target (needs a restart) or drop unused slots");
	pf_add_owned(c, "rollback_wal_senders", senders >= 1 ? CHECK_PASS : CHECK_FAIL,
				 xasprintf("%ld free on the target", senders > 0 ? senders : 0),
				 "raise max_wal_senders on the target (needs a restart)");
	free(role);
	PQclear(res);
}

/*
 * The reverse applier writes into the source as the forward one does into
 * the target: with session_replication_role = replica (SET granted from
 * PostgreSQL 15 on, a superuser's before), and its applied LSN in the
 * source's schema pgshift, which it creates when missing.
 */
static void
check_source_rights(struct pf_ctx *c)
{
	bool pg15 = PQserverVersion(c->src) >= 150000;
	PGresult *res = pf_query(c->src, pg15
							 ? "SELECT pg_catalog.has_parameter_privilege('session_replication_role', 'SET'),"
							 " pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE')"
							 " OR pg_catalog.to_regnamespace('pgshift') IS NOT NULL"
							 : "SELECT rolsuper, rolsuper OR pg_catalog.has_database_privilege("
							 "pg_catalog.current_database(), 'CREATE')"
							 " OR pg_catalog.to_regnamespace('pgshift') IS NOT NULL"
							 " FROM pg_catalog.pg_roles WHERE rolname = current_user", 0, NULL);
	char *role, *hint;

	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		pf_query_failed(c, "rollback_source_privileges", c->src, NULL);
		return;
	}
	role = pf_quoted_role(c->src);
	hint = xasprintf("on the source, as a superuser: GRANT SET ON PARAMETER session_replication_role "
					 "TO %s (the reverse stream replays the target's changes into the source "
					 "without firing its triggers twice)", role);
	pf_add_owned(c, "rollback_source_replication_role", is_true(res, 0) ? CHECK_PASS : CHECK_FAIL,
				 xasprintf("%s %s set session_replication_role on the source", role,
						   is_true(res, 0) ? "may" : "may not"), hint);
	free(hint);
	hint = xasprintf("on the source: GRANT CREATE ON DATABASE <db> TO %s, or create schema "
					 "pgshift for it once (the reverse stream's applied LSN lives there)", role);
	pf_add_owned(c, "rollback_source_state", is_true(res, 1) ? CHECK_PASS : CHECK_FAIL,
				 xasprintf("%s %s create the state schema pgshift on the source", role,
						   is_true(res, 1) ? "may" : "may not"), hint);
	free(hint);
	free(role);
	PQclear(res);
}

static bool
own_identity(const struct cat_table *t)
{
	return t->replident == 'f' || (t->replident == 'i' && t->replident_usable) ||
		(t->replident == 'd' && t->pk_usable);
}

static void
check_identities(struct pf_ctx *c)
{
	const struct catalog *cat = c->cat;
	struct buf names;
	size_t bad = 0, total = 0;

	if (!cat)
		return;
	for (size_t i = 0; i < cat->ntables; i++)
		if (cat_table_copies_data(&cat->tables[i]) && !own_identity(&cat->tables[i]))
			total++;
	buf_init(&names);
	for (size_t i = 0; i < cat->ntables; i++) {
		const struct cat_table *t = &cat->tables[i];
		char *q;

		if (!cat_table_copies_data(t) || own_identity(t))
			continue;
		q = xasprintf("%s.%s", t->schema, t->name);
		pf_list_append(&names, bad++, total, q);
		free(q);
	}
	pf_add_owned(c, "rollback_replica_identity", bad ? CHECK_FAIL : CHECK_PASS,
				 bad ? xasprintf("no primary key or replica identity: %s", names.data)
				 : xstrdup("every migrated table has a key"),
				 c->plan->cdc.replica_identity == REPLICA_IDENTITY_FULL
				 ? "add a primary key (or REPLICA IDENTITY USING INDEX or FULL) to these tables "
				 "on the source, or exclude them: the reverse stream publishes them on the "
				 "target; cdc.replica_identity: full covers the forward stream only (FULL on "
				 "the source), not the reverse stream"
				 : "add a primary key (or REPLICA IDENTITY USING INDEX) to these tables, or exclude "
				 "them: the reverse stream publishes them on the target");
	buf_free(&names);
}

void
pf_checks_rollback(struct pf_ctx *c)
{
	if (!c->plan->rollback.enabled)
		return;
	check_identities(c);
	check_source_rights(c);
	if (!c->dst) {
		pf_no_target(c, "rollback_wal_level");
		return;
	}
	check_wal_level(c);
	check_target_rights(c);
	/* rollback.slot's slot creation waits for them, the source fenced by then */
	pf_check_prepared(c, c->dst, "rollback_prepared_transactions", " on the target",
					  "on the target: COMMIT PREPARED or ROLLBACK PREPARED them (see "
					  "pg_prepared_xacts): the cutover's rollback.slot waits for them with the "
					  "source fenced, and gives up after the wait_for_catchup timeout");
}
