/*
 * Preflight against real servers. tests/integration/preflight.t prepares the
 * clusters for one scenario (PGSHIFT_SCENARIO) and runs this binary; each
 * scenario asserts the exact status and observed value of the checks it
 * changes. The catalog is built by hand: catalog_load is not this test's
 * subject, and a hand-made one can hold what a small cluster cannot (13
 * tables without a key, an extension no server has).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "pg/catalog.h"
#include "pg/conn.h"
#include "plan/plan.h"
#include "preflight/preflight.h"
#include "preflight/preflight_int.h"
#include "util/buf.h"
#include "util/xalloc.h"

struct expect {
	const char *name;
	enum check_status status;
	const char *observed;       /* NULL: not asserted */
};

static const char *
env_or_null(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* ---- plan and catalog by hand ---- */

static struct plan *
load_plan(bool cdc, const char *replica_identity, bool require_empty)
{
	char path[] = "/tmp/pgshift-preflight-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	struct diag_list dl;
	struct plan *p;

	if (!f) {
		perror("mkstemp");
		exit(1);
	}
	fprintf(f, "version: 1\nname: x\nsource:\n  uri: ${SOURCE_URI}\ntarget:\n  uri: ${TARGET_URI}\n"
			"copy:\n  require_empty_target: %s\ncdc:\n  enabled: %s\n  replica_identity: %s\n",
			require_empty ? "true" : "false", cdc ? "true" : "false", replica_identity);
	fclose(f);
	diag_init(&dl, path);
	p = plan_load(path, &dl);
	if (!p)
		diag_print(&dl, stderr);
	diag_free(&dl);
	unlink(path);
	if (!p)
		exit(1);
	return p;
}

static void
add_table(struct catalog *cat, const char *name, char relkind, bool pk, char replident,
		  bool exclude_data)
{
	struct cat_table *t;

	cat->tables = xrealloc(cat->tables, (cat->ntables + 1) * sizeof(*t));
	t = &cat->tables[cat->ntables++];
	memset(t, 0, sizeof(*t));
	t->schema = xstrdup("public");
	t->name = xstrdup(name);
	t->relkind = relkind;
	t->has_pk = pk;
	t->pk_usable = pk;
	t->replident = replident;
	t->exclude_data = exclude_data;
	t->est_rows = -1;
}

static void
add_extension(struct catalog *cat, const char *name)
{
	cat->extensions = xrealloc(cat->extensions, (cat->nextensions + 1) * sizeof(struct cat_extension));
	cat->extensions[cat->nextensions].name = xstrdup(name);
	cat->extensions[cat->nextensions].version = xstrdup("1.0");
	cat->extensions[cat->nextensions].schema = xstrdup("public");
	cat->nextensions++;
}

static void
add_unmatched(struct catalog *cat, const char *key, const char *pattern, bool include)
{
	cat->unmatched = xrealloc(cat->unmatched, (cat->nunmatched + 1) * sizeof(struct cat_unmatched));
	cat->unmatched[cat->nunmatched].key = key;
	cat->unmatched[cat->nunmatched].pattern = xstrdup(pattern);
	cat->unmatched[cat->nunmatched].is_include = include;
	cat->nunmatched++;
}

/* catalog_free lives in the catalog module, not linked here: free what we built. */
static void
free_catalog(struct catalog *cat)
{
	for (size_t i = 0; i < cat->ntables; i++) {
		free(cat->tables[i].schema);
		free(cat->tables[i].name);
	}
	for (size_t i = 0; i < cat->nextensions; i++) {
		free(cat->extensions[i].name);
		free(cat->extensions[i].version);
		free(cat->extensions[i].schema);
	}
	for (size_t i = 0; i < cat->nunmatched; i++)
		free(cat->unmatched[i].pattern);
	free(cat->tables);
	free(cat->extensions);
	free(cat->unmatched);
	free(cat);
}

/* One table with a key, present (empty) on both clusters; plpgsql only. */
static struct catalog *
clean_catalog(void)
{
	struct catalog *cat = xcalloc(1, sizeof(*cat));

	add_table(cat, "t1", 'r', true, 'd', false);
	add_extension(cat, "plpgsql");
	cat->total_bytes = 8192;
	return cat;
}

/*
 * 13 tables CDC cannot replicate (ri_nothing has a key but identity NOTHING),
 * plus ones that must not be named: a partitioned parent and an
 * exclude_table_data table, both without a key.
 */
static struct catalog *
dirty_catalog(void)
{
	struct catalog *cat = clean_catalog();

	add_table(cat, "ri_nothing", 'r', true, 'n', false);
	for (int i = 1; i <= 12; i++) {
		char name[16];

		snprintf(name, sizeof(name), "nopk%02d", i);
		add_table(cat, name, 'r', false, 'd', false);
	}
	add_table(cat, "parent", 'p', false, 'd', false);
	add_table(cat, "sessions", 'r', false, 'd', true);
	add_table(cat, "odd \"name", 'r', true, 'd', false);
	add_extension(cat, "no_such_ext");
	add_extension(cat, "also_missing");
	add_unmatched(cat, "filters.include_tables", "public.nope*", true);
	add_unmatched(cat, "filters.exclude_tables", "scratch.*", false);
	return cat;
}

/* ---- running ---- */

static PGconn *
connect_or_die(const char *uri, const char *role)
{
	struct pg_session s = {.role = role, .app_name = "pgshift-test", .read_only = true};
	struct pgs_error err;
	PGconn *conn = pg_connect(uri, &s, &err);

	if (!conn) {
		printf("Bail out! %s\n", err.message);
		exit(1);
	}
	return conn;
}

/* Runs preflight; a NULL target_uri runs it as if the target were unreachable. */
static void
run(const char *src_uri, const char *dst_uri, const struct plan *plan, const struct catalog *cat,
	bool resuming, struct preflight_report *r, const char *label)
{
	PGconn *src = connect_or_die(src_uri, "source");
	PGconn *dst = dst_uri ? connect_or_die(dst_uri, "target") : NULL;
	struct pgs_error err = {0};
	bool ran = preflight_run(plan, src, dst, dst ? NULL : "connection refused", cat, resuming, r, &err);
	char name[128];

	snprintf(name, sizeof(name), "%s: preflight ran", label);
	ok(ran, name);
	if (!ran)
		printf("# %s\n", err.message);
	PQfinish(src);
	PQfinish(dst);
}

static void
expect_checks(const struct preflight_report *r, const struct expect *e, size_t n, const char *label)
{
	for (size_t i = 0; i < n; i++) {
		const struct check_result *cr = preflight_find(r, e[i].name);
		char name[160];

		snprintf(name, sizeof(name), "%s: %s is %s", label, e[i].name, check_status_name(e[i].status));
		if (!is_str(cr ? check_status_name(cr->status) : "(missing)", check_status_name(e[i].status), name)
			&& cr)
			printf("#   observed: %s\n#   hint: %s\n", cr->observed, cr->hint ? cr->hint : "");
		if (!e[i].observed || !cr)
			continue;
		snprintf(name, sizeof(name), "%s: %s observed", label, e[i].name);
		is_str(cr->observed, e[i].observed, name);
	}
}

static void
expect_one(const struct preflight_report *r, const char *check, enum check_status st,
		   const char *observed, const char *label)
{
	struct expect e = {check, st, observed};

	expect_checks(r, &e, 1, label);
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t ls = s ? strlen(s) : 0, lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static void
print_report(const struct preflight_report *r)
{
	struct buf b;

	buf_init(&b);
	preflight_report_text(r, &b);
	for (char *line = strtok(b.data, "\n"); line; line = strtok(NULL, "\n"))
		printf("# %s\n", line);
	buf_free(&b);
}

/* ---- scenarios ---- */

static void
pure_helpers(void)
{
	struct buf b;
	char m[16];

	is_int(pf_parse_tool_major("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n"), 1500,
		   "tool major of 15.20");
	is_int(pf_parse_tool_major("pg_restore (PostgreSQL) 9.6.24\n"), 906, "tool major of 9.6.24");
	is_int(pf_parse_tool_major("pg_dump 15.2\n"), -1, "tool major unreadable");
	is_int(pf_major_of(150004) >= pf_major_of(90624), 1, "15 is newer than 9.6");
	pf_major_name(90624, m, sizeof(m));
	is_str(m, "9.6", "major name of 9.6");
	pf_major_name(160001, m, sizeof(m));
	is_str(m, "16", "major name of 16");
	buf_init(&b);
	for (size_t i = 0; i < 12; i++)
		pf_list_append(&b, i, 12, "t");
	is_str(b.data, "t, t, t, t, t, t, t, t, t, t and 2 more", "lists stop at 10 items");
	buf_free(&b);
}

/* Expected "PostgreSQL 15.x as postgres" from the server itself. */
static char *
session_of(const char *uri, const char *role)
{
	PGconn *conn = connect_or_die(uri, role);
	char *s = xasprintf("PostgreSQL %s as %s", PQparameterStatus(conn, "server_version"),
						PQuser(conn));

	PQfinish(conn);
	return s;
}

static void
scenario_clean(void)
{
	const char *su = getenv("SOURCE_URI"), *tu = getenv("TARGET_URI");
	struct plan *plan = load_plan(true, "fail", true);
	struct catalog *cat = clean_catalog();
	struct preflight_report r;
	char *src_session = session_of(su, "source"), *dst_session = session_of(tu, "target");
	const struct expect e[] = {
		{"source_connect", CHECK_PASS, src_session},
		{"target_connect", CHECK_PASS, dst_session},
		{"server_versions", CHECK_PASS, "source 15, target 15"},
		{"wal_level", CHECK_PASS, "logical"},
		{"wal_sender_timeout", CHECK_PASS, "60s"},
		{"prepared_transactions", CHECK_PASS, "none"},
		{"replication_privilege", CHECK_PASS, "superuser"},
		{"leftover_objects", CHECK_PASS, "none"},
		{"replication_slots", CHECK_PASS, "16 of 16 free"},
		{"wal_senders", CHECK_PASS, "16 of 16 free"},
		{"replica_identity", CHECK_PASS, "none"},
		{"unlogged_tables", CHECK_PASS, "none"},
		{"fence_roles", CHECK_PASS, "pgshift's own role is not fenced"},
		{"target_writable", CHECK_PASS, "the target database takes writes"},
		{"extensions", CHECK_PASS, "all 1 available on the target"},
		{"target_tables_empty", CHECK_PASS, "none"},
		{"filters", CHECK_PASS, "every pattern matched"},
		{"pg_dump", CHECK_PASS, NULL},
		{"pg_restore", CHECK_PASS, NULL},
		{"compare_params", CHECK_PASS, "none differ"},
		{"source_select", CHECK_PASS, NULL},
		{"source_sequences", CHECK_PASS, NULL},
		{"publication_create", CHECK_PASS, NULL},
		{"publication_owner", CHECK_PASS, NULL},
		{"target_create", CHECK_PASS, NULL},
		{"target_schemas", CHECK_PASS, NULL},
		{"session_replication_role", CHECK_PASS, "\"postgres\" may set session_replication_role"},
		{"target_tables_writable", CHECK_PASS, NULL},
		{"target_roles", CHECK_PASS, NULL},
		{"owner_roles", CHECK_PASS, "the owners and grantees the schema keeps exist on the target"},
		{"owner_membership", CHECK_PASS, "the target login is a member of every owner role the target has"},
		{"source_row_security", CHECK_PASS, NULL},
		{"target_row_security", CHECK_PASS, NULL},
		{"target_extensions_create", CHECK_PASS, NULL},
		{"global_objects", CHECK_PASS, "0 to move with the schema steps"},
		{"user_mapping_secrets", CHECK_PASS, "no user mapping holds a secret"},
		{"source_publications", CHECK_PASS, "none besides pgshift's own"},
	};
	const struct check_result *disk;
	struct buf json;

	pure_helpers();
	run(su, tu, plan, cat, false, &r, "clean");
	print_report(&r);
	expect_checks(&r, e, sizeof(e) / sizeof(e[0]), "clean");
	is_int(r.nchecks, 38, "clean: 38 checks (no fence_writes, no large objects: none of their checks)");
	is_int(r.nparams, 0, "clean: no parameter differs");
	ok(ends_with(preflight_find(&r, "pg_dump")->observed, "pg_dump 15"), "clean: pg_dump 15 found");
	/* free space is read only where the target's data directory is ours to stat */
	disk = preflight_find(&r, "target_disk");
	if (geteuid() == 0) {
		expect_one(&r, "target_disk", CHECK_PASS, NULL, "clean");
		ok(disk && ends_with(disk->observed, " free, need 12.0 kB (1.5 x 8.0 kB)"),
		   "clean: target_disk compares with 1.5 x the tables");
	} else {
		expect_one(&r, "target_disk", CHECK_WARN, "could not read free space on the target", "clean");
		ok(1, "clean: target_disk not readable without root");
	}
	is_int(r.nfail, 0, "clean: nothing fails");
	is_int(r.nwarn, geteuid() == 0 ? 0 : 1, "clean: no warning");
	buf_init(&json);
	preflight_report_json(&r, &json);
	ok(strstr(json.data, "{\"name\":\"wal_level\",\"status\":\"PASS\",\"observed\":\"logical\",\"hint\":null}")
	   != NULL, "clean: JSON report names each check");
	buf_free(&json);
	preflight_report_free(&r);

	/* a petabyte of tables cannot fit */
	if (geteuid() == 0) {
		cat->total_bytes = INT64_C(1) << 50;
		run(su, tu, plan, cat, false, &r, "clean, huge source");
		expect_one(&r, "target_disk", CHECK_FAIL, NULL, "clean, huge source");
		ok(strstr(preflight_find(&r, "target_disk")->observed, "need 1.5 PB (1.5 x 1.0 PB)") != NULL,
		   "clean, huge source: need is named");
		preflight_report_free(&r);
	}

	/* the target unreachable: every check that needs it FAILs, the rest still run */
	run(su, NULL, plan, cat, false, &r, "no target");
	expect_one(&r, "target_connect", CHECK_FAIL, "connection refused", "no target");
	expect_one(&r, "server_versions", CHECK_FAIL, "not checked: no target connection", "no target");
	expect_one(&r, "wal_level", CHECK_PASS, "logical", "no target");
	expect_one(&r, "global_objects", CHECK_FAIL, "not checked: no target connection", "no target");
	is_int(r.nfail, 10, "no target: 10 checks fail");
	preflight_report_free(&r);

	free(src_session);
	free(dst_session);
	free_catalog(cat);
	plan_free(plan);
}

static char *
expected_ri_list(void)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "public.ri_nothing (REPLICA IDENTITY NOTHING): "
			 "ALTER TABLE \"public\".\"ri_nothing\" REPLICA IDENTITY DEFAULT;");
	for (int i = 1; i <= 9; i++)
		buf_printf(&b, ", public.nopk%02d (no primary key): "
				   "ALTER TABLE \"public\".\"nopk%02d\" REPLICA IDENTITY FULL;", i, i);
	buf_puts(&b, " and 3 more");
	return buf_steal(&b);
}

