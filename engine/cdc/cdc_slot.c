/*
 * Publication and replication slot on the source (see cdc_slot.h for the
 * partition decision). Normal sessions bind values as parameters; the
 * replication protocol's commands take none, so there the slot name is
 * quoted with PQescapeIdentifier.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/cdc_slot.h"
#include "pg/conn.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/xalloc.h"

bool
cdc_lsn_parse(const char *text, uint64_t *lsn)
{
	char *end;
	unsigned long long hi, lo;

	if (!text || !*text)
		return false;
	errno = 0;
	hi = strtoull(text, &end, 16);
	if (errno || end == text || *end != '/' || hi > UINT32_MAX)
		return false;
	text = end + 1;
	lo = strtoull(text, &end, 16);
	if (errno || end == text || *end != '\0' || lo > UINT32_MAX)
		return false;
	*lsn = (uint64_t) hi << 32 | (uint64_t) lo;
	return true;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

struct name_set {
	char **names;               /* owned, "schema"."table", sorted */
	size_t n;
};

static void
name_set_free(struct name_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	s->names = NULL;
	s->n = 0;
}

/* The tables the publication must list: those whose data is copied. */
static void
wanted_tables(PGconn *conn, const struct catalog *cat, struct name_set *set)
{
	set->names = xcalloc(cat->ntables + 1, sizeof(char *));
	set->n = 0;
	for (size_t i = 0; i < cat->ntables; i++) {
		const struct cat_table *t = &cat->tables[i];

		if (cat_table_copies_data(t))
			set->names[set->n++] = pg_quote_qualified(conn, t->schema, t->name);
	}
	qsort(set->names, set->n, sizeof(char *), cmp_str);
}

static bool
same_set(const struct name_set *a, const struct name_set *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->names[i], b->names[i]) != 0)
			return false;
	return true;
}

/* Every name of want is in have (both sorted). */
static bool
covers(const struct name_set *have, const struct name_set *want)
{
	for (size_t i = 0; i < want->n; i++)
		if (!bsearch(&want->names[i], have->names, have->n, sizeof(char *), cmp_str))
			return false;
	return true;
}

/*
 * 1 when the publication exists with exactly the wanted tables and options,
 * 0 when it does not exist, -1 (err set) when it exists otherwise or the
 * catalog could not be read.
 */
static int
existing_publication(PGconn *conn, const char *pub, const struct name_set *want, bool more_ok,
					 struct pgs_error *err)
{
	static const char opts_sql[] =
		"SELECT p.puballtables OR NOT (p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate)"
		" OR p.pubviaroot"
		" OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace pn WHERE pn.pnpubid = p.oid)"
		" OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel pr WHERE pr.prpubid = p.oid"
		"            AND (pr.prqual IS NOT NULL OR pr.prattrs IS NOT NULL))"
		" FROM pg_catalog.pg_publication p WHERE p.pubname = $1";
	static const char tables_sql[] =
		"SELECT n.nspname, c.relname FROM pg_catalog.pg_publication p"
		" JOIN pg_catalog.pg_publication_rel pr ON pr.prpubid = p.oid"
		" JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid"
		" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		" WHERE p.pubname = $1";
	const char *params[] = {pub};
	struct name_set have = {NULL, 0};
	PGresult *res = pg_query(conn, opts_sql, 1, params, err);
	int found;

	if (!res)
		return -1;
	found = PQntuples(res);
	if (found == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		PQclear(res);
		pgs_fail(err, "publication \"%s\" exists with other options", pub);
		pgs_error_detail(err, "pgshift needs all of insert, update, delete and truncate, "
						 "publish_via_partition_root = false, no schemas, row filters or column lists");
		pgs_error_hint(err, "drop it (pgshift cleanup) or set cdc.publication to another name");
		return -1;
	}
	PQclear(res);
	if (found == 0)
		return 0;
	res = pg_query(conn, tables_sql, 1, params, err);
	if (!res)
		return -1;
	have.names = xcalloc((size_t) PQntuples(res) + 1, sizeof(char *));
	for (int i = 0; i < PQntuples(res); i++)
		have.names[have.n++] = pg_quote_qualified(conn, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	PQclear(res);
	qsort(have.names, have.n, sizeof(char *), cmp_str);
	found = same_set(&have, want) || (more_ok && covers(&have, want)) ? 1 : -1;
	if (found < 0) {
		pgs_fail(err, "publication \"%s\" exists with another table set (%zu tables, the plan needs %zu)",
				 pub, have.n, want->n);
		pgs_error_hint(err, "drop it (pgshift cleanup) or set cdc.publication to another name");
	}
	name_set_free(&have);
	return found;
}

static char *
create_publication_sql(PGconn *conn, const char *pub, const struct name_set *want)
{
	char *qpub = pg_quote_ident(conn, pub);
	struct buf sql;

	buf_init(&sql);
	buf_printf(&sql, "CREATE PUBLICATION %s", qpub);
	for (size_t i = 0; i < want->n; i++)
		buf_printf(&sql, "%s%s", i == 0 ? " FOR TABLE " : ", ", want->names[i]);
	/* no table at all: a publication that publishes nothing, not FOR ALL TABLES */
	buf_puts(&sql, " WITH (publish = 'insert, update, delete, truncate',"
			 " publish_via_partition_root = false)");
	free(qpub);
	return buf_steal(&sql);
}

bool
cdc_create_publication(PGconn *conn, const struct plan *plan, const struct catalog *cat,
					   struct pgs_error *err)
{
	const char *pub = plan->cdc.publication;
	struct name_set want;
	char *sql = NULL;
	int have;
	bool ok = false;

