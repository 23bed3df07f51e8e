/*
 * ${VAR} and ${VAR:-default} expansion without a shell: exact results, and
 * exact messages for what cannot be expanded.
 */
#include <stdio.h>
#include <stdlib.h>

#include "plan/expand.h"
#include "tap.h"

#define UNSET_MSG(v) "environment variable \"" v "\" is not set; export it or write ${" v ":-default}"

static const struct {
	const char *in;
	const char *out;            /* NULL: refused with err */
	const char *err;
} cases[] = {
	{"", "", NULL},
	{"plain text", "plain text", NULL},
	{"${PGSHIFT_T_A}", "alpha", NULL},
	{"x${PGSHIFT_T_A}y${PGSHIFT_T_A}z", "xalphayalphaz", NULL},
	{"${PGSHIFT_T_UNSET:-fallback}", "fallback", NULL},
	{"${PGSHIFT_T_A:-fallback}", "alpha", NULL},
	{"${PGSHIFT_T_EMPTY:-fallback}", "fallback", NULL},
	{"[${PGSHIFT_T_EMPTY}]", "[]", NULL},
	{"${PGSHIFT_T_UNSET:-}", "", NULL},
	{"${PGSHIFT_T_UNSET:-a:-b}", "a:-b", NULL},
	{"${PGSHIFT_T_UNSET:-$HOME}", "$HOME", NULL},
	{"$$", "$", NULL},
	{"$${PGSHIFT_T_A}", "${PGSHIFT_T_A}", NULL},
	{"cost: 5$", "cost: 5$", NULL},
	{"$PGSHIFT_T_A", "$PGSHIFT_T_A", NULL},
	{"${PGSHIFT_T_SPECIAL}", "p@ss word}'\"${X}", NULL},
	{"${PGSHIFT_T_UNSET}", NULL, UNSET_MSG("PGSHIFT_T_UNSET")},
	{"ok ${PGSHIFT_T_A} then ${PGSHIFT_T_UNSET}", NULL, UNSET_MSG("PGSHIFT_T_UNSET")},
	{"${PGSHIFT_T_A", NULL, "unterminated \"${\": close the reference with \"}\""},
	{"abc${", NULL, "unterminated \"${\": close the reference with \"}\""},
	{"${}", NULL, "invalid variable reference \"${}\": names are letters, digits and _, "
	 "not starting with a digit"},
	{"${1ABC}", NULL, "invalid variable reference \"${1ABC}\": names are letters, digits and _, "
	 "not starting with a digit"},
	{"${A B}", NULL, "invalid variable reference \"${A ...}\": names are letters, digits and _; "
	 "a default is written ${NAME:-default}"},
	{"${PW-hunter2}", NULL, "invalid variable reference \"${PW-...}\": names are letters, digits "
	 "and _; a default is written ${NAME:-default}"},
	{"${:-x}", NULL, "invalid variable reference \"${:...}\": names are letters, digits and _; "
	 "a default is written ${NAME:-default}"},
};

int
main(void)
{
	setenv("PGSHIFT_T_A", "alpha", 1);
	setenv("PGSHIFT_T_EMPTY", "", 1);
	setenv("PGSHIFT_T_SPECIAL", "p@ss word}'\"${X}", 1);
	unsetenv("PGSHIFT_T_UNSET");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = (char *) "untouched", *err = (char *) "untouched";
		bool expanded = expand_env(cases[i].in, &out, &err);
		char label[256];

		snprintf(label, sizeof(label), "expand \"%s\"", cases[i].in);
		is_int(expanded, cases[i].out != NULL, label);
		is_str(out, cases[i].out, "result");
		is_str(err, cases[i].err, "message");
		free(out);
		free(err);
	}
	return done_testing();
}