static const char dirty_leftovers[] =
	"slot \"pgshift_x\" on the source; publication \"pgshift_x\" on the source; "
	"state schema \"pgshift\" on the target";

/*
 * preflight.t left: slot and publication pgshift_x, a prepared transaction,
 * wal_sender_timeout 5s on the source; a schema pgshift, rows in t1 and in
 * "odd ""name", TimeZone, max_wal_size and search_path changed on the target.
 */
static void
scenario_dirty(void)
{
	const char *su = getenv("SOURCE_URI"), *tu = getenv("TARGET_URI");
	struct plan *plan = load_plan(true, "fail", true);
	struct catalog *cat = dirty_catalog();
	struct preflight_report r;
	char *ri = expected_ri_list();
	const struct expect e[] = {
		{"wal_sender_timeout", CHECK_WARN, "5s"},
		{"prepared_transactions", CHECK_WARN, "1 prepared transaction"},
		{"leftover_objects", CHECK_FAIL, dirty_leftovers},
		{"replication_slots", CHECK_PASS, "15 of 16 free"},
		{"replica_identity", CHECK_FAIL, ri},
		{"extensions", CHECK_FAIL, "not available on the target: no_such_ext, also_missing"},
		{"target_tables_empty", CHECK_FAIL, "2 with rows: public.t1, public.odd \"name"},
		{"filters", CHECK_FAIL, "filters.include_tables \"public.nope*\" matched nothing; "
		 "filters.exclude_tables \"scratch.*\" matched nothing"},
		{"compare_params", CHECK_WARN, "differ: TimeZone, search_path"},
	};
	const struct param_diff *tz;

	run(su, tu, plan, cat, false, &r, "dirty");
	print_report(&r);
	expect_checks(&r, e, sizeof(e) / sizeof(e[0]), "dirty");
	ok(strstr(preflight_find(&r, "replica_identity")->hint, "cdc.replica_identity: full") != NULL,
	   "dirty: replica_identity hint names the plan key");
	is_int(r.nparams, 3, "dirty: three parameters differ");
	tz = r.nparams > 0 ? &r.params[0] : NULL;
	is_str(tz ? tz->name : NULL, "TimeZone", "dirty: TimeZone differs");
	is_str(tz ? tz->target_value : NULL, "Asia/Tokyo", "dirty: target TimeZone from reset_val");
	ok(tz && tz->changes_behaviour, "dirty: TimeZone changes behaviour");
	is_str(r.nparams > 1 ? r.params[1].name : NULL, "search_path", "dirty: search_path differs");
	is_str(r.nparams > 2 ? r.params[2].name : NULL, "max_wal_size", "dirty: max_wal_size differs");
	is_str(r.nparams > 2 ? r.params[2].target_value : NULL, "2048", "dirty: max_wal_size value");
	ok(r.nparams > 2 && !r.params[2].changes_behaviour, "dirty: max_wal_size is informational");
	preflight_report_free(&r);

	/* resuming an earlier attempt: its slot and state are expected */
	run(su, tu, plan, cat, true, &r, "dirty, resuming");
	expect_one(&r, "leftover_objects", CHECK_PASS,
			   "slot \"pgshift_x\" on the source; publication \"pgshift_x\" on the source; "
			   "state schema \"pgshift\" on the target (resuming)", "dirty, resuming");
	preflight_report_free(&r);
	plan_free(plan);

	/* replica_identity: full and require_empty_target: false turn FAILs into WARNs */
	plan = load_plan(true, "full", false);
	run(su, tu, plan, cat, false, &r, "dirty, lenient plan");
	expect_one(&r, "replica_identity", CHECK_WARN, ri, "dirty, lenient plan");
	ok(strstr(preflight_find(&r, "replica_identity")->hint, "pgshift will set these replica identities") != NULL,
	   "dirty, lenient plan: says what it will do");
	expect_one(&r, "target_tables_empty", CHECK_WARN, "2 with rows: public.t1, public.odd \"name",
			   "dirty, lenient plan");
	preflight_report_free(&r);
	plan_free(plan);

	free(ri);
	free_catalog(cat);
}

