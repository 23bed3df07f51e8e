/*
 * Objects outside any schema (README "Object classes"): schema.pre and
 * schema.post move every one of the source's access methods, casts,
 * transforms, languages, foreign-data wrappers, servers, user mappings,
 * event triggers and publications, whatever the schema filters, but the
 * classes filters.exclude_object_classes names. Preflight names what the
 * target role could not create, what the plan leaves out and whether a
 * migrated object needs it, and what pgshift leaves behind on purpose: user
 * mappings' passwords and its own publications.
 */
#include <stdlib.h>
#include <string.h>

#include "plan/object_class.h"
#include "preflight/preflight_int.h"
#include "util/xalloc.h"

static const char target_super_sql[] =
	"SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user";

/*
 * Objects that depend on a user object of the excluded classes ($1: their
 * catalogs): what it is, its schema (NULL outside any), its catalog, and
 * what it needs.
 */
static const char excluded_deps_sql[] =
	"SELECT what, schema, catalog, needs FROM (SELECT"
	" pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS what, i.schema,"
	" d.classid::pg_catalog.regclass::text AS catalog,"
	" pg_catalog.pg_describe_object(d.refclassid, d.refobjid, 0) AS needs"
	" FROM pg_catalog.pg_depend d"
	" CROSS JOIN LATERAL pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid) i"
	" WHERE d.refclassid::pg_catalog.regclass::text = ANY ($1::text[])"
	" AND d.refobjid >= 16384 AND d.deptype IN ('n', 'a')"
	" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = d.refclassid"
	"  AND e.objid = d.refobjid AND e.deptype = 'e')"
	" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = d.classid"
	"  AND e.objid = d.objid AND e.deptype = 'e')) x"
	" ORDER BY what COLLATE \"C\", needs COLLATE \"C\"";

static bool
is_publication(const struct cat_global *g)
{
	return object_class_of_kind(g->kind) == OBJ_PUBLICATIONS;
}

/* Moved by the schema steps and said in global_objects: not excluded, not a publication. */
static bool
listed(const struct cat_global *g)
{
	return !g->excluded && !is_publication(g);
}

/* "; left out by filters.exclude_object_classes: casts, servers" */
static void
append_excluded(struct buf *b, const struct plan *plan)
{
	size_t n = plan->filters.exclude_object_classes.n;

	if (n == 0)
		return;
	buf_puts(b, "; left out by filters.exclude_object_classes: ");
	for (size_t i = 0; i < n; i++)
		pf_list_append(b, i, n, plan->filters.exclude_object_classes.items[i]);
}

static bool
target_is_superuser(struct pf_ctx *c, bool *super)
{
	PGresult *res = pf_query(c->dst, target_super_sql, 0, NULL);

	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		pf_query_failed(c, "global_objects", c->dst, NULL);
		return false;
	}
	*super = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return true;
}

static void
check_superuser_objects(struct pf_ctx *c)
{
	const struct catalog *cat = c->cat;
	size_t n = 0, k = 0, moved = 0;
	struct buf b;
	bool super;

	for (size_t i = 0; i < cat->nglobals; i++) {
		n += !cat->globals[i].excluded && cat->globals[i].superuser_only;
		moved += listed(&cat->globals[i]);
	}
	if (!c->dst) {
		pf_no_target(c, "global_objects");
		return;
	}
	if (!target_is_superuser(c, &super))
		return;
	buf_init(&b);
	if (n == 0 || super) {
		buf_printf(&b, "%zu to move with the schema steps%s", moved, moved ? ": " : "");
		for (size_t i = 0; i < cat->nglobals; i++)
			if (listed(&cat->globals[i]))
				pf_list_append(&b, k++, moved, cat->globals[i].name);
		append_excluded(&b, c->plan);
		pf_add_owned(c, "global_objects", CHECK_PASS, buf_steal(&b), NULL);
		return;
	}
	buf_puts(&b, "only a superuser can create ");
	for (size_t i = 0; i < cat->nglobals; i++)
		if (!cat->globals[i].excluded && cat->globals[i].superuser_only)
			pf_list_append(&b, k++, n, cat->globals[i].name);
	pf_add_owned(c, "global_objects", CHECK_FAIL, buf_steal(&b),
				 "connect to the target as a superuser for the migration, or leave their "
				 "classes out with filters.exclude_object_classes if the migrated schemas do "
				 "not need them (schema.pre would fail on them)");
}

static void
check_mapping_passwords(struct pf_ctx *c)
{
	const struct catalog *cat = c->cat;
	size_t n = 0, k = 0;
	struct buf b;

	for (size_t i = 0; i < cat->nglobals; i++)
		n += !cat->globals[i].excluded && cat->globals[i].has_password;
	if (n == 0) {
		pf_add(c, "user_mapping_secrets", CHECK_PASS, "no user mapping holds a secret", NULL);
		return;
	}
	buf_init(&b);
	buf_puts(&b, "not moved, their passwords stay on the source: ");
	for (size_t i = 0; i < cat->nglobals; i++)
		if (!cat->globals[i].excluded && cat->globals[i].has_password)
			pf_list_append(&b, k++, n, cat->globals[i].name);
	pf_add_owned(c, "user_mapping_secrets", CHECK_WARN, buf_steal(&b),
				 "create them on the target with CREATE USER MAPPING ... OPTIONS (password ...) "
				 "before the cutover; verify --level schema reports them until then");
}

