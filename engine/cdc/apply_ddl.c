/*
 * cdc.ddl: replicate, the applier's side. A 'pgshift.ddl' message (the
 * capture function's, ddl_capture.c) is a statement the source ran in the
 * transaction being applied, at that place among its rows. The plan's
 * filters decide by the tables the statement touched (or, touching none,
 * by schema; a GRANT, REVOKE or extension DDL, which names none, always
 * runs): all
 * excluded, it is skipped; all migrated, it runs on the
 * target with the source session's search_path, in the target transaction
 * that records the applied LSN (and, in pgshift.manifest, what it created,
 * for reset), so a crash either keeps both or neither;
 * some of each, or a statement whose text is not the DDL's own (run by a
 * function or DO block) or that the target refuses, stops the applier
 * naming the statement and the LSN.
 *
 * After that transaction commits, what the applier derived from the target
 * catalog is read again (the tables whose changes may be coalesced, the
 * identity columns GENERATED ALWAYS) and every relation is described again
 * at its next Relation message, so the following changes take the new shape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/apply_int.h"
#include "cdc/ddl_message.h"
#include "pg/conn.h"
#include "state/state.h"
#include "util/log.h"
#include "util/test_crash.h"
#include "util/xalloc.h"

/* What the detail shows of a long statement. */
#define SHOWN_SQL 2000

enum verdict { DDL_APPLY, DDL_SKIP, DDL_REFUSE };

static bool
migrated(const struct cdc_applier *a, const struct ddl_object *o, bool by_table)
{
	return by_table ? catalog_filter_keeps_relation(a->plan, o->rel_schema, o->rel_name)
					: catalog_filter_keeps_schema(a->plan, o->schema);
}

/*
 * An UNLOGGED table (CREATE UNLOGGED TABLE, ALTER TABLE ... SET UNLOGGED)
 * writes no WAL for its rows: none would reach the target. Preflight refuses
 * such a table at the start unless its rows are left out; so does this.
 */
static bool
unlogged_rows(const struct cdc_applier *a, const struct ddl_message *d, char *why, size_t size)
{
	for (size_t i = 0; i < d->nobjects; i++) {
		const struct ddl_object *o = &d->objects[i];

		if (o->rel_persistence && strcmp(o->rel_persistence, "u") == 0 && o->rel_schema &&
			o->rel_name && catalog_filter_copies_rows(a->plan, o->rel_schema, o->rel_name)) {
			snprintf(why, size, "table %s.%s is UNLOGGED: its rows are not written to the WAL, so "
					 "CDC cannot carry them (make it LOGGED on the source, or list it in "
					 "filters.exclude_table_data, and start over)", o->rel_schema, o->rel_name);
			return true;
		}
	}
	return false;
}

/*
 * By tables when any object is a table's (a dropped table's row type and
 * index come without one and follow it), else by schemas; objects outside
 * any schema (a publication membership) do not count.
 */
static enum verdict
decide(const struct cdc_applier *a, const struct ddl_message *d, char *why, size_t size)
{
	bool by_table = false;
	size_t in = 0, out = 0;
	const char *excluded = NULL;

	/* the capture failed: what the statement changed is not known */
	if (d->error && d->nobjects == 0) {
		snprintf(why, size, "the capture failed on the source: %s", d->error);
		return DDL_REFUSE;
	}
	if (!ddl_statement_is_top_level(d->sql, d->tag)) {
		snprintf(why, size, "the %s ran inside a function, procedure or DO block (or after "
				 "another statement of one query string), so the statement text is not its own",
				 d->tag);
		return DDL_REFUSE;
	}
	/* no schema is known for a GRANT's objects or an extension: the target runs it, or refuses it */
	if (!d->error && (strcmp(d->tag, "GRANT") == 0 || strcmp(d->tag, "REVOKE") == 0 ||
					  strstr(d->tag, " EXTENSION")))
		return DDL_APPLY;
	if (d->error && d->stop) {
		snprintf(why, size, "%s", d->error);
		return DDL_REFUSE;
	}
	for (size_t i = 0; i < d->nobjects; i++)
		by_table |= d->objects[i].rel_schema && d->objects[i].rel_name;
	for (size_t i = 0; i < d->nobjects; i++) {
		const struct ddl_object *o = &d->objects[i];

		if (by_table ? !(o->rel_schema && o->rel_name) : !o->schema)
			continue;
		if (migrated(a, o, by_table)) {
			in++;
		} else {
			out++;
			excluded = o->identity;
		}
	}
	if (in == 0)
		return DDL_SKIP;
	if (d->error) {
		snprintf(why, size, "%s", d->error);
		return DDL_REFUSE;
	}
	if (unlogged_rows(a, d, why, size))
		return DDL_REFUSE;
	if (out == 0)
		return DDL_APPLY;
	snprintf(why, size, "it also changes %s, which the plan's filters exclude",
			 excluded ? excluded : "an object");
	return DDL_REFUSE;
}

