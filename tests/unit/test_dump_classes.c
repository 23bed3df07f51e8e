/*
 * filters.exclude_object_classes on pg_dump's archive list, without a
 * server: the class of each entry as pg_restore --list (15) writes it for
 * the catalog zoo (tests/integration/zoo.sql) — the object, its comment and
 * its grant; which publication a comment is on; and dump_keep_entry, which
 * drops the excluded classes and pgshift's own publications (a member's
 * line read after a migrated schema's name, which may hold spaces).
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "pg/catalog.h"
#include "pg/dump_classes.h"
#include "plan/plan.h"
#include "steps/steps_int.h"

static const struct {
	const char *line;
	enum object_class cls;
	const char *publication;    /* the publication a comment is on; NULL: none */
	bool own;                   /* pgshift's publication, its member or comment */
} cases[] = {
	{"7; 2615 41458 SCHEMA - zoo postgres", OBJ_NONE, NULL, false},
	{"952; 2612 41630 PROCEDURAL LANGUAGE - zoo_plpgsql postgres", OBJ_LANGUAGES, NULL, false},
	{"3545; 0 0 COMMENT - LANGUAGE zoo_plpgsql postgres", OBJ_LANGUAGES, NULL, false},
	{"3318; 3576 41628 TRANSFORM - TRANSFORM FOR integer LANGUAGE sql ", OBJ_TRANSFORMS, NULL, false},
	{"3546; 0 0 COMMENT - TRANSFORM FOR integer LANGUAGE sql ", OBJ_TRANSFORMS, NULL, false},
	{"2; 3079 41635 EXTENSION - postgres_fdw ", OBJ_NONE, NULL, false},
	{"3547; 0 0 COMMENT - EXTENSION postgres_fdw ", OBJ_NONE, NULL, false},
	{"3161; 2605 41605 CAST - CAST (integer AS zoo.pair) ", OBJ_CASTS, NULL, false},
	{"3548; 0 0 COMMENT - CAST (integer AS zoo.pair) ", OBJ_CASTS, NULL, false},
	{"1760; 2601 41575 ACCESS METHOD - heap2 ", OBJ_ACCESS_METHODS, NULL, false},
	{"3549; 0 0 COMMENT - ACCESS METHOD heap2 ", OBJ_ACCESS_METHODS, NULL, false},
	{"2150; 2328 41632 FOREIGN DATA WRAPPER - useless postgres", OBJ_FOREIGN_DATA_WRAPPERS, NULL, false},
	{"3551; 0 0 ACL - FOREIGN DATA WRAPPER useless postgres", OBJ_FOREIGN_DATA_WRAPPERS, NULL, false},
	{"2152; 1417 41642 SERVER - loopback postgres", OBJ_SERVERS, NULL, false},
	{"3552; 0 0 COMMENT - SERVER loopback postgres", OBJ_SERVERS, NULL, false},
	{"3553; 0 0 ACL - FOREIGN SERVER loopback postgres", OBJ_SERVERS, NULL, false},
	{"3554; 0 0 USER MAPPING - USER MAPPING postgres SERVER loopback postgres", OBJ_USER_MAPPINGS,
	 NULL, false},
	{"3320; 3466 41654 EVENT TRIGGER - zoo_evt postgres", OBJ_EVENT_TRIGGERS, NULL, false},
	{"3559; 0 0 COMMENT - EVENT TRIGGER zoo_evt postgres", OBJ_EVENT_TRIGGERS, NULL, false},
	{"3518; 6104 41675 PUBLICATION - zoo_pub postgres", OBJ_PUBLICATIONS, NULL, false},
	{"3558; 0 0 COMMENT - PUBLICATION zoo_pub postgres", OBJ_PUBLICATIONS, "zoo_pub", false},
	{"3521; 6106 41676 PUBLICATION TABLE zoo zoo_pub am_t postgres", OBJ_PUBLICATIONS, NULL, false},
	{"3523; 6237 41679 PUBLICATION TABLES IN SCHEMA zoo zoo_pub_schema zoo postgres",
	 OBJ_PUBLICATIONS, NULL, false},
	{"7559; 6104 40922 PUBLICATION - pgshift_zoo_on postgres", OBJ_PUBLICATIONS, NULL, true},
	{"7565; 6106 40923 PUBLICATION TABLE zoo pgshift_zoo_on pk1 postgres", OBJ_PUBLICATIONS, NULL,
	 true},
	{"7566; 0 0 COMMENT - PUBLICATION pgshift_zoo_on postgres", OBJ_PUBLICATIONS, "pgshift_zoo_on",
	 true},
	/* pg_restore 15's lines for a schema "Weird Schema" and a table Mixed "Case" T */
	{"3347; 6106 16394 PUBLICATION TABLE Weird Schema pgshift_ws Mixed \"Case\" T postgres",
	 OBJ_PUBLICATIONS, NULL, true},
	{"3349; 6237 16397 PUBLICATION TABLES IN SCHEMA Weird Schema my pub Weird Schema postgres",
	 OBJ_PUBLICATIONS, NULL, false},
	{"3359; 0 0 COMMENT - PUBLICATION \"my pub\" postgres", OBJ_PUBLICATIONS, "my pub", false},
	{"3360; 0 0 COMMENT - PUBLICATION \"pgshift_ws\"\"x\" postgres", OBJ_PUBLICATIONS,
	 "pgshift_ws\"x", true},
	/* a user's publication in a schema "x pgshift_ws": its second word is no publication */
	{"3361; 6106 16398 PUBLICATION TABLE x pgshift_ws p t postgres", OBJ_PUBLICATIONS, NULL, false},
	/* in a schema: a comment on a table whose name looks like a keyword is not a cast's */
	{"4000; 0 0 COMMENT zoo TABLE CAST postgres", OBJ_NONE, NULL, false},
	{"4001; 1259 41500 TABLE zoo am_t postgres", OBJ_NONE, NULL, false},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void
cases_toc(struct toc *toc)
{
	size_t len = 1;
	char *text, *p;

	for (size_t i = 0; i < NCASES; i++)
		len += strlen(cases[i].line) + 1;
	p = text = malloc(len);
	for (size_t i = 0; i < NCASES; i++) {
		size_t l = strlen(cases[i].line);

		memcpy(p, cases[i].line, l);
		p[l] = '\n';
		p += l + 1;
	}
	*p = '\0';
	toc_parse(toc, text);
	free(text);
}

static void
test_classes(void)
{
	struct toc toc;
	char name[200];

	cases_toc(&toc);
	is_int(toc.n, NCASES, "every line parsed");
	for (size_t i = 0; i < NCASES && i < toc.n; i++) {
		char *pub = toc_publication_name(&toc.items[i]);

		snprintf(name, sizeof(name), "class of \"%s\"", cases[i].line);
		is_int(toc_object_class(&toc.items[i]), cases[i].cls, name);
		snprintf(name, sizeof(name), "publication of \"%s\"", cases[i].line);
		if (cases[i].publication)
			is_str(pub, cases[i].publication, name);
		else
			ok(pub == NULL, name);
		free(pub);
	}
	toc_free(&toc);
}

static void
test_names(void)
{
	for (int c = 0; c < N_OBJECT_CLASSES; c++) {
		const char *n = object_class_name((enum object_class) c);

		ok(object_class_lookup(n) == (enum object_class) c, n);
		ok(object_class_of_catalog(object_class_catalog((enum object_class) c)) ==
		   (enum object_class) c, object_class_catalog((enum object_class) c));
	}
	ok(object_class_lookup("cast") == OBJ_NONE, "a near miss is no class");
	ok(object_class_of_kind("publication member") == OBJ_PUBLICATIONS,
	   "a publication's member is of the publications class");
	ok(object_class_of_catalog("pg_class") == OBJ_NONE, "pg_class holds no global class");
	ok(publication_is_pgshifts("pgshift_other_plan", "mine"), "another plan's publication is pgshift's");
	ok(publication_is_pgshifts("mine", "mine"), "the plan's own cdc.publication is pgshift's");
	ok(!publication_is_pgshifts("zoo_pub", "mine"), "a user publication is not");
	ok(!publication_is_pgshifts("zoo_pub", NULL), "nor without a plan publication");
}

/* Which entries a plan excluding casts and servers keeps (plan cdc.publication: "mine"). */
static void
test_keep(void)
{
	static char *excluded[] = {"casts", "servers"};
	struct plan plan;
	struct catalog cat;
	char *schemas[] = {"zoo", "Weird Schema", "x pgshift_ws"};
	struct toc toc;
	size_t kept = 0;

	memset(&plan, 0, sizeof(plan));
	memset(&cat, 0, sizeof(cat));
	plan.filters.exclude_object_classes.items = excluded;
	plan.filters.exclude_object_classes.n = 2;
	plan.cdc.publication = "mine";
	cat.extensions = &(struct cat_extension) {"postgres_fdw", "1.1", "public"};
	cat.nextensions = 1;
	cat.schemas = schemas;
	cat.nschemas = 3;
	cases_toc(&toc);
	for (size_t i = 0; i < toc.n; i++) {
		bool keep = dump_keep_entry(&plan, &cat, &toc.items[i]);
		bool want = cases[i].cls != OBJ_CASTS && cases[i].cls != OBJ_SERVERS && !cases[i].own;

		kept += keep;
		if (keep != want)
			ok(0, cases[i].line);
	}
	is_int(kept, NCASES - 2 - 3 - 5, "casts, servers (and a grant and comment on each) and "
		   "pgshift's publication entries are dropped, the rest kept");
	ok(plan_excludes_class(&plan, OBJ_CASTS) && !plan_excludes_class(&plan, OBJ_LANGUAGES),
	   "plan_excludes_class reads the list");
	ok(!plan_excludes_class(NULL, OBJ_CASTS), "no plan excludes nothing");
	toc_free(&toc);
}

int
main(void)
{
	test_classes();
	test_names();
	test_keep();
	return done_testing();
}
