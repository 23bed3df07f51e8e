/*
 * The statements of `pgshift reset` (see reset_int.h). A manifest object is
 * named by its pg_identify_object identity: the server's own quoting of it
 * (quote_identifier, format_type), made to be read back by SQL, with the
 * signature where DROP needs one (a function's arguments, an operator's
 * operand types, a cast's types, an operator class's access method).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle/reset_int.h"
#include "pg/conn.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

static const struct {
	const char *kind, *sql;
} drop_kinds[] = {
	{"table", "TABLE"},
	{"view", "VIEW"},
	{"materialized view", "MATERIALIZED VIEW"},
	{"sequence", "SEQUENCE"},
	{"foreign table", "FOREIGN TABLE"},
	{"index", "INDEX"},
	{"type", "TYPE"},
	{"composite type", "TYPE"},
	{"function", "FUNCTION"},
	{"aggregate", "AGGREGATE"},
	{"procedure", "PROCEDURE"},
	{"operator", "OPERATOR"},
	{"operator class", "OPERATOR CLASS"},
	{"operator family", "OPERATOR FAMILY"},
	{"collation", "COLLATION"},
	{"conversion", "CONVERSION"},
	{"cast", "CAST"},
	{"text search configuration", "TEXT SEARCH CONFIGURATION"},
	{"text search dictionary", "TEXT SEARCH DICTIONARY"},
	{"text search parser", "TEXT SEARCH PARSER"},
	{"text search template", "TEXT SEARCH TEMPLATE"},
	{"extension", "EXTENSION"},
	{"schema", "SCHEMA"},
	{"publication", "PUBLICATION"},
	{"event trigger", "EVENT TRIGGER"},
	{"language", "LANGUAGE"},
	{"foreign-data wrapper", "FOREIGN DATA WRAPPER"},
	{"server", "SERVER"},
	{"access method", "ACCESS METHOD"},
	{"statistics object", "STATISTICS"},
	{"transform", "TRANSFORM"},
	{"user mapping", "USER MAPPING"},
};

static const char *
drop_keyword(const char *kind)
{
	for (size_t i = 0; i < sizeof(drop_kinds) / sizeof(drop_kinds[0]); i++)
		if (strcmp(drop_kinds[i].kind, kind) == 0)
			return drop_kinds[i].sql;
	return NULL;
}

bool
reset_can_drop(const char *kind)
{
	return drop_keyword(kind) || strcmp(kind, "large object") == 0 ||
		strcmp(kind, "default acl") == 0;
}

static bool
drop_large_object(PGconn *dst, const struct manifest_object *o, struct pgs_error *err)
{
	char oid[16];
	const char *params[1] = {oid};
	bool ok;

	snprintf(oid, sizeof(oid), "%u", o->objid);
	ok = pg_exec(dst, "SELECT pg_catalog.lo_unlink($1::pg_catalog.oid)"
				 " WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata"
				 "  WHERE oid = $1::pg_catalog.oid)", 1, params, err);
	if (!ok)
		pgs_error_prefix(err, "could not drop large object %s on the target", oid);
	return ok;
}

/*
 * What follows DROP KIND IF EXISTS: the identity, except for the two kinds
 * whose identity reads as a sentence ("for T on language L", "R on server
 * S") and whose DROP says "FOR T LANGUAGE L" and "FOR R SERVER S".
 */
static void
drop_name(struct buf *b, const struct manifest_object *o)
{
	const char *sep = strcmp(o->kind, "transform") == 0 ? " on language " :
		strcmp(o->kind, "user mapping") == 0 ? " on server " : NULL;
	const char *id = o->identity, *at = NULL;
	size_t len = strlen(id);

	/* an aggregate of no argument (count(*)-like) is named name(*) */
	if (strcmp(o->kind, "aggregate") == 0 && len >= 2 && strcmp(id + len - 2, "()") == 0) {
		buf_printf(b, "%.*s(*)", (int) (len - 2), id);
		return;
	}
	if (sep)
		for (const char *p = strstr(id, sep); p; p = strstr(p + 1, sep))
			at = p;
	if (!at) {
		buf_printf(b, "%s", id);
		return;
	}
	if (strncmp(id, "for ", 4) == 0)
		id += 4;
	buf_printf(b, "FOR %.*s %s %s", (int) (at - id), id,
			   sep[4] == 'l' ? "LANGUAGE" : "SERVER", at + strlen(sep));
}

/*
 * A default privileges entry apply created (ALTER DEFAULT PRIVILEGES of an
 * existing role) has no DROP: it goes once its privileges are the built-in
 * ones again. One in no schema is put back to them (all to the role, and
 * to PUBLIC for functions and types); one of a schema only adds to those,
 * so everything it grants is revoked.
 */