/* Roles made by preflight.t: app (no REPLICATION), app_rds (in rds_replication), app_repl. */
static void
scenario_roles(void)
{
	const char *tu = getenv("TARGET_URI");
	struct plan *cdc = load_plan(true, "fail", true), *nocdc = load_plan(false, "fail", true);
	struct catalog *cat = clean_catalog();
	struct preflight_report r;
	static const struct {
		const char *env, *observed;
		enum check_status st;
	} roles[] = {
		{"SOURCE_URI_APP", "role app has no REPLICATION", CHECK_FAIL},
		{"SOURCE_URI_RDS", "member of rds_replication", CHECK_PASS},
		{"SOURCE_URI_REPL", "REPLICATION", CHECK_PASS},
	};

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		run(getenv(roles[i].env), tu, cdc, cat, false, &r, roles[i].env);
		expect_one(&r, "replication_privilege", roles[i].st, roles[i].observed, roles[i].env);
		preflight_report_free(&r);
	}
	run(getenv("SOURCE_URI_APP"), tu, cdc, cat, false, &r, "app");
	ok(strstr(preflight_find(&r, "replication_privilege")->hint, "ALTER ROLE \"app\" REPLICATION") != NULL,
	   "app: hint says how to grant it");
	preflight_report_free(&r);
	run(getenv("SOURCE_URI_APP"), tu, nocdc, cat, false, &r, "app, cdc disabled");
	expect_one(&r, "replication_privilege", CHECK_PASS,
			   "role app has no REPLICATION (not needed: cdc disabled)", "app, cdc disabled");
	preflight_report_free(&r);
	free_catalog(cat);
	plan_free(cdc);
	plan_free(nocdc);
}

