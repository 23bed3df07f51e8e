/*
 * apply --replan (schema.pre again, for tables new in the source since the
 * run began): a new table may use objects that are new too, a type, a
 * domain, a function in a default, a sequence, a collation, a schema, an
 * extension. The source's pg_depend says what each new table needs
 * (recursively, through what it owns: columns' defaults, constraints); of
 * those, the ones the target lacks are restored with the table, from the
 * same dump. An object counts as present when the target resolves the
 * source's address of it (pg_identify_object_as_address, then
 * pg_get_object_address), so nothing the first schema.pre restored, or
 * that was there before, is restored twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "steps/steps_int.h"
#include "util/log.h"
#include "util/xalloc.h"

/*
 * From the table, up to what it and its parts depend on, and down to what
 * it owns (defaults, constraints, owned sequences, its row type). System
 * objects (below FirstNormalObjectId) are never restored.
 */
static const char needs_sql[] =
	"WITH RECURSIVE need (classid, objid) AS ("
	"  SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid, $1::pg_catalog.oid"
	"  UNION SELECT CASE WHEN d.classid = n.classid AND d.objid = n.objid THEN d.refclassid"
	"   ELSE d.classid END, CASE WHEN d.classid = n.classid AND d.objid = n.objid THEN d.refobjid"
	"   ELSE d.objid END"
	"  FROM pg_catalog.pg_depend d JOIN need n ON (d.classid = n.classid AND d.objid = n.objid"
	"   AND d.refobjid >= 16384) OR (d.refclassid = n.classid AND d.refobjid = n.objid"
	"   AND d.deptype IN ('a', 'i') AND d.objid >= 16384))"
	" SELECT n.classid, n.objid, a.type, a.object_names::text, a.object_args::text, i.identity"
	" FROM need n CROSS JOIN LATERAL pg_catalog.pg_identify_object_as_address(n.classid, n.objid, 0) a"
	" CROSS JOIN LATERAL pg_catalog.pg_identify_object(n.classid, n.objid, 0) i"
	" WHERE NOT (n.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND n.objid = $1::pg_catalog.oid)";

static bool
is_missing_error(const char *sqlstate)
{
	return strcmp(sqlstate, "42704") == 0 || strcmp(sqlstate, "42883") == 0 ||
		strcmp(sqlstate, "3F000") == 0 || strcmp(sqlstate, "42P01") == 0;
}

/* Whether the target has the object the source addresses as (type, names, args). */
static bool
target_has(PGconn *tgt, const PGresult *res, int r, bool *has, struct pgs_error *err)
{
	const char *params[3] = {PQgetvalue(res, r, 2), PQgetvalue(res, r, 3), PQgetvalue(res, r, 4)};
	struct pgs_error probe;
	PGresult *found;

	pgs_error_clear(&probe);
	if (!pg_exec(tgt, "SAVEPOINT replan_probe", 0, NULL, err))
		return false;
	found = pg_query(tgt, "SELECT pg_catalog.pg_get_object_address($1, $2::text[], $3::text[])",
					 3, params, &probe);
	*has = found != NULL;
	PQclear(found);
	if (!found && !is_missing_error(probe.sqlstate)) {
		*err = probe;
		return false;
	}
	return pg_exec(tgt, "ROLLBACK TO SAVEPOINT replan_probe", 0, NULL, err);
}

/* The dump's entry of an object; toc->n when it has none (a part of another one, a toast table). */
static size_t
toc_entry_of(const struct toc *toc, const PGresult *res, int r)
{
	uint32_t classid = (uint32_t) strtoul(PQgetvalue(res, r, 0), NULL, 10);
	uint32_t objid = (uint32_t) strtoul(PQgetvalue(res, r, 1), NULL, 10);

	for (size_t i = 0; i < toc->n; i++)
		if (toc->items[i].classoid == classid && toc->items[i].oid == objid)
			return i;
	return toc->n;
}

static bool
needs_of_table(PGconn *src, PGconn *tgt, const struct cat_table *t,
			   const struct toc *toc, bool *keep, struct pgs_error *err)
{
	char oid[16];
	const char *params[1] = {oid};
	PGresult *res;
	bool ok = true, has;

	snprintf(oid, sizeof(oid), "%u", t->oid);
	res = pg_query(src, needs_sql, 1, params, err);
	if (!res)
		return false;
	for (int r = 0; ok && r < PQntuples(res); r++) {
		size_t e = toc_entry_of(toc, res, r);

		if (e == toc->n || keep[e])
			continue;
		ok = target_has(tgt, res, r, &has, err);
		if (!ok || has)
			continue;
		keep[e] = true;
		log_info("schema.pre: --replan: new table %s.%s needs %s %s, which the target lacks: "
				 "restored with it", t->schema, t->name, PQgetvalue(res, r, 2),
				 PQgetvalue(res, r, 5));
	}
	PQclear(res);
	return ok;
}

bool
schema_replan_needs(struct run *run, PGconn *src, PGconn *tgt, const bool *missing,
					const struct toc *toc, bool *keep, struct pgs_error *err)
{
	bool ok = pg_exec(tgt, "BEGIN", 0, NULL, err);

	for (size_t t = 0; ok && t < run->cat->ntables; t++)
		if (missing[t])
			ok = needs_of_table(src, tgt, &run->cat->tables[t], toc, keep, err);
	if (ok)
		return pg_exec(tgt, "COMMIT", 0, NULL, err);
	pgs_error_prefix(err, "--replan: could not tell which objects the new tables need");
	PQclear(PQexec(tgt, "ROLLBACK"));
	return false;
}