static bool
refuse(const struct ddl_message *d, const char *why, const struct apply_ctx *ctx,
	   struct pgs_error *err)
{
	pgs_fail(err, "a DDL statement replicated from the source cannot be applied: %s", why);
	pgs_error_detail(err, "statement: %.*s%s", SHOWN_SQL, d->sql,
					 strlen(d->sql) > SHOWN_SQL ? "..." : "");
	pgs_error_hint(err, "nothing of this source transaction was applied (cdc.ddl: replicate); "
				   "start over: pgshift reset PLAN --yes, then pgshift apply PLAN (the new copy "
				   "has the change)");
	return apply_fail_ctx(err, NULL, ctx);
}

/*
 * The role the DDL runs as on the target, so what it creates has the owner
 * schema.owners gives the source's objects: the source role (mapped), or
 * none (owners: target_role, everything the login's).
 */
static const char *
ddl_role(const struct cdc_applier *a, const struct ddl_message *d)
{
	if (!d->role || a->plan->schema.owners == OWNERS_TARGET_ROLE)
		return NULL;
	return plan_map_role(a->plan, d->role);
}

static bool
send_setting(struct cdc_applier *a, const char *name, const char *value,
			 const struct apply_pending *what, struct pgs_error *err)
{
	const char *params[] = {name, value};

	return apply_target_send_bulk(&a->tgt, NULL,
								  "SELECT pg_catalog.set_config($1, $2, true)", 2, NULL, params,
								  what, NULL, err);
}

/*
 * The source session's settings that turn text into times (an ALTER COLUMN
 * ... TYPE timestamp of a timestamptz column converts in its TimeZone), set
 * for the statement; NULL values (a capture of an older pgshift) keep the
 * applier's.
 */
static bool
send_time_settings(struct cdc_applier *a, const struct ddl_message *d,
				   const struct apply_pending *set, struct pgs_error *err)
{
	return (!d->timezone || send_setting(a, "TimeZone", d->timezone, set, err)) &&
		(!d->datestyle || send_setting(a, "DateStyle", d->datestyle, set, err)) &&
		(!d->intervalstyle || send_setting(a, "IntervalStyle", d->intervalstyle, set, err));
}

/* Back to the values every session of pgshift has: the applier's rows are read by them. */
static bool
restore_time_settings(struct cdc_applier *a, const struct apply_pending *set,
					  struct pgs_error *err)
{
	static const char *const names[] = {"TimeZone", "DateStyle", "IntervalStyle"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!send_setting(a, names[i], pg_session_setting(names[i]), set, err))
			return false;
	return true;
}

/* The statement as the source session ran it (role, search_path, times), then the applier's again. */
static bool
send_ddl(struct cdc_applier *a, const struct ddl_message *d, const struct apply_ctx *ctx,
		 struct pgs_error *err)
{
	const char *role = ddl_role(a, d);
	struct apply_pending set = {.what = 'Q', .xid = ctx->xid, .lsn = ctx->commit_lsn};
	struct apply_pending ddl = set, manifest = set;
	const char *plan[] = {a->plan_name};
	char *plain;
	bool ok;

