/*
 * The replica identity rule (cdc/identity.h) as PostgreSQL resolves an
 * identity: a deferrable or invalid index is none, so a DEFERRABLE primary
 * key needs a change; a suitable unique index is preferred over FULL.
 */
#include <stdio.h>

#include "cdc/identity.h"
#include "tap.h"

static const struct {
	const char *what;
	char relkind;
	bool exclude_data;
	char replident;
	bool has_pk, pk_usable, replident_usable;
	const char *candidate;
	enum identity_fix fix;
	const char *problem;
} cases[] = {
	{"primary key", 'r', false, 'd', true, true, false, NULL, IDENTITY_KEEP, NULL},
	{"already FULL", 'r', false, 'f', false, false, false, NULL, IDENTITY_KEEP, NULL},
	{"valid USING INDEX", 'r', false, 'i', false, false, true, "t_code_key", IDENTITY_KEEP, NULL},
	{"no key, no index", 'r', false, 'd', false, false, false, NULL, IDENTITY_FULL, "no primary key"},
	{"no key, a suitable unique index", 'r', false, 'd', false, false, false, "t_code_key",
	 IDENTITY_INDEX, "no primary key"},
	{"deferrable primary key", 'r', false, 'd', true, false, false, NULL, IDENTITY_FULL,
	 "its primary key is DEFERRABLE, which cannot be a replica identity"},
	{"deferrable primary key and a unique index", 'r', false, 'd', true, false, false, "t_alt_key",
	 IDENTITY_INDEX, "its primary key is DEFERRABLE, which cannot be a replica identity"},
	{"NOTHING with a usable primary key", 'r', false, 'n', true, true, false, NULL,
	 IDENTITY_DEFAULT, "REPLICA IDENTITY NOTHING"},
	{"NOTHING without a key", 'r', false, 'n', false, false, false, NULL, IDENTITY_FULL,
	 "REPLICA IDENTITY NOTHING"},
	{"USING INDEX an invalid index, with a key", 'r', false, 'i', true, true, false, NULL,
	 IDENTITY_DEFAULT, "its replica identity index is not valid"},
	{"USING INDEX an invalid index, another candidate", 'r', false, 'i', false, false, false,
	 "t_other_key", IDENTITY_INDEX, "its replica identity index is not valid"},
	{"partitioned parent: never published", 'p', false, 'd', false, false, false, NULL,
	 IDENTITY_KEEP, NULL},
	{"exclude_table_data: never published", 'r', true, 'd', false, false, false, NULL,
	 IDENTITY_KEEP, NULL},
};

int
main(void)
{
	char label[160];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cat_table t = {
			.schema = "public", .name = "t", .relkind = cases[i].relkind,
			.exclude_data = cases[i].exclude_data, .replident = cases[i].replident,
			.has_pk = cases[i].has_pk, .pk_usable = cases[i].pk_usable,
			.replident_usable = cases[i].replident_usable,
			.identity_candidate = (char *) cases[i].candidate,
		};

		snprintf(label, sizeof(label), "%s: needs %s", cases[i].what,
				 cases[i].fix == IDENTITY_KEEP ? "nothing" : identity_name((char) cases[i].fix));
		is_int(identity_needed(&t), cases[i].fix, label);
		if (cases[i].problem) {
			snprintf(label, sizeof(label), "%s: the reason", cases[i].what);
			is_str(identity_problem(&t), cases[i].problem, label);
		}
	}
	is_str(identity_name('d'), "DEFAULT", "relreplident d is DEFAULT");
	is_str(identity_name('n'), "NOTHING", "relreplident n is NOTHING");
	is_str(identity_name('i'), "USING INDEX", "relreplident i is USING INDEX");
	return done_testing();
}