	wanted_tables(conn, cat, &want);
	/* with cdc.ddl: replicate, tables created during CDC joined it (ddl_capture.c) */
	have = existing_publication(conn, pub, &want, plan->cdc.ddl == DDL_REPLICATE, err);
	if (have == 0) {
		sql = create_publication_sql(conn, pub, &want);
		ok = pg_exec(conn, sql, 0, NULL, err);
		if (!ok)
			pgs_error_prefix(err, "could not create publication \"%s\"", pub);
	} else {
		ok = have == 1;
	}
	free(sql);
	name_set_free(&want);
	return ok;
}

static bool
publication_tables(PGconn *conn, const char *pub, struct name_set *have, struct pgs_error *err)
{
	static const char sql[] =
		"SELECT n.nspname, c.relname FROM pg_catalog.pg_publication p"
		" JOIN pg_catalog.pg_publication_rel pr ON pr.prpubid = p.oid"
		" JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid"
		" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		" WHERE p.pubname = $1";
	const char *params[] = {pub};
	PGresult *res = pg_query(conn, sql, 1, params, err);

	if (!res)
		return false;
	have->names = xcalloc((size_t) PQntuples(res) + 1, sizeof(char *));
	have->n = 0;
	for (int i = 0; i < PQntuples(res); i++)
		have->names[have->n++] = pg_quote_qualified(conn, PQgetvalue(res, i, 0),
													PQgetvalue(res, i, 1));
	PQclear(res);
	qsort(have->names, have->n, sizeof(char *), cmp_str);
	return true;
}

bool
cdc_publication_add_tables(PGconn *conn, const char *pub, const struct catalog *cat, int *added,
						   struct pgs_error *err)
{
	struct name_set want, have = {NULL, 0};
	char *qpub = pg_quote_ident(conn, pub);
	bool ok;

	*added = 0;
	wanted_tables(conn, cat, &want);
	ok = publication_tables(conn, pub, &have, err);
	for (size_t i = 0; ok && i < want.n; i++) {
		char *sql;

		if (bsearch(&want.names[i], have.names, have.n, sizeof(char *), cmp_str))
			continue;
		sql = xasprintf("ALTER PUBLICATION %s ADD TABLE %s", qpub, want.names[i]);
		ok = pg_exec(conn, sql, 0, NULL, err);
		free(sql);
		if (ok)
			(*added)++;
		else
			pgs_error_prefix(err, "could not add table %s to publication \"%s\"",
							 want.names[i], pub);
	}
	free(qpub);
	name_set_free(&want);
	name_set_free(&have);
	return ok;
}

bool
cdc_drop_publication(PGconn *conn, const char *publication, bool *dropped,
					 struct pgs_error *err)
{
	static const char exists_sql[] = "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1";
	const char *params[] = {publication};
	PGresult *res = pg_query(conn, exists_sql, 1, params, err);
	bool exists = res && PQntuples(res) == 1, ok = res != NULL;
	char *q, *sql;

