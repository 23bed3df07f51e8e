/*
 * Objects outside any schema (README "Object classes"): schema.pre and
 * schema.post move every one of the source's access methods, casts,
 * transforms, languages, foreign-data wrappers, servers, user mappings and
 * event triggers, whatever the schema filters. Preflight names what the
 * target role could not create, and what pgshift leaves behind on purpose:
 * user mappings' passwords and the source's own publications.
 */
#include <string.h>

#include "preflight/preflight_int.h"

static const char target_super_sql[] =
	"SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user";

static const char publications_sql[] =
	"SELECT pubname FROM pg_catalog.pg_publication WHERE pubname <> $1 ORDER BY 1";

static void
check_superuser_objects(struct pf_ctx *c)
{
	const struct catalog *cat = c->cat;
	size_t n = 0, k = 0;
	PGresult *res;
	struct buf b;
	bool super;

	for (size_t i = 0; i < cat->nglobals; i++)
		n += cat->globals[i].superuser_only;
	if (!c->dst) {
		pf_no_target(c, "global_objects");
		return;
	}
	res = pf_query(c->dst, target_super_sql, 0, NULL);
	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		pf_query_failed(c, "global_objects", c->dst, NULL);
		return;
	}
	super = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	buf_init(&b);
	if (n == 0 || super) {
		buf_printf(&b, "%zu to move with the schema steps%s", cat->nglobals,
				   cat->nglobals ? ": " : "");
		for (size_t i = 0; i < cat->nglobals; i++)
			pf_list_append(&b, i, cat->nglobals, cat->globals[i].name);
		pf_add_owned(c, "global_objects", CHECK_PASS, buf_steal(&b), NULL);
		return;
	}
	buf_puts(&b, "only a superuser can create ");
	for (size_t i = 0; i < cat->nglobals; i++)
		if (cat->globals[i].superuser_only)
			pf_list_append(&b, k++, n, cat->globals[i].name);
	pf_add_owned(c, "global_objects", CHECK_FAIL, buf_steal(&b),
				 "connect to the target as a superuser for the migration, or drop these on the "
				 "source if the migrated schemas do not need them (schema.pre would fail on them)");
}

static void
check_mapping_passwords(struct pf_ctx *c)
{
	const struct catalog *cat = c->cat;
	size_t n = 0, k = 0;
	struct buf b;

	for (size_t i = 0; i < cat->nglobals; i++)
		n += cat->globals[i].has_password;
	if (n == 0) {
		pf_add(c, "user_mapping_secrets", CHECK_PASS, "no user mapping holds a secret", NULL);
		return;
	}
	buf_init(&b);
	buf_puts(&b, "not moved, their passwords stay on the source: ");
	for (size_t i = 0; i < cat->nglobals; i++)
		if (cat->globals[i].has_password)
			pf_list_append(&b, k++, n, cat->globals[i].name);
	pf_add_owned(c, "user_mapping_secrets", CHECK_WARN, buf_steal(&b),
				 "create them on the target with CREATE USER MAPPING ... OPTIONS (password ...) "
				 "before the cutover; verify --level schema reports them until then");
}

static void
check_publications(struct pf_ctx *c)
{
	const char *params[1] = {c->plan->cdc.publication ? c->plan->cdc.publication : ""};
	PGresult *res = pf_query(c->src, publications_sql, 1, params);
	int n = res ? PQntuples(res) : 0;
	struct buf b;

	if (!res) {
		pf_query_failed(c, "source_publications", c->src, NULL);
		return;
	}
	if (n == 0) {
		PQclear(res);
		pf_add(c, "source_publications", CHECK_PASS, "none besides pgshift's own", NULL);
		return;
	}
	buf_init(&b);
	buf_puts(&b, "not moved: ");
	for (int r = 0; r < n; r++)
		pf_list_append(&b, (size_t) r, (size_t) n, PQgetvalue(res, r, 0));
	PQclear(res);
	pf_add_owned(c, "source_publications", CHECK_WARN, buf_steal(&b),
				 "pgshift moves no publication (its own lives on the source): create them on "
				 "the target after the cutover, when their subscribers move to it");
}

void
pf_checks_globals(struct pf_ctx *c)
{
	check_superuser_objects(c);
	check_mapping_passwords(c);
	check_publications(c);
}
