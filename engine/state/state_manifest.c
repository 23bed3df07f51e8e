/*
 * The manifest of what apply created on the target, from a catalog diff:
 * before the run's first schema.pre, the identities (catalog, oid) of every
 * object of the target database go into pgshift.target_baseline; at each
 * point where apply has created objects, every object not in the baseline
 * goes into pgshift.manifest. No step has to name what it creates, so what
 * pg_restore makes of a dump (types, domains, functions, operators, casts,
 * collations, publications ...) is covered in existing schemas like public
 * as well as in new ones.
 *
 * Only whole objects are recorded: an object owned by another one (an
 * index, a constraint, a table's row type, an owned sequence, a partition,
 * an extension's member) goes with its owner, as with a plain DROP. Oids
 * below FirstNormalObjectId are the system's; schema pgshift (the state)
 * and temporary schemas are never apply's migrated objects, nor is what
 * another plan migrating into the same database recorded as its own.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "state/state_int.h"
#include "util/xalloc.h"

#define OBJECTS_OF(cat) \
	"SELECT 'pg_catalog." cat "'::pg_catalog.regclass::pg_catalog.oid AS classid, oid AS objid" \
	" FROM pg_catalog." cat " WHERE oid >= 16384"

/*
 * pg_identify_object knows a large object by pg_largeobject, not by the
 * catalog holding its row; pg_restore gives it the source's OID, which may
 * be any OID.
 */
#define LARGE_OBJECTS \
	"SELECT 'pg_catalog.pg_largeobject'::pg_catalog.regclass::pg_catalog.oid, oid" \
	" FROM pg_catalog.pg_largeobject_metadata"

/* pg_user_mapping itself is for superusers (it holds the options): its view is not. */
#define USER_MAPPINGS \
	"SELECT 'pg_catalog.pg_user_mapping'::pg_catalog.regclass::pg_catalog.oid, umid" \
	" FROM pg_catalog.pg_user_mappings WHERE umid >= 16384"

/* Every catalog whose rows DROP can remove as a whole object. */
#define TARGET_OBJECTS_SQL \
	"(" OBJECTS_OF("pg_namespace") " UNION ALL " OBJECTS_OF("pg_class") \
	" UNION ALL " OBJECTS_OF("pg_type") " UNION ALL " OBJECTS_OF("pg_proc") \
	" UNION ALL " OBJECTS_OF("pg_operator") " UNION ALL " OBJECTS_OF("pg_opfamily") \
	" UNION ALL " OBJECTS_OF("pg_opclass") " UNION ALL " OBJECTS_OF("pg_collation") \
	" UNION ALL " OBJECTS_OF("pg_cast") " UNION ALL " OBJECTS_OF("pg_conversion") \
	" UNION ALL " OBJECTS_OF("pg_ts_config") " UNION ALL " OBJECTS_OF("pg_ts_dict") \
	" UNION ALL " OBJECTS_OF("pg_ts_parser") " UNION ALL " OBJECTS_OF("pg_ts_template") \
	" UNION ALL " OBJECTS_OF("pg_extension") " UNION ALL " OBJECTS_OF("pg_publication") \
	" UNION ALL " OBJECTS_OF("pg_event_trigger") " UNION ALL " OBJECTS_OF("pg_language") \
	" UNION ALL " OBJECTS_OF("pg_foreign_data_wrapper") " UNION ALL " OBJECTS_OF("pg_foreign_server") \
	" UNION ALL " OBJECTS_OF("pg_am") " UNION ALL " OBJECTS_OF("pg_statistic_ext") \
	" UNION ALL " OBJECTS_OF("pg_transform") " UNION ALL " USER_MAPPINGS \
	" UNION ALL " OBJECTS_OF("pg_default_acl") \
	" UNION ALL " LARGE_OBJECTS ") o"

/* Taken once per run (baseline_at), in one statement: a resume keeps the first one. */
static const char baseline_sql[] =
	"WITH r AS (UPDATE pgshift.runs SET baseline_at = now() WHERE plan = $1 AND baseline_at IS NULL"
	"  RETURNING plan)"
	" INSERT INTO pgshift.target_baseline (plan, classid, objid)"
	" SELECT r.plan, o.classid, o.objid FROM r CROSS JOIN " TARGET_OBJECTS_SQL
	" ON CONFLICT DO NOTHING";

#define STATE_OR_TEMP(x) "(" x " = 'pgshift' OR " x " ~ '^pg_(toast_)?temp_')"

/*
 * An object owned by another (automatic, internal or extension dependency)
 * goes with its owner, so only the owner is recorded - unless the owner was
 * there before the run: a default privileges entry apply set in the
 * target's existing schema public is the plan's to put back.
 */
