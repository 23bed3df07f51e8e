/*
 * The replica identity rule (identity.h). It mirrors how PostgreSQL picks
 * a relation's identity index (RelationGetIndexList): an index that is
 * invalid, deferrable or partial is ignored, so a DEFERRABLE primary key
 * leaves a table with identity DEFAULT and no identity at all.
 */
#include <stdlib.h>

#include "cdc/identity.h"
#include "pg/conn.h"
#include "util/xalloc.h"

static bool
has_usable_identity(const struct cat_table *t)
{
	switch (t->replident) {
	case 'f':
		return true;
	case 'd':
		return t->pk_usable;
	case 'i':
		return t->replident_usable;
	default:
		return false;
	}
}

enum identity_fix
identity_needed(const struct cat_table *t)
{
	if (!cat_table_copies_data(t) || has_usable_identity(t))
		return IDENTITY_KEEP;
	if (t->pk_usable)
		return IDENTITY_DEFAULT;
	return t->identity_candidate ? IDENTITY_INDEX : IDENTITY_FULL;
}

const char *
identity_problem(const struct cat_table *t)
{
	switch (t->replident) {
	case 'n':
		return "REPLICA IDENTITY NOTHING";
	case 'i':
		return "its replica identity index is not valid";
	default:
		return t->has_pk ? "its primary key is DEFERRABLE, which cannot be a replica identity"
			: "no primary key";
	}
}

const char *
identity_name(char replident)
{
	switch (replident) {
	case 'd': return "DEFAULT";
	case 'n': return "NOTHING";
	case 'f': return "FULL";
	case 'i': return "USING INDEX";
	}
	return "?";
}

char *
identity_alter_sql(PGconn *conn, const char *schema, const char *table, char kind,
				   const char *index)
{
	char *q = pg_quote_qualified(conn, schema, table);
	char *qi = kind == 'i' && index ? pg_quote_ident(conn, index) : NULL;
	char *sql = xasprintf("ALTER TABLE %s REPLICA IDENTITY %s%s%s", q, identity_name(kind),
						  qi ? " " : "", qi ? qi : "");

	free(qi);
	free(q);
	return sql;
}

bool
identity_set(PGconn *conn, const char *schema, const char *table, char kind, const char *index,
			 struct pgs_error *err)
{
	char *sql = identity_alter_sql(conn, schema, table, kind, index);
	bool ok = pg_exec(conn, sql, 0, NULL, err);

	free(sql);
	if (!ok)
		pgs_error_prefix(err, "could not set REPLICA IDENTITY %s on table \"%s.%s\" on the source",
						 identity_name(kind), schema, table);
	return ok;
}
