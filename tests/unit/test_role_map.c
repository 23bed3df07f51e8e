/*
 * The role map of schema.owners and schema.roles (pg/privs.h): which target
 * role owns an object, which grants it keeps and under what grantee, for
 * each mode, as a table of cases. A grant is GRANTEE \x1e PRIVILEGE (G below).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/privs.h"
#include "tap.h"

#define G(role, priv) role "\x1e" priv

static char *target_names[] = {"app_v2", "tgt", "writer"};     /* sorted */
static const struct strlist on_target = {target_names, 3};
static struct role_pair pairs[] = {{"app", "app_v2"}, {"other", "ghost"}};

static const struct {
	const char *name;
	enum owners_mode owners;
	enum roles_mode roles;
	const char *owner;          /* the source owner */
	const char *want_owner;
	const char *grants[4];      /* source grants, NULL-terminated */
	const char *want_grants;    /* privs_expected_grants */
} cases[] = {
	{"keep keeps owner and grantees", OWNERS_KEEP, ROLES_REQUIRE, "app", "app",
	 {G("app", "SELECT"), G("writer", "SELECT WITH GRANT OPTION"), G("PUBLIC", "USAGE")},
	 "PUBLIC USAGE, app SELECT, writer SELECT WITH GRANT OPTION"},
	{"target_role gives the object and the owner's grants to the login", OWNERS_TARGET_ROLE,
	 ROLES_REQUIRE, "app", "tgt", {G("app", "SELECT"), G("writer", "INSERT")}, "tgt SELECT, writer INSERT"},
	{"map renames owner and grantees", OWNERS_MAP, ROLES_REQUIRE, "app", "app_v2",
	 {G("app", "SELECT"), G("other", "UPDATE"), G("writer", "INSERT")},
	 "app_v2 SELECT, ghost UPDATE, writer INSERT"},
	{"map leaves an unnamed owner as it is", OWNERS_MAP, ROLES_REQUIRE, "writer", "writer",
	 {G("writer", "SELECT")}, "writer SELECT"},
	{"ignore: a missing owner gives way to the login", OWNERS_MAP, ROLES_IGNORE, "other", "tgt",
	 {G("other", "SELECT"), G("writer", "INSERT")}, "tgt SELECT, writer INSERT"},
	{"ignore: a grant to a missing role is dropped", OWNERS_MAP, ROLES_IGNORE, "app", "app_v2",
	 {G("app", "SELECT"), G("other", "UPDATE"), G("nobody", "DELETE"), G("PUBLIC", "USAGE")},
	 "PUBLIC USAGE, app_v2 SELECT"},
	{"create_missing keeps missing names (apply creates them)", OWNERS_MAP, ROLES_CREATE_MISSING,
	 "other", "ghost", {G("nobody", "DELETE")}, "nobody DELETE"},
};

int
main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct plan plan;
		struct role_map m = {&plan, "tgt", &on_target};
		struct priv_object o;
		char *got;
		char name[256];

		memset(&plan, 0, sizeof(plan));
		plan.schema.owners = cases[i].owners;
		plan.schema.roles = cases[i].roles;
		if (cases[i].owners == OWNERS_MAP) {
			plan.schema.map = pairs;
			plan.schema.nmap = 2;
		}
		memset(&o, 0, sizeof(o));
		o.owner = (char *) cases[i].owner;
		o.grants = (char **) cases[i].grants;
		while (o.ngrants < 4 && cases[i].grants[o.ngrants])
			o.ngrants++;
		snprintf(name, sizeof(name), "%s: owner", cases[i].name);
		is_str(role_map_owner(&m, cases[i].owner), cases[i].want_owner, name);
		got = privs_expected_grants(&m, &o);
		snprintf(name, sizeof(name), "%s: grants", cases[i].name);
		is_str(got, cases[i].want_grants, name);
		free(got);
	}
	return done_testing();
}
