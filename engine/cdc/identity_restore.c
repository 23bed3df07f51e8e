/*
 * Restoring source replica identities (identity_restore.h). The current
 * identity is read first, so a second run, or a table the operator changed
 * meanwhile, is never touched twice or overridden.
 */
#include <stdlib.h>
#include <string.h>

#include "cdc/identity.h"
#include "cdc/identity_restore.h"
#include "pg/conn.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

static const char current_sql[] =
	"SELECT c.relreplident, (SELECT ic.relname FROM pg_catalog.pg_index i"
	"  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
	"  WHERE i.indrelid = c.oid AND i.indisreplident)"
	" FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE n.nspname = $1 AND c.relname = $2";

static bool
same_identity(char kind, const char *index, char want_kind, const char *want_index)
{
	if (kind != want_kind)
		return false;
	return kind != 'i' || (index && want_index && strcmp(index, want_index) == 0);
}

/* "FULL" or "USING INDEX t_code_key" (malloc'd), for messages. */
static char *
shown(char kind, const char *index)
{
	return xasprintf("%s%s%s", identity_name(kind), kind == 'i' && index ? " " : "",
					 kind == 'i' && index ? index : "");
}

static bool
restore_one(struct state *st, PGconn *src, const struct identity_change *c, struct pgs_error *err)
{
	const char *params[2] = {c->schema, c->table};
	PGresult *res = pg_query(src, current_sql, 2, params, err);
	char kind, *index, *was;
	bool ok = true;

	if (!res)
		return false;
	if (PQntuples(res) == 0) {
		PQclear(res);
		log_warning("cleanup: table \"%s.%s\" no longer exists on the source; nothing to restore",
					c->schema, c->table);
		return state_identity_restored(st, c->schema, c->table, err);
	}
	kind = PQgetvalue(res, 0, 0)[0];
	index = PQgetisnull(res, 0, 1) ? NULL : xstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	was = shown(c->old_identity, c->old_index);
	if (same_identity(kind, index, c->new_identity, c->new_index)) {
		ok = identity_set(src, c->schema, c->table, c->old_identity, c->old_index, err);
		if (ok)
			log_info("cleanup: restored REPLICA IDENTITY %s on source table \"%s.%s\"", was,
					 c->schema, c->table);
	} else if (!same_identity(kind, index, c->old_identity, c->old_index)) {
		char *now = shown(kind, index);

		log_warning("cleanup: source table \"%s.%s\" has REPLICA IDENTITY %s, not the one pgshift "
					"set; left as it is (it was %s before pgshift)", c->schema, c->table, now, was);
		free(now);
		free(index);
		free(was);
		return true;            /* not ours to undo: the record stays */
	}
	free(index);
	free(was);
	return ok && state_identity_restored(st, c->schema, c->table, err);
}

bool
identity_restore_all(struct state *st, PGconn *src, struct pgs_error *err)
{
	struct identity_change *c;
	size_t n;
	bool ok = true;

	if (!state_list_identities(st, &c, &n, err))
		return false;
	for (size_t i = 0; i < n && ok; i++)
		ok = restore_one(st, src, &c[i], err);
	identity_changes_free(c, n);
	return ok;
}

bool
identity_report_left(struct state *st, const char *plan_file, struct pgs_error *err)
{
	struct identity_change *c;
	struct buf b;
	size_t n;

	if (!state_list_identities(st, &c, &n, err))
		return false;
	buf_init(&b);
	for (size_t i = 0; i < n; i++) {
		char *was = shown(c[i].old_identity, c[i].old_index);
		char *now = shown(c[i].new_identity, c[i].new_index);

		buf_printf(&b, "%s%s.%s (%s, was %s)", i ? ", " : "", c[i].schema, c[i].table, now, was);
		free(was);
		free(now);
	}
	if (n > 0)
		log_warning("cleanup: pgshift left the replica identity of %zu source table(s) changed: %s;"
					" \"pgshift cleanup %s --restore-identity\" restores them (the record stays"
					" in schema pgshift on the target until then)", n, b.data, plan_file);
	buf_free(&b);
	identity_changes_free(c, n);
	return true;
}