/* pgshift.runs with the known layout: only rows for this plan are state of this plan. */
static void
run_state(const char *label, enum check_status st, const char *observed)
{
	struct plan *plan = load_plan(true, "fail", true);
	struct catalog *cat = clean_catalog();
	struct preflight_report r;

	run(getenv("SOURCE_URI"), getenv("TARGET_URI"), plan, cat, false, &r, label);
	expect_one(&r, "leftover_objects", st, observed, label);
	preflight_report_free(&r);
	free_catalog(cat);
	plan_free(plan);
}

static void
scenario_state_other(void)
{
	run_state("state of another plan", CHECK_PASS, "none");
}

static void
scenario_state_this(void)
{
	run_state("state of this plan", CHECK_FAIL, "state schema \"pgshift\" on the target");
}

/* The source restarted with wal_level = replica. */
static void
scenario_replica(void)
{
	struct plan *cdc = load_plan(true, "fail", true), *nocdc = load_plan(false, "fail", true);
	struct catalog *cat = clean_catalog();
	struct preflight_report r;

	run(getenv("SOURCE_URI"), getenv("TARGET_URI"), cdc, cat, false, &r, "replica");
	print_report(&r);
	expect_one(&r, "wal_level", CHECK_FAIL, "replica", "replica");
	is_str(preflight_find(&r, "wal_level")->hint, "set wal_level = logical and restart the source",
		   "replica: hint");
	is_int(r.nfail, 1, "replica: only wal_level fails");
	preflight_report_free(&r);
	run(getenv("SOURCE_URI"), getenv("TARGET_URI"), nocdc, cat, false, &r, "replica, cdc disabled");
	expect_one(&r, "wal_level", CHECK_PASS, "replica (not needed: cdc disabled)", "replica, cdc disabled");
	is_int(r.nfail, 0, "replica, cdc disabled: nothing fails");
	preflight_report_free(&r);
	free_catalog(cat);
	plan_free(cdc);
	plan_free(nocdc);
}

static const struct {
	const char *name;
	void (*run)(void);
} scenarios[] = {
	{"clean", scenario_clean},
	{"dirty", scenario_dirty},
	{"roles", scenario_roles},
	{"state_other", scenario_state_other},
	{"state_this", scenario_state_this},
	{"replica", scenario_replica},
};

int
main(void)
{
	const char *scenario = env_or_null("PGSHIFT_SCENARIO");

	if (!env_or_null("SOURCE_URI") || !env_or_null("TARGET_URI") || !scenario) {
		printf("1..0 # SKIP needs SOURCE_URI, TARGET_URI and PGSHIFT_SCENARIO (run by preflight.t)\n");
		return 0;
	}
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(scenarios[i].name, scenario) == 0) {
			scenarios[i].run();
			return done_testing();
		}
	printf("Bail out! unknown scenario \"%s\"\n", scenario);
	return 1;
}