	ddl.what = 'X';
	manifest.what = 'M';
	if (!apply_target_begin(&a->tgt, err) || !apply_batch_send(a, err) ||
		(role && !send_setting(a, "role", role, &set, err)) ||
		!send_setting(a, "search_path", d->search_path ? d->search_path : "", &set, err) ||
		!send_time_settings(a, d, &set, err))
		return false;
	/* the same index, built inside the transaction that records the LSN, so it runs once */
	plain = ddl_without_concurrently(d->sql, d->tag);
	ddl.key = xstrdup(plain ? plain : d->sql);
	ok = apply_target_send_sql(&a->tgt, plain ? plain : d->sql, &ddl, err) &&
		apply_target_send_sql(&a->tgt, "SET LOCAL search_path TO DEFAULT", &set, err) &&
		restore_time_settings(a, &set, err) &&
		(!role || apply_target_send_sql(&a->tgt, "SET LOCAL ROLE NONE", &set, err)) &&
		apply_target_send_bulk(&a->tgt, NULL, state_manifest_record_sql, 1, NULL, plan,
							   &manifest, NULL, err);
	free(plain);
	return ok;
}

bool
apply_ddl_message(struct cdc_applier *a, const struct pgo_message *m,
				  const struct apply_ctx *ctx, struct pgs_error *err)
{
	struct ddl_message d;
	char why[1024], lsn[PGO_LSN_TEXT_SIZE];
	bool ok = true;

	if (!a->plan || a->plan->cdc.ddl != DDL_REPLICATE ||
		!(m->flags & PGO_MESSAGE_TRANSACTIONAL) || strcmp(m->prefix, DDL_MESSAGE_PREFIX) != 0)
		return true;
	if (!ddl_message_parse(m->content, m->len, &d, err))
		return apply_fail_ctx(err, NULL, ctx);
	apply_lsn_text(ctx->commit_lsn, lsn);
	switch (decide(a, &d, why, sizeof(why))) {
		case DDL_SKIP:
			log_info("cdc.ddl: skipped %s of source transaction %u (commit %s): the plan's "
					 "filters exclude what it changes", d.tag, ctx->xid, lsn);
			break;
		case DDL_REFUSE:
			ok = refuse(&d, why, ctx, err);
			break;
		case DDL_APPLY:
			ok = send_ddl(a, &d, ctx, err);
			if (ok) {
				a->ddl_in_txn = true;
				log_info("cdc.ddl: applying %s of source transaction %u (commit %s)", d.tag,
						 ctx->xid, lsn);
			}
			break;
	}
	ddl_message_free(&d);
	return ok;
}

static const char always_sql[] =
	"SELECT n.nspname, c.relname, a.attname FROM pg_catalog.pg_attribute a"
	" JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE a.attidentity = 'a' AND NOT a.attisdropped AND c.relkind IN ('r', 'p')";

static int
cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *) x, *(char *const *) y);
}

static void
free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static bool
read_always(struct cdc_applier *a, struct pgs_error *err)
{
	PGresult *res = pg_query(a->tgt.conn, always_sql, 0, NULL, err);

	if (!res)
		return false;
	free_list(a->always, a->nalways);
	a->always = xcalloc((size_t) PQntuples(res) + 1, sizeof(char *));
	a->nalways = 0;
	for (int i = 0; i < PQntuples(res); i++)
		a->always[a->nalways++] = xasprintf("%s\n%s\n%s", PQgetvalue(res, i, 0),
											PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
	PQclear(res);
	qsort(a->always, a->nalways, sizeof(char *), cmp_str);
	return true;
}

bool
apply_ddl_committed(struct cdc_applier *a, struct pgs_error *err)
{
	bool ok;

	if (!a->ddl_in_txn)
		return true;
	a->ddl_in_txn = false;
	a->ddl_epoch++;
	test_crash_point("cdc.ddl_applied", NULL);
	/* the pipeline is empty after a commit: plain queries for a moment */
	if (!PQexitPipelineMode(a->tgt.conn))
		return pgs_fail(err, "could not leave pipeline mode on the target: %s",
						PQerrorMessage(a->tgt.conn));
	free_list(a->plain, a->nplain);
	a->plain = NULL;
	a->nplain = 0;
	ok = apply_target_read_plain(&a->tgt, &a->plain, &a->nplain, err) && read_always(a, err);
	if (!ok)
		pgs_error_prefix(err, "could not read the target's tables again after a replicated DDL");
	return ok && apply_target_pipeline(&a->tgt, err);
}