/* Informational: the publications schema.post moves (their members: of the migrated tables). */
static void
check_publications(struct pf_ctx *c)
{
	const struct catalog *cat = c->cat;
	bool excluded = plan_excludes_class(c->plan, OBJ_PUBLICATIONS);
	size_t n = 0, k = 0;
	struct buf b;

	for (size_t i = 0; i < cat->nglobals; i++)
		n += strcmp(cat->globals[i].kind, "publication") == 0;
	if (n == 0) {
		pf_add(c, "source_publications", CHECK_PASS, "none besides pgshift's own", NULL);
		return;
	}
	buf_init(&b);
	buf_printf(&b, "%zu %s: ", n, excluded ? "not moved (filters.exclude_object_classes)"
			   : "moved by schema.post, with their migrated tables");
	for (size_t i = 0; i < cat->nglobals; i++)
		if (strcmp(cat->globals[i].kind, "publication") == 0)
			pf_list_append(&b, k++, n, cat->globals[i].name);
	buf_puts(&b, "; pgshift's own stay on the source");
	pf_add_owned(c, "source_publications", CHECK_PASS, buf_steal(&b), NULL);
}

/* '{pg_am,pg_cast}': the catalogs of the excluded classes. */
static char *
excluded_catalogs(const struct plan *plan)
{
	struct buf b;

	buf_init(&b);
	buf_putc(&b, '{');
	for (size_t i = 0; i < plan->filters.exclude_object_classes.n; i++) {
		enum object_class cls = object_class_lookup(plan->filters.exclude_object_classes.items[i]);

		buf_printf(&b, "%s%s", i ? "," : "", object_class_catalog(cls));
	}
	buf_putc(&b, '}');
	return buf_steal(&b);
}

static bool
has_schema(const struct catalog *cat, const char *schema)
{
	for (size_t i = 0; i < cat->nschemas; i++)
		if (strcmp(cat->schemas[i], schema) == 0)
			return true;
	return false;
}

/*
 * A dependent object that the migration moves: one in a migrated schema, or
 * one outside any schema of a class that is not excluded.
 */
static bool
dependent_migrated(const struct pf_ctx *c, const PGresult *res, int row)
{
	enum object_class cls;

	if (!PQgetisnull(res, row, 1))
		return has_schema(c->cat, PQgetvalue(res, row, 1));
	cls = object_class_of_catalog(PQgetvalue(res, row, 2));
	return cls != OBJ_NONE && !plan_excludes_class(c->plan, cls);
}

static void
check_excluded_dependencies(struct pf_ctx *c)
{
	char *catalogs;
	const char *params[1];
	PGresult *res;
	size_t n = 0, k = 0;
	struct buf b;

	if (c->plan->filters.exclude_object_classes.n == 0)
		return;
	catalogs = excluded_catalogs(c->plan);
	params[0] = catalogs;
	res = pf_query(c->src, excluded_deps_sql, 1, params);
	free(catalogs);
	if (!res) {
		pf_query_failed(c, "excluded_object_classes", c->src, NULL);
		return;
	}
	for (int r = 0; r < PQntuples(res); r++)
		n += dependent_migrated(c, res, r);
	buf_init(&b);
	if (n == 0) {
		buf_puts(&b, "no migrated object needs one of ");
		for (size_t i = 0; i < c->plan->filters.exclude_object_classes.n; i++)
			pf_list_append(&b, i, c->plan->filters.exclude_object_classes.n,
						   c->plan->filters.exclude_object_classes.items[i]);
		pf_add_owned(c, "excluded_object_classes", CHECK_PASS, buf_steal(&b), NULL);
		PQclear(res);
		return;
	}
	buf_puts(&b, "migrated objects need what the plan leaves out: ");
	for (int r = 0; r < PQntuples(res); r++) {
		char *item;

		if (!dependent_migrated(c, res, r))
			continue;
		item = xasprintf("%s needs %s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 3));
		pf_list_append(&b, k++, n, item);
		free(item);
	}
	PQclear(res);
	pf_add_owned(c, "excluded_object_classes", CHECK_FAIL, buf_steal(&b),
				 "take the class out of filters.exclude_object_classes, or leave the objects "
				 "that need it out of the migration (filters.exclude_schemas, "
				 "exclude_tables); schema.pre would fail on them");
}

void
pf_checks_globals(struct pf_ctx *c)
{
	check_superuser_objects(c);
	check_mapping_passwords(c);
	check_publications(c);
	check_excluded_dependencies(c);
}