const char state_manifest_record_sql[] =
	"INSERT INTO pgshift.manifest (plan, classid, objid, kind, schema_name, identity)"
	" SELECT r.plan, o.classid, o.objid, i.type, i.schema, i.identity"
	" FROM pgshift.runs r CROSS JOIN " TARGET_OBJECTS_SQL
	" CROSS JOIN LATERAL pg_catalog.pg_identify_object(o.classid, o.objid, 0) i"
	" WHERE r.plan = $1 AND r.baseline_at IS NOT NULL AND i.identity IS NOT NULL"
	" AND NOT EXISTS (SELECT 1 FROM pgshift.target_baseline b WHERE b.plan = r.plan"
	"  AND b.classid = o.classid AND b.objid = o.objid)"
	" AND NOT EXISTS (SELECT 1 FROM pgshift.manifest x WHERE x.plan <> r.plan"
	"  AND x.classid = o.classid AND x.objid = o.objid)"
	" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = o.classid"
	"  AND d.objid = o.objid AND d.deptype IN ('a', 'i', 'e')"
	"  AND (d.refclassid, d.refobjid) <> (d.classid, d.objid) AND d.refobjid >= 16384"
	"  AND NOT EXISTS (SELECT 1 FROM pgshift.target_baseline rb WHERE rb.plan = r.plan"
	"   AND rb.classid = d.refclassid AND rb.objid = d.refobjid))"
	" AND NOT (i.schema IS NOT NULL AND " STATE_OR_TEMP("i.schema") ")"
	" AND NOT (i.type = 'schema' AND " STATE_OR_TEMP("i.identity") ")"
	" ON CONFLICT DO NOTHING";

bool
state_manifest_baseline(struct state *st, struct pgs_error *err)
{
	const char *params[1] = {st->plan};

	if (state_exec(st, baseline_sql, 1, params, err))
		return true;
	pgs_error_prefix(err, "could not list the objects the target holds before schema.pre");
	return false;
}

static bool
record_failed(struct pgs_error *err)
{
	pgs_error_prefix(err, "could not record the objects apply created on the target "
					 "(pgshift.manifest)");
	return false;
}

bool
state_manifest_record(struct state *st, struct pgs_error *err)
{
	const char *params[1] = {st->plan};

	return state_exec(st, state_manifest_record_sql, 1, params, err) || record_failed(err);
}

bool
state_manifest_record_on(PGconn *conn, const char *plan, struct pgs_error *err)
{
	const char *params[1] = {plan};

	return pg_exec(conn, state_manifest_record_sql, 1, params, err) || record_failed(err);
}

/*
 * The manifest's objects that still exist, and what each owns: itself, and
 * recursively every object with an automatic, internal or extension
 * dependency on it (what a DROP of it removes without CASCADE).
 */
#define OWNED_CTE \
	"WITH RECURSIVE m AS (" \
	"  SELECT m.classid, m.objid, i.type, i.identity FROM pgshift.manifest m" \
	"  CROSS JOIN LATERAL pg_catalog.pg_identify_object(m.classid, m.objid, 0) i" \
	"  WHERE m.plan = $1 AND i.identity IS NOT NULL AND i.type = m.kind)," \
	" own (classid, objid, tclass, tobj) AS (" \
	"  SELECT classid, objid, classid, objid FROM m" \
	"  UNION SELECT d.classid, d.objid, o.tclass, o.tobj FROM pg_catalog.pg_depend d" \
	"  JOIN own o ON d.refclassid = o.classid AND d.refobjid = o.objid" \
	"  WHERE d.deptype IN ('a', 'i', 'e') AND (d.classid, d.objid) <> (d.refclassid, d.refobjid))"

static const char objects_sql[] =
	OWNED_CTE " SELECT classid, objid, type, identity FROM m ORDER BY classid, objid";

/* A normal dependency between what two of the objects own: the first is dropped first. */
static const char edges_sql[] =
	OWNED_CTE " SELECT DISTINCT a.tclass, a.tobj, b.tclass, b.tobj FROM pg_catalog.pg_depend d"
	" JOIN own a ON a.classid = d.classid AND a.objid = d.objid"
	" JOIN own b ON b.classid = d.refclassid AND b.objid = d.refobjid"
	" WHERE d.deptype = 'n' AND (a.tclass, a.tobj) <> (b.tclass, b.tobj)";

/*
 * Objects apply did not create that a DROP without CASCADE would refuse
 * over: named by the object they are part of (a view, not its rewrite rule).
 */