static const char default_acl_sql[] =
	"SELECT pg_catalog.format('ALTER DEFAULT PRIVILEGES FOR ROLE %1$I%5$s REVOKE ALL ON %2$s FROM PUBLIC%3$s'"
	"  || CASE WHEN d.defaclnamespace = 0 THEN"
	"   '; ALTER DEFAULT PRIVILEGES FOR ROLE %1$I GRANT ALL ON %2$s TO %1$I%4$s' ELSE '' END,"
	"  r.rolname, c.class,"
	"  (SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format(', %I', g.rolname), '')"
	"    FROM pg_catalog.aclexplode(d.defaclacl) e JOIN pg_catalog.pg_roles g ON g.oid = e.grantee"
	"    WHERE g.rolname <> r.rolname OR d.defaclnamespace <> 0),"
	"  CASE WHEN d.defaclobjtype IN ('f', 'T') THEN ', PUBLIC' ELSE '' END,"
	"  CASE WHEN d.defaclnamespace = 0 THEN '' ELSE"
	"   pg_catalog.format(' IN SCHEMA %I', n.nspname) END)"
	" FROM pg_catalog.pg_default_acl d JOIN pg_catalog.pg_roles r ON r.oid = d.defaclrole"
	" LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace"
	" CROSS JOIN LATERAL (SELECT CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES'"
	"  WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END AS class) c"
	" WHERE d.oid = $1::pg_catalog.oid";

static bool
put_back_default_acl(PGconn *dst, const char *oid, struct pgs_error *err)
{
	const char *params[1] = {oid};
	PGresult *res = pg_query(dst, default_acl_sql, 1, params, err);
	bool ok = res != NULL;

	for (int r = 0; ok && r < PQntuples(res); r++)
		ok = pg_exec(dst, PQgetvalue(res, r, 0), 0, NULL, err);
	PQclear(res);
	return ok;
}

static bool
drop_default_acl(PGconn *dst, const struct manifest_object *o, struct pgs_error *err)
{
	char oid[16];
	bool ok;

	snprintf(oid, sizeof(oid), "%u", o->objid);
	ok = put_back_default_acl(dst, oid, err);
	if (ok)
		log_info("reset: put back default acl %s", o->identity);
	else
		pgs_error_prefix(err, "could not put back default acl %s on the target", o->identity);
	return ok;
}

/*
 * A procedure's identity lists its input argument types, which two
 * procedures differing only in OUT arguments share (DROP then says "not
 * unique"): it is dropped by its full signature, argument modes included.
 */
static bool
drop_procedure(PGconn *dst, const struct manifest_object *o, bool cascade,
			   struct pgs_error *err)
{
	char oid[16], *sql;
	const char *params[1] = {oid};
	PGresult *res;
	bool ok;

	snprintf(oid, sizeof(oid), "%u", o->objid);
	res = pg_query(dst, "SELECT pg_catalog.format('%I.%I(%s)', n.nspname, p.proname,"
				   " pg_catalog.pg_get_function_identity_arguments(p.oid))"
				   " FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
				   " WHERE p.oid = $1::pg_catalog.oid", 1, params, err);
	if (!res || PQntuples(res) == 0) {
		PQclear(res);
		return res != NULL;
	}
	sql = xasprintf("DROP PROCEDURE IF EXISTS %s%s", PQgetvalue(res, 0, 0), cascade ? " CASCADE" : "");
	PQclear(res);
	ok = pg_exec(dst, sql, 0, NULL, err);
	free(sql);
	if (ok)
		log_info("reset: dropped procedure %s", o->identity);
	else
		pgs_error_prefix(err, "could not drop procedure %s on the target", o->identity);
	return ok;
}

static void
describe_group(struct buf *b, const struct manifest *m, const struct drop_group *g)
{
	for (size_t i = 0; i < g->n; i++) {
		const struct manifest_object *o = &m->objects[g->members[i]];

		buf_printf(b, "%s%s %s", i ? ", " : "", o->kind, o->identity);
	}
}

/* Members that depend on each other in a cycle are one DROP when they are of one kind. */
static bool
one_kind(const struct manifest *m, const struct drop_group *g)
{
	for (size_t i = 1; i < g->n; i++)
		if (strcmp(m->objects[g->members[i]].kind, m->objects[g->members[0]].kind) != 0)
			return false;
	return true;
}

static bool
drop_statement(PGconn *dst, const struct manifest *m, const struct drop_group *g,
			   const char *kw, bool cascade, struct pgs_error *err)
{
	struct buf sql, what;
	bool ok;

	buf_init(&sql);
	buf_init(&what);
	buf_printf(&sql, "DROP %s IF EXISTS ", kw);
	for (size_t i = 0; i < g->n; i++) {
		buf_printf(&sql, "%s", i ? ", " : "");
		drop_name(&sql, &m->objects[g->members[i]]);
	}
	/* nothing can depend on a user mapping, and its DROP takes no CASCADE */
	if (cascade && strcmp(kw, "USER MAPPING") != 0)
		buf_printf(&sql, " CASCADE");
	describe_group(&what, m, g);
	ok = pg_exec(dst, sql.data, 0, NULL, err);
	if (ok)
		log_info("reset: dropped %s", what.data);
	else {
		pgs_error_prefix(err, "could not drop %s on the target", what.data);
		if (strcmp(err->sqlstate, "2BP01") == 0 && !err->hint[0])
			pgs_error_hint(err, "something apply did not create depends on it: drop or move it "
						   "first, or run reset with --cascade");
	}
	buf_free(&sql);
	buf_free(&what);
	return ok;
}

