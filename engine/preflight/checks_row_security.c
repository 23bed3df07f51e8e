/*
 * Row-level security (DESIGN.md §4c): a COPY out of a table with RLS
 * enabled returns only the rows the policies let the role see, without an
 * error, so a source role that neither has the owner's rights nor BYPASSRLS
 * would migrate part of a table and say nothing. FORCE ROW LEVEL SECURITY
 * applies the policies to the owner too: then only BYPASSRLS reads every
 * row on the source, and only BYPASSRLS writes every replayed row on the
 * target, where the restored tables keep FORCE.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "preflight/preflight_int.h"
#include "util/xalloc.h"

/*
 * The catalog's tables with RLS enabled, whether the source role reads all
 * their rows, and whether they FORCE it.
 */
static PGresult *
rls_tables(struct pf_ctx *c)
{
	static const char sql[] =
		"SELECT n.nspname, c.relname,"
		" r.rolsuper OR r.rolbypassrls"
		"  OR (pg_has_role(c.relowner, 'USAGE') AND NOT c.relforcerowsecurity),"
		" c.relforcerowsecurity, pg_catalog.pg_get_userbyid(c.relowner)"
		" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace,"
		" pg_catalog.pg_roles r"
		" WHERE r.rolname = current_user AND c.relrowsecurity"
		" AND c.oid = ANY ($1::pg_catalog.oid[]) ORDER BY 1, 2";
	char *oids = pf_table_oids(c->cat, NULL);
	const char *params[1] = {oids};
	PGresult *res = pf_query(c->src, sql, 1, params);

	free(oids);
	return res;
}

/* Lists the rows of res whose column col is false; returns how many. */
static size_t
list_where_false(const PGresult *res, int col, struct buf *obs)
{
	size_t n = 0, k = 0;

	for (int r = 0; r < PQntuples(res); r++)
		n += strcmp(PQgetvalue(res, r, col), "f") == 0;
	for (int r = 0; r < PQntuples(res); r++) {
		char *item;

		if (strcmp(PQgetvalue(res, r, col), "f") != 0)
			continue;
		item = xasprintf("%s.%s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
		pf_list_append(obs, k++, n, item);
		free(item);
	}
	return n;
}

/* GRANT of the owners of hidden tables without FORCE; BYPASSRLS for those with it. */
static char *
source_hint(PGconn *conn, const PGresult *res, const char *qrole)
{
	struct buf owners, hint;
	bool forced = false;

	buf_init(&owners);
	buf_init(&hint);
	for (int r = 0; r < PQntuples(res); r++) {
		char *q;

		if (strcmp(PQgetvalue(res, r, 2), "f") != 0)
			continue;
		if (strcmp(PQgetvalue(res, r, 3), "t") == 0) {
			forced = true;
			continue;
		}
		q = pg_quote_ident(conn, PQgetvalue(res, r, 4));
		if (!owners.data || !strstr(owners.data, q))
			buf_printf(&owners, "%s%s", owners.len ? ", " : "", q);
		free(q);
	}
	buf_puts(&hint, "on the source: ");
	if (owners.len)
		buf_printf(&hint, "GRANT %s TO %s (the owner's rights bypass the policies)%s", owners.data,
				   qrole, forced ? "; " : "");
	if (forced)
		buf_printf(&hint, "ALTER ROLE %s BYPASSRLS as a superuser, for the tables that FORCE"
				   " row-level security (RDS/Aurora, Cloud SQL, Azure: not grantable)", qrole);
	buf_free(&owners);
	return buf_steal(&hint);
}

static void
check_source(struct pf_ctx *c, const PGresult *res)
{
	char *qrole = pf_quoted_role(c->src);
	char *hint = source_hint(c->src, res, qrole);
	struct buf obs;
	size_t n;

	buf_init(&obs);
	buf_printf(&obs, "policies would hide rows from %s in ", qrole);
	n = list_where_false(res, 2, &obs);
	if (n == 0) {
		buf_reset(&obs);
		buf_printf(&obs, "%s reads every row of the %d table(s) with row-level security", qrole,
				   PQntuples(res));
	}
	pf_add_owned(c, "source_row_security", n ? CHECK_FAIL : CHECK_PASS, buf_steal(&obs), hint);
	free(hint);
	free(qrole);
}

/* Tables that FORCE row-level security keep it on the target: replay as tgt meets the policies. */
static void
check_target(struct pf_ctx *c, const PGresult *res)
{
	PGresult *me = pf_query(c->dst, "SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles"
							" WHERE rolname = current_user", 0, NULL);
	struct buf obs;
	size_t forced = 0, k = 0;
	char *qrole, *hint;

	if (!me || PQntuples(me) != 1) {
		PQclear(me);
		pf_query_failed(c, "target_row_security", c->dst, NULL);
		return;
	}
	qrole = pf_quoted_role(c->dst);
	buf_init(&obs);
	for (int r = 0; r < PQntuples(res); r++)
		forced += strcmp(PQgetvalue(res, r, 3), "t") == 0;
	if (forced == 0 || strcmp(PQgetvalue(me, 0, 0), "t") == 0)
		buf_printf(&obs, "%s writes every row (%zu table(s) FORCE row-level security)", qrole, forced);
	else
		buf_printf(&obs, "%s is subject to the policies of ", qrole);
	for (int r = 0; forced && strcmp(PQgetvalue(me, 0, 0), "f") == 0 && r < PQntuples(res); r++) {
		char *item;

		if (strcmp(PQgetvalue(res, r, 3), "t") != 0)
			continue;
		item = xasprintf("%s.%s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
		pf_list_append(&obs, k++, forced, item);
		free(item);
	}
	hint = xasprintf("on the target, as a superuser: ALTER ROLE %s BYPASSRLS, or ALTER TABLE ..."
					 " NO FORCE ROW LEVEL SECURITY on the source for the migration", qrole);
	pf_add_owned(c, "target_row_security", k ? CHECK_FAIL : CHECK_PASS, buf_steal(&obs), hint);
	free(hint);
	free(qrole);
	PQclear(me);
}

void
pf_checks_row_security(struct pf_ctx *c)
{
	PGresult *res = rls_tables(c);

	if (!res) {
		pf_query_failed(c, "source_row_security", c->src, NULL);
		return;
	}
	check_source(c, res);
	if (c->dst)
		check_target(c, res);
	else
		pf_no_target(c, "target_row_security");
	PQclear(res);
}