static const char foreign_sql[] =
	OWNED_CTE " SELECT DISTINCT pg_catalog.pg_describe_object(coalesce(p.refclassid, d.classid),"
	"  coalesce(p.refobjid, d.objid), 0),"
	"  pg_catalog.pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)"
	" FROM pg_catalog.pg_depend d JOIN own b ON b.classid = d.refclassid AND b.objid = d.refobjid"
	" LEFT JOIN LATERAL (SELECT q.refclassid, q.refobjid FROM pg_catalog.pg_depend q"
	"  WHERE q.classid = d.classid AND q.objid = d.objid AND q.deptype IN ('i', 'a')"
	"  AND (q.refclassid, q.refobjid) <> (q.classid, q.objid) LIMIT 1) p ON true"
	" WHERE d.deptype = 'n'"
	" AND NOT EXISTS (SELECT 1 FROM own a WHERE a.classid = d.classid AND a.objid = d.objid)"
	" ORDER BY 1, 2";

static uint32_t
get_oid(const PGresult *res, int row, int col)
{
	return (uint32_t) strtoul(PQgetvalue(res, row, col), NULL, 10);
}

static int
cmp_object(const void *a, const void *b)
{
	const struct manifest_object *x = a, *y = b;

	if (x->classid != y->classid)
		return x->classid < y->classid ? -1 : 1;
	return x->objid < y->objid ? -1 : x->objid > y->objid;
}

/* m->objects is sorted by (classid, objid), as objects_sql returns them. */
static size_t
find_object(const struct manifest *m, uint32_t classid, uint32_t objid)
{
	struct manifest_object key = {.classid = classid, .objid = objid};
	const struct manifest_object *o = bsearch(&key, m->objects, m->nobjects, sizeof(key),
											  cmp_object);

	return o ? (size_t) (o - m->objects) : m->nobjects;
}

static bool
read_objects(struct state *st, struct manifest *m, struct pgs_error *err)
{
	const char *params[1] = {st->plan};
	PGresult *res = state_query(st, objects_sql, 1, params, err);

	if (!res)
		return false;
	m->nobjects = (size_t) PQntuples(res);
	m->objects = xcalloc(m->nobjects ? m->nobjects : 1, sizeof(*m->objects));
	for (size_t i = 0; i < m->nobjects; i++) {
		m->objects[i].classid = get_oid(res, (int) i, 0);
		m->objects[i].objid = get_oid(res, (int) i, 1);
		m->objects[i].kind = state_getstr(res, (int) i, 2);
		m->objects[i].identity = state_getstr(res, (int) i, 3);
	}
	PQclear(res);
	return true;
}

static bool
read_edges(struct state *st, struct manifest *m, struct pgs_error *err)
{
	const char *params[1] = {st->plan};
	PGresult *res = state_query(st, edges_sql, 1, params, err);
	size_t n;

	if (!res)
		return false;
	n = (size_t) PQntuples(res);
	m->edges = xcalloc(n ? n : 1, sizeof(*m->edges));
	for (size_t i = 0; i < n; i++) {
		size_t from = find_object(m, get_oid(res, (int) i, 0), get_oid(res, (int) i, 1));
		size_t to = find_object(m, get_oid(res, (int) i, 2), get_oid(res, (int) i, 3));

		if (from < m->nobjects && to < m->nobjects) {
			m->edges[m->nedges].from = from;
			m->edges[m->nedges++].to = to;
		}
	}
	PQclear(res);
	return true;
}

static bool
read_foreign(struct state *st, struct manifest *m, struct pgs_error *err)
{
	const char *params[1] = {st->plan};
	PGresult *res = state_query(st, foreign_sql, 1, params, err);

	if (!res)
		return false;
	m->nforeign = (size_t) PQntuples(res);
	m->foreign = xcalloc(m->nforeign ? m->nforeign : 1, sizeof(*m->foreign));
	for (size_t i = 0; i < m->nforeign; i++) {
		m->foreign[i].dependent = state_getstr(res, (int) i, 0);
		m->foreign[i].on = state_getstr(res, (int) i, 1);
	}
	PQclear(res);
	return true;
}

bool
state_manifest_read(struct state *st, struct manifest *m, struct pgs_error *err)
{
	bool table = false, ok;

	memset(m, 0, sizeof(*m));
	pthread_mutex_lock(&st->conn_lock);
	ok = state_runs_table_exists(st->conn, &table, err);
	pthread_mutex_unlock(&st->conn_lock);
	if (ok && table) {
		pgs_error_clear(err);
		ok = state_ensure_schema(st, err) && read_objects(st, m, err) &&
			read_edges(st, m, err) && read_foreign(st, m, err);
	}
	if (!ok)
		pgs_error_prefix(err, "could not read what plan \"%s\" created on the target "
						 "(pgshift.manifest)", st->plan);
	return ok;
}

void
manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->nobjects; i++) {
		free(m->objects[i].kind);
		free(m->objects[i].identity);
	}
	for (size_t i = 0; i < m->nforeign; i++) {
		free(m->foreign[i].dependent);
		free(m->foreign[i].on);
	}
	free(m->objects);
	free(m->edges);
	free(m->foreign);
	memset(m, 0, sizeof(*m));
}