static bool
drop_each(PGconn *dst, const struct manifest *m, const struct drop_group *g,
		  struct pgs_error *err)
{
	for (size_t i = 0; i < g->n; i++) {
		struct drop_group one = {&g->members[i], 1};

		if (!reset_drop_group(dst, m, &one, true, err))
			return false;
	}
	return true;
}

/*
 * A cycle of different kinds (a table whose policy reads a view of another
 * table whose policy reads the first) has no DROP without CASCADE. reset
 * refused before dropping anything if an object it did not create depends
 * on the manifest's, so CASCADE here reaches only the cycle's members and
 * what they own; members a cascade already took are skipped by IF EXISTS.
 */
bool
reset_drop_group(PGconn *dst, const struct manifest *m, const struct drop_group *g,
				 bool cascade, struct pgs_error *err)
{
	const struct manifest_object *first = &m->objects[g->members[0]];
	const char *kw = drop_keyword(first->kind);

	if (g->n > 1 && !cascade && !one_kind(m, g)) {
		struct buf what;

		buf_init(&what);
		describe_group(&what, m, g);
		log_info("reset: %s depend on each other in a cycle: dropped one by one with CASCADE",
				 what.data);
		buf_free(&what);
		return drop_each(dst, m, g, err);
	}
	if (cascade && g->n > 1)
		return drop_each(dst, m, g, err);
	if (strcmp(first->kind, "large object") == 0 && g->n == 1)
		return drop_large_object(dst, first, err);
	if (strcmp(first->kind, "default acl") == 0 && g->n == 1)
		return drop_default_acl(dst, first, err);
	if (strcmp(first->kind, "procedure") == 0 && g->n == 1)
		return drop_procedure(dst, first, cascade, err);
	if (!kw)
		return pgs_fail(err, "reset has no DROP for %s %s, which apply created", first->kind,
						first->identity);
	return drop_statement(dst, m, g, kw, cascade, err);
}

/*
 * Roles are the cluster's, not the database's: one apply created is dropped
 * unless something still uses it (an object in another database, a grant,
 * a membership), which DROP ROLE refuses with 2BP01; it is then kept, named.
 *
 * The role's own default privileges (FOR ROLE r, in no schema) were set by
 * apply, the role being apply's: put back to the built-in ones, which
 * removes them, so they do not keep the role alive. Those of a schema went
 * with it.
 */
static const char role_defaults_sql[] =
	"SELECT d.oid FROM pg_catalog.pg_default_acl d JOIN pg_catalog.pg_roles r ON r.oid = d.defaclrole"
	" WHERE r.rolname = $1 AND d.defaclnamespace = 0";

static bool
reset_role_defaults(PGconn *dst, const char *role, struct pgs_error *err)
{
	const char *params[1] = {role};
	PGresult *res = pg_query(dst, role_defaults_sql, 1, params, err);
	bool ok = res != NULL;

	for (int r = 0; ok && r < PQntuples(res); r++)
		ok = put_back_default_acl(dst, PQgetvalue(res, r, 0), err);
	PQclear(res);
	return ok;
}

static bool
drop_role(PGconn *dst, const struct created_object *o, struct pgs_error *err)
{
	char *q = pg_quote_ident(dst, o->name);
	char *sql = xasprintf("DROP ROLE IF EXISTS %s", q);
	struct pgs_error used;
	bool ok;

	if (!reset_role_defaults(dst, o->name, err)) {
		pgs_error_prefix(err, "could not reset the default privileges of role %s", q);
		free(sql);
		free(q);
		return false;
	}
	pgs_error_clear(&used);
	ok = pg_exec(dst, sql, 0, NULL, &used);
	if (ok)
		log_info("reset: dropped role %s (created by apply)", q);
	else if (strcmp(used.sqlstate, "2BP01") == 0)
		log_warning("reset: kept role %s, created by apply: it is still used (%s)", q,
					used.detail[0] ? used.detail : used.message);
	else
		*err = used;
	free(sql);
	free(q);
	return ok || strcmp(used.sqlstate, "2BP01") == 0;
}

bool
reset_drop_created(PGconn *dst, const struct created_object *o, struct pgs_error *err)
{
	const char *kw = drop_keyword(o->kind);
	char *name, *sql;
	bool ok;

	if (strcmp(o->kind, "role") == 0)
		return drop_role(dst, o, err);
	if (!kw)
		return pgs_fail(err, "pgshift.created_objects lists %s \"%s\" of unknown kind \"%s\"; "
						"it was left alone", o->kind, o->name, o->kind);
	name = o->schema ? pg_quote_qualified(dst, o->schema, o->name) : pg_quote_ident(dst, o->name);
	sql = xasprintf("DROP %s IF EXISTS %s", kw, name);
	ok = pg_exec(dst, sql, 0, NULL, err);
	if (ok)
		log_info("reset: dropped %s %s", o->kind, name);
	else
		pgs_error_prefix(err, "could not drop %s %s on the target", o->kind, name);
	free(sql);
	free(name);
	return ok;
}