	PQclear(res);
	if (dropped)
		*dropped = false;
	if (!ok)
		pgs_error_prefix(err, "could not drop publication \"%s\"", publication);
	if (!ok || !exists)
		return ok;
	/* IF EXISTS all the same: another session may have dropped it meanwhile */
	q = pg_quote_ident(conn, publication);
	sql = xasprintf("DROP PUBLICATION IF EXISTS %s", q);
	ok = pg_exec(conn, sql, 0, NULL, err);
	if (!ok)
		pgs_error_prefix(err, "could not drop publication \"%s\"", publication);
	else if (dropped)
		*dropped = true;
	free(sql);
	free(q);
	return ok;
}

/*
 * CREATE_REPLICATION_SLOT, run with PQexec or, given waiting, with
 * pg_await (cdc_create_slot_watched).
 */
static bool
create_slot(PGconn *repl_conn, const char *slot, bool temporary, const struct slot_watch *w,
			char **snapshot_name, uint64_t *consistent_lsn, struct pgs_error *err)
{
	char *q = pg_quote_ident(repl_conn, slot);
	char *sql = xasprintf("CREATE_REPLICATION_SLOT %s%s LOGICAL pgoutput (SNAPSHOT 'export')", q,
						  temporary ? " TEMPORARY" : "");
	PGresult *res = w ? pg_await(repl_conn, sql, w->poll_ms, w->waiting, w->arg, err) :
		PQexec(repl_conn, sql);
	bool ok = false;

	*snapshot_name = NULL;
	*consistent_lsn = 0;
	if (w && !res) {
		/* err is waiting's, or says the connection failed: the caller names the slot */
	} else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char what[160];

		snprintf(what, sizeof(what), "could not create replication slot \"%s\"", slot);
		pg_fail_result(err, res, what);
		if (strcmp(err->sqlstate, "42710") == 0)
			pgs_error_hint(err, "a slot of that name exists: drop it with pgshift cleanup, "
						   "or set cdc.slot to another name");
		else if (strcmp(err->sqlstate, "42501") == 0)
			pgs_error_hint(err, "grant REPLICATION to the source user");
	} else if (PQntuples(res) != 1 || PQnfields(res) < 3 || PQgetisnull(res, 0, 2) ||
			   !cdc_lsn_parse(PQgetvalue(res, 0, 1), consistent_lsn)) {
		pgs_fail(err, "could not create replication slot \"%s\": unexpected answer "
				 "(%d rows, %d columns)", slot, PQntuples(res), PQnfields(res));
	} else {
		*snapshot_name = xstrdup(PQgetvalue(res, 0, 2));
		ok = true;
	}
	PQclear(res);
	free(sql);
	free(q);
	return ok;
}

bool
cdc_create_slot(PGconn *repl_conn, const char *slot, char **snapshot_name,
				uint64_t *consistent_lsn, struct pgs_error *err)
{
	return create_slot(repl_conn, slot, false, NULL, snapshot_name, consistent_lsn, err);
}

bool
cdc_create_slot_watched(PGconn *repl_conn, const char *slot, const struct slot_watch *w,
						char **snapshot_name, uint64_t *consistent_lsn, struct pgs_error *err)
{
	return create_slot(repl_conn, slot, false, w, snapshot_name, consistent_lsn, err);
}

bool
cdc_create_temp_slot(PGconn *repl_conn, const char *slot, char **snapshot_name,
					 uint64_t *consistent_lsn, struct pgs_error *err)
{
	return create_slot(repl_conn, slot, true, NULL, snapshot_name, consistent_lsn, err);
}

/*
 * One attempt: terminate the slot's walsender if it has one, then drop the
 * slot if it exists. "active for PID" (55006) means the walsender has not
 * exited yet: *retry is set and the caller tries again.
 */
static bool
drop_slot_once(PGconn *conn, const char *slot, bool *retry, bool *dropped, struct pgs_error *err)
{
	static const char terminate_sql[] =
		"SELECT pg_catalog.pg_terminate_backend(active_pid) FROM pg_catalog.pg_replication_slots"
		" WHERE slot_name = $1 AND active_pid IS NOT NULL";
	static const char drop_sql[] =
		"SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots"
		" WHERE slot_name = $1";
	const char *params[] = {slot};
	PGresult *res;

	*retry = false;
	if (!pg_exec(conn, terminate_sql, 1, params, err))
		return false;
	res = pg_query(conn, drop_sql, 1, params, err);
	if (res) {
		if (dropped)
			*dropped = PQntuples(res) > 0;
		PQclear(res);
		return true;
	}
	*retry = strcmp(err->sqlstate, "55006") == 0;
	return false;
}

bool
cdc_drop_slot(PGconn *conn, const char *slot, bool *dropped, struct pgs_error *err)
{
	bool retry = false;

	if (dropped)
		*dropped = false;
	for (int attempt = 0; attempt < 100; attempt++) {
		pgs_error_clear(err);
		if (drop_slot_once(conn, slot, &retry, dropped, err))
			return true;
		if (!retry)
			break;
		clock_sleep_ms(100);
	}
	pgs_error_prefix(err, "could not drop replication slot \"%s\"", slot);
	if (retry)
		pgs_error_hint(err, "the walsender of the slot did not exit after pg_terminate_backend");
	return false;
}
