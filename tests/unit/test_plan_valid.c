/*
 * Plans that must be accepted, and what they mean once loaded: the DESIGN.md
 * §2 example field by field, the defaults a minimal plan gets, ${VAR}
 * expansion, paths resolved against the plan's directory, and the warning for
 * a password written in the plan.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plan/diag.h"
#include "plan/plan.h"
#include "plan_test_util.h"
#include "tap.h"

#define MINIMAL \
	"version: 1\n" \
	"name: app\n" \
	"source: {uri: \"postgres://db1/app\"}\n" \
	"target: {uri: \"postgres://db2/app\"}\n"

#define LITERAL_PASSWORD_WARNING(key) \
	key " holds a literal password; take it from the environment (${VAR}), " \
	"a ~/.pgpass file or PGPASSWORD instead"

/* The directory plan_load resolves paths against: the test dir, symlinks resolved. */
static char real_dir[PATH_MAX];

/* Loads yaml as plan.yaml of the test directory; diags are left for the caller. */
static struct plan *
load(const char *yaml, struct diag_list *dl)
{
	char path[512];

	write_test_file("plan.yaml", yaml);
	test_path(path, sizeof(path), "plan.yaml");
	diag_init(dl, path);
	return plan_load(path, dl);
}

static char *
in_dir(const char *rel)
{
	static char out[PATH_MAX + 64];

	snprintf(out, sizeof(out), "%s/%s", real_dir, rel);
	return out;
}

static void
is_steps(const struct plan *p, const char *want, const char *name)
{
	char got[256] = "";
	size_t len = 0;

	for (size_t i = 0; i < p->cutover.nsteps && len < sizeof(got); i++)
		len += (size_t) snprintf(got + len, sizeof(got) - len, "%s%s", i ? " " : "",
								 cutover_kind_name(p->cutover.steps[i].kind));
	is_str(got, want, name);
}

static const char design_example[] =
	"version: 1\n"
	"name: app_to_new_cluster          # [a-z0-9_]+\n"
	"source:\n"
	"  uri: ${SOURCE_URI}\n"
	"target:\n"
	"  uri: ${TARGET_URI}\n"
	"  connect_timeout: 5s\n"
	"  keepalives_idle: 1m\n"
	"filters:\n"
	"  include_schemas: [public, billing]\n"
	"  exclude_schemas: [scratch]\n"
	"  include_tables: []\n"
	"  exclude_tables: [\"public.tmp_*\"]\n"
	"  exclude_table_data: [\"public.sessions\"]\n"
	"  exclude_extensions: [pg_stat_statements]\n"
	"copy:\n"
	"  table_jobs: 4\n"
	"  index_jobs: 4\n"
	"  split_tables_larger_than: 10GB\n"
	"  split_max_parts: 8\n"
	"  format: text\n"
	"  vacuum_analyze: true\n"
	"  require_empty_target: true\n"
	"cdc:\n"
	"  enabled: true\n"
	"  slot: pgshift_app_to_new_cluster\n"
	"  publication: pgshift_app_to_new_cluster\n"
	"  replica_identity: fail\n"
	"  spool_dir: .pgshift/spool\n"
	"  max_lag: 1s\n"
	"  ddl: stop\n"
	"  reconnect_for: 2h\n"
	"cutover:\n"
	"  approval: manual\n"
	"  steps:\n"
	"    - lua: hooks/pause_writes.lua\n"
	"    - fence_writes: { roles: [app] }\n"
	"    - wait_for_catchup: { timeout: 5m }\n"
	"    - sync_sequences: { margin: 1000 }\n"
	"    - verify: { level: count }\n"
	"    - lua: hooks/switch_traffic.lua\n"
	"cleanup:\n"
	"  when: after_cutover\n"
	"  drop_slot: true\n"
	"  drop_publication: true\n"
	"  keep_state: false\n"
	"hooks:\n"
	"  allow_shell: false\n"
	"  timeout: 60s\n"
	"  lua:\n"
	"    - file: hooks/annotate.lua\n"
	"      on: [\"copy.*\", \"cutover.*\"]\n"
	"notify:\n"
	"  - kind: slack\n"
	"    url: ${SLACK_WEBHOOK_URL}\n"
	"    on: [\"run.*\", \"*.failed\", \"cutover.*\"]\n"
	"  - kind: webhook\n"
	"    url: ${DEPLOY_HOOK_URL}\n"
	"    secret: ${DEPLOY_HOOK_SECRET}\n"
	"    on: [\"*\"]\n"
	"    include_values: true\n";

static void
test_design_example(void)
{
	struct diag_list dl;
	struct plan *p;
	char hooks_dir[512];

	mkdir(test_path(hooks_dir, sizeof(hooks_dir), "hooks"), 0700);
	write_test_file("hooks/pause_writes.lua", "return function() end\n");
	write_test_file("hooks/switch_traffic.lua", "return function() end\n");
	write_test_file("hooks/annotate.lua", "return function() end\n");
	setenv("SOURCE_URI", "postgres://app@db1:5432/app", 1);
	setenv("TARGET_URI", "host=db2 dbname=app user=app", 1);
	setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/X", 1);
	setenv("DEPLOY_HOOK_URL", "http://deploy.internal/hook", 1);
	setenv("DEPLOY_HOOK_SECRET", "whsec_c2VjcmV0", 1);

	p = load(design_example, &dl);
	ok(p != NULL, "the DESIGN.md example is a valid plan");
	is_int(dl.n, 0, "the DESIGN.md example draws no diagnostic");
	if (!p) {
		diag_free(&dl);
		return;
	}
	is_int(p->version, 1, "version");
	is_str(p->name, "app_to_new_cluster", "name");
	is_str(p->dir, real_dir, "dir is the plan file's absolute directory");
	is_int(p->sha256 ? strlen(p->sha256) : 0, 64, "sha256 is 64 hex digits");
	is_str(p->source_uri, "postgres://app@db1:5432/app", "source uri from ${SOURCE_URI}");
	is_str(p->target_uri, "host=db2 dbname=app user=app", "target uri from ${TARGET_URI}");

	is_int(p->filters.include_schemas.n, 2, "two included schemas");
	is_str(p->filters.include_schemas.items[1], "billing", "include_schemas[2]");
	is_str(p->filters.exclude_schemas.items[0], "scratch", "exclude_schemas");
	is_int(p->filters.include_tables.n, 0, "include_tables: [] is empty");
	is_str(p->filters.exclude_tables.items[0], "public.tmp_*", "exclude_tables");
	is_str(p->filters.exclude_table_data.items[0], "public.sessions", "exclude_table_data");
	is_str(p->filters.exclude_extensions.items[0], "pg_stat_statements", "exclude_extensions");

	is_int(p->copy.table_jobs, 4, "table_jobs");
	is_int(p->copy.split_tables_larger_than, INT64_C(10737418240), "10GB is 10 * 1024^3 bytes");
	is_int(p->copy.split_max_parts, 8, "split_max_parts");
	is_int(p->copy.format, COPY_FORMAT_TEXT, "format text");

	ok(p->cdc.enabled, "cdc enabled");
	is_str(p->cdc.slot, "pgshift_app_to_new_cluster", "slot");
	is_str(p->cdc.publication, "pgshift_app_to_new_cluster", "publication");
	is_str(p->cdc.spool_dir, in_dir(".pgshift/spool"), "spool_dir resolved against the plan dir");
	is_int(p->cdc.max_lag_ms, 1000, "max_lag 1s");
	is_int(p->cdc.ddl, DDL_STOP, "ddl stop");
	is_int(p->cdc.reconnect_for_ms, INT64_C(2) * 3600 * 1000, "reconnect_for 2h");
	is_int(p->target_conn.connect_timeout_ms, 5000, "target connect_timeout 5s");
	is_int(p->target_conn.keepalives_idle_ms, 60000, "target keepalives_idle 1m");
	is_int(p->source_conn.connect_timeout_ms, 30000, "source connect_timeout default 30s");

	is_int(p->cutover.approval, APPROVAL_MANUAL, "approval manual");
	is_steps(p, "lua fence_writes wait_for_catchup sync_sequences verify lua", "the six cutover steps in order");
	if (p->cutover.nsteps == 6) {
		is_str(p->cutover.steps[0].lua_file, in_dir("hooks/pause_writes.lua"), "first lua hook path");
		is_int(p->cutover.steps[1].roles.n, 1, "fence_writes has one role");
		is_str(p->cutover.steps[1].roles.items[0], "app", "fence_writes role app");
		is_int(p->cutover.steps[2].timeout_ms, 5 * 60 * 1000, "wait_for_catchup timeout 5m");
		is_int(p->cutover.steps[3].margin, 1000, "sync_sequences margin");
		is_int(p->cutover.steps[4].level, VERIFY_COUNT, "verify level count");
		is_str(p->cutover.steps[5].lua_file, in_dir("hooks/switch_traffic.lua"), "last lua hook path");
		is_int(p->cutover.steps[3].line, 39, "a step remembers its line");
	}

	is_int(p->cleanup.when, CLEANUP_AFTER_CUTOVER, "cleanup when");
	ok(p->cleanup.drop_slot && p->cleanup.drop_publication && !p->cleanup.keep_state,
	   "cleanup drops slot and publication, keeps no state");

	ok(!p->hooks.allow_shell, "shell off");
	is_int(p->hooks.timeout_ms, 60000, "hooks timeout 60s");
	is_int(p->hooks.nlua, 1, "one Lua hook");
	is_str(p->hooks.lua[0].file, in_dir("hooks/annotate.lua"), "Lua hook path resolved");
	is_int(p->hooks.lua[0].on.n, 2, "Lua hook has two event globs");
	is_str(p->hooks.lua[0].on.items[1], "cutover.*", "Lua hook second glob");

	is_int(p->nnotify, 2, "two notify targets");
	is_int(p->notify[0].kind, NOTIFY_SLACK, "first target is slack");
	is_str(p->notify[0].url, "https://hooks.slack.com/services/T/B/X", "slack url expanded");
	ok(p->notify[0].secret == NULL, "slack has no secret");
	is_int(p->notify[0].on.n, 3, "slack has three event globs");
	is_int(p->notify[1].kind, NOTIFY_WEBHOOK, "second target is a webhook");
	is_str(p->notify[1].secret, "whsec_c2VjcmV0", "webhook secret expanded");
	is_str(p->notify[1].on.items[0], "*", "webhook on everything");
	ok(!p->notify[0].include_values, "row values stay out of a target by default");
	ok(p->notify[1].include_values, "and go to one that says include_values: true");

	plan_free(p);
	diag_free(&dl);
	remove_test_file("hooks/pause_writes.lua");
	remove_test_file("hooks/switch_traffic.lua");
	remove_test_file("hooks/annotate.lua");
	rmdir(hooks_dir);
}

static void
test_minimal_defaults(void)
{
	struct diag_list dl;
	struct plan *p = load(MINIMAL, &dl);

	ok(p != NULL, "a minimal plan is valid");
	is_int(dl.n, 0, "a minimal plan draws no diagnostic");
	if (!p) {
		diag_free(&dl);
		return;
	}
	ok(p->filters.include_schemas.n == 0 && p->filters.exclude_tables.n == 0, "no filters");
	is_int(p->copy.table_jobs, 4, "default table_jobs 4");
	is_int(p->copy.index_jobs, 4, "default index_jobs 4");
	is_int(p->copy.split_tables_larger_than, INT64_C(10) * 1024 * 1024 * 1024, "default split 10GB");
	is_int(p->copy.split_max_parts, 8, "default split_max_parts 8");
	is_int(p->copy.format, COPY_FORMAT_AUTO, "default format auto");
	ok(p->copy.vacuum_analyze, "default vacuum_analyze true");
	ok(p->copy.require_empty_target, "default require_empty_target true");
	ok(p->cdc.enabled, "default cdc on");
	is_str(p->cdc.slot, "pgshift_app", "default slot pgshift_<name>");
	is_str(p->cdc.publication, "pgshift_app", "default publication pgshift_<name>");
	is_int(p->cdc.replica_identity, REPLICA_IDENTITY_FAIL, "default replica_identity fail");
	is_str(p->cdc.spool_dir, in_dir(".pgshift/app/spool"), "default spool_dir <plandir>/.pgshift/<name>/spool, one per plan");
	ok(p->cdc.spool_dir && p->cdc.spool_dir[0] == '/', "spool_dir is absolute");
	is_int(p->cdc.max_lag_ms, 1000, "default max_lag 1000 ms");
	is_int(p->cdc.ddl, DDL_STOP, "default cdc.ddl stop");
	is_int(p->cdc.reconnect_for_ms, 10 * 60 * 1000, "default reconnect_for 10m");
	is_int(p->source_conn.keepalives_idle_ms, 30000, "default source keepalives_idle 30s");
	is_int(p->target_conn.connect_timeout_ms, 30000, "default target connect_timeout 30s");
	is_int(p->schema.owners, OWNERS_KEEP, "default schema.owners keep");
	is_int(p->schema.privileges, PRIVILEGES_KEEP, "default schema.privileges keep");
	is_int(p->schema.roles, ROLES_REQUIRE, "default schema.roles require");
	is_int(p->schema.nmap, 0, "no owner map");
	is_int(p->cutover.approval, APPROVAL_MANUAL, "default approval manual");
	is_steps(p, "wait_for_catchup sync_sequences verify", "default cutover steps");
	if (p->cutover.nsteps == 3) {
		is_int(p->cutover.steps[0].timeout_ms, 5 * 60 * 1000, "default catch-up timeout 5m");
		is_int(p->cutover.steps[1].margin, 0, "default sequence margin 0");
		is_int(p->cutover.steps[2].level, VERIFY_COUNT, "default verify level count");
	}
	is_int(p->cleanup.when, CLEANUP_AFTER_CUTOVER, "default cleanup after_cutover");
	ok(p->cleanup.drop_slot, "default drop_slot true");
	ok(p->cleanup.drop_publication, "default drop_publication true");
	ok(!p->cleanup.keep_state, "default keep_state false");
	ok(!p->rollback.enabled, "default rollback off");
	is_int(p->rollback.keep_for_ms, INT64_C(72) * 3600 * 1000, "default rollback.keep_for 72h");
	is_str(p->rollback.slot, "pgshift_rb_app", "reverse slot pgshift_rb_<name>");
	is_str(p->rollback.publication, "pgshift_rb_app", "reverse publication pgshift_rb_<name>");
	is_str(p->rollback.spool_dir, in_dir(".pgshift/app/spool-rollback"), "reverse spool beside the spool");
	ok(!p->hooks.allow_shell, "default allow_shell false");
	is_int(p->hooks.timeout_ms, 60000, "default hooks timeout 60000 ms");
	is_int(p->hooks.nlua, 0, "no Lua hooks");
	is_int(p->nnotify, 0, "no notify targets");
	plan_free(p);
	diag_free(&dl);
}

static void
test_ddl_replicate(void)
{
	struct diag_list dl;
	struct plan *p = load(MINIMAL "cdc: {ddl: replicate}\n", &dl);

	ok(p != NULL, "cdc.ddl replicate is valid");
	if (p)
		is_int(p->cdc.ddl, DDL_REPLICATE, "cdc.ddl replicate");
	plan_free(p);
	diag_free(&dl);
}

static void
test_rollback(void)
{
	struct diag_list dl;
	struct plan *p = load(MINIMAL "cutover: {steps: [fence_writes: {roles: [app]}, wait_for_catchup: {}]}\n"
						  "rollback: {enabled: true, keep_for: 30m}\n", &dl);

	ok(p != NULL, "a plan with rollback after a fenced catch-up is valid");
	is_int(dl.n, 0, "and draws no diagnostic");
	if (p) {
		ok(p->rollback.enabled, "rollback.enabled");
		is_int(p->rollback.keep_for_ms, 30 * 60 * 1000, "rollback.keep_for 30m");
	}
	plan_free(p);
	diag_free(&dl);
}

static void
test_cdc_disabled_steps(void)
{
	struct diag_list dl;
	struct plan *p = load(MINIMAL "cdc: {enabled: false}\n", &dl);

	ok(p != NULL, "cdc.enabled false is valid");
	if (p)
		is_steps(p, "sync_sequences verify", "without CDC the default steps skip wait_for_catchup");
	plan_free(p);
	diag_free(&dl);

	p = load(MINIMAL "cutover:\n  approval: auto\n  steps:\n", &dl);
	ok(p != NULL, "an empty steps key is valid");
	if (p) {
		is_steps(p, "wait_for_catchup sync_sequences verify", "an empty steps key gets the default steps");
		is_int(p->cutover.approval, APPROVAL_AUTO, "approval auto");
	}
	plan_free(p);
	diag_free(&dl);

	p = load(MINIMAL "cutover: {steps: []}\n", &dl);
	ok(p != NULL, "an explicit empty list of steps is valid");
	if (p)
		is_int(p->cutover.nsteps, 0, "steps: [] means no cutover steps");
	plan_free(p);
	diag_free(&dl);

	p = load(MINIMAL "cdc: {enabled: false}\ncutover:\n  steps:\n    - fence_writes: {roles: [app]}\n", &dl);
	ok(p != NULL, "fence_writes without CDC is valid");
	is_int(dl.n, 1, "fence_writes without CDC draws one diagnostic");
	if (dl.n == 1) {
		ok(dl.items[0].severity == DIAG_WARNING && dl.items[0].line == 8 && dl.items[0].col == 7,
		   "a warning at the step");
		is_str(dl.items[0].message, "cutover.steps[1]: fence_writes without CDC only makes the "
			   "source read-only after the copy", "fence_writes warning text");
	}
	plan_free(p);
	diag_free(&dl);
}

/* Every form of schema.owners, privileges and roles. */
static void
test_schema_keys(void)
{
	struct diag_list dl;
	struct plan *p = load(MINIMAL "schema: {owners: target_role, privileges: drop, roles: ignore}\n", &dl);

	ok(p != NULL, "owners target_role, privileges drop, roles ignore are valid");
	if (p) {
		is_int(p->schema.owners, OWNERS_TARGET_ROLE, "owners target_role");
		is_int(p->schema.privileges, PRIVILEGES_DROP, "privileges drop");
		is_int(p->schema.roles, ROLES_IGNORE, "roles ignore");
	}
	plan_free(p);
	diag_free(&dl);

	p = load(MINIMAL "schema:\n  roles: create_missing\n  copy_passwords: true\n", &dl);
	ok(p != NULL && p->schema.copy_passwords, "copy_passwords: true is valid");
	plan_free(p);
	diag_free(&dl);

	p = load(MINIMAL "schema:\n  roles: create_missing\n  owners:\n    map: {app: app_v2, \"Odd Role\": \"${MAP_TO:-tgt}\"}\n", &dl);
	ok(p != NULL, "owners map is valid");
	if (p) {
		is_int(p->schema.owners, OWNERS_MAP, "owners map");
		is_int(p->schema.roles, ROLES_CREATE_MISSING, "roles create_missing");
		ok(!p->schema.copy_passwords, "copy_passwords defaults to false");
		is_int(p->schema.nmap, 2, "two mapped roles");
		is_str(plan_map_role(p, "app"), "app_v2", "app maps to app_v2");
		is_str(plan_map_role(p, "Odd Role"), "tgt", "a quoted role name, mapped through ${VAR:-default}");
		is_str(plan_map_role(p, "other"), "other", "a role the map does not name keeps its name");
	}
	plan_free(p);
	diag_free(&dl);
}

static void
test_expansion(void)
{
	struct diag_list dl;
	struct plan *p;

	setenv("PGSHIFT_TEST_HOST", "db9", 1);
	setenv("PGSHIFT_TEST_EMPTY", "", 1);
	unsetenv("PGSHIFT_TEST_UNSET");
	p = load("version: 1\n"
			 "name: ${PGSHIFT_TEST_UNSET:-app}\n"
			 "source: {uri: \"postgres://${PGSHIFT_TEST_HOST}/app\"}\n"
			 "target: {uri: \"host=${PGSHIFT_TEST_EMPTY:-db2} port=$$5432\"}\n"
			 "cdc: {slot: \"s${PGSHIFT_TEST_EMPTY}_x\", max_lag: \"${PGSHIFT_TEST_UNSET:-250ms}\"}\n",
			 &dl);
	ok(p != NULL, "a plan with ${VAR} references is valid");
	is_int(dl.n, 0, "expansion draws no diagnostic");
	if (p) {
		is_str(p->name, "app", "${UNSET:-app} takes the default");
		is_str(p->source_uri, "postgres://db9/app", "${VAR} takes the environment's value");
		is_str(p->target_uri, "host=db2 port=$5432", "an empty variable takes the default; $$ is $");
		is_str(p->cdc.slot, "s_x", "${EMPTY} without default is the empty string");
		is_int(p->cdc.max_lag_ms, 250, "a duration can come from a default");
		is_str(p->cdc.publication, "pgshift_app", "defaults use the expanded name");
	}
	plan_free(p);
	diag_free(&dl);
	unsetenv("PGSHIFT_TEST_HOST");
	unsetenv("PGSHIFT_TEST_EMPTY");
}

static void
test_paths(void)
{
	struct diag_list dl;
	struct plan *p;
	char sub[512];

	mkdir(test_path(sub, sizeof(sub), "sub"), 0700);
	write_test_file("sub/hook.lua", "return function() end\n");
	p = load(MINIMAL
			 "cdc: {spool_dir: spool/here}\n"
			 "cutover: {steps: [lua: sub/hook.lua, lua: ./sub/../sub/hook.lua]}\n"
			 "hooks: {lua: [{file: sub/hook.lua}]}\n", &dl);
	ok(p != NULL, "relative hook and spool paths are valid");
	if (p) {
		is_str(p->cdc.spool_dir, in_dir("spool/here"), "spool_dir resolved against the plan dir");
		is_str(p->cutover.steps[0].lua_file, in_dir("sub/hook.lua"), "cutover lua path resolved");
		is_str(p->cutover.steps[1].lua_file, in_dir("./sub/../sub/hook.lua"),
			   "a path is joined to the plan dir, not rewritten");
		is_str(p->hooks.lua[0].file, in_dir("sub/hook.lua"), "hooks.lua file resolved");
		is_int(p->hooks.lua[0].on.n, 1, "a hook without on: gets one glob");
		is_str(p->hooks.lua[0].on.items[0], "*", "a hook without on: hears every event");
	}
	plan_free(p);
	diag_free(&dl);

	p = load(MINIMAL "cdc: {spool_dir: /var/spool/pgshift}\n", &dl);
	ok(p && strcmp(p->cdc.spool_dir, "/var/spool/pgshift") == 0, "an absolute spool_dir is kept");
	plan_free(p);
	diag_free(&dl);
	remove_test_file("sub/hook.lua");
	rmdir(sub);
}

static const struct {
	const char *uri;            /* as written in the plan (YAML double-quoted) */
	const char *warning_key;    /* NULL: no warning */
} password_cases[] = {
	{"postgres://app:s3cret@db1/app", "source.uri"},
	{"postgres://app@db1/app?sslmode=require&password=s3cret", "source.uri"},
	{"host=db1 user=app password=s3cret", "source.uri"},
	{"host=db1 password='it\\\\'s secret'", "source.uri"},
	{"postgres://app:${PGSHIFT_TEST_PW:-s3cret}@db1/app", "source.uri"},
	{"${PGSHIFT_TEST_URI:-postgres://app:s3cret@db1/app}", "source.uri"},
	{"postgres://app:${PGSHIFT_TEST_PW}@db1/app", NULL},
	{"postgres://db1/app?password=${PGSHIFT_TEST_PW}", NULL},
	{"host=db1 password=${PGSHIFT_TEST_PW}", NULL},
	{"host=db1 password='${PGSHIFT_TEST_PW}'", NULL},
	{"postgres://app:${PGSHIFT_TEST_PW:-}@db1/app", NULL},
	{"postgres://app@db1/app", NULL},
};

static void
test_password_warnings(void)
{
	setenv("PGSHIFT_TEST_PW", "from-env", 1);
	unsetenv("PGSHIFT_TEST_URI");
	for (size_t i = 0; i < sizeof(password_cases) / sizeof(password_cases[0]); i++) {
		struct diag_list dl;
		struct plan *p;
		char yaml[1024];

		snprintf(yaml, sizeof(yaml),
				 "version: 1\nname: app\nsource: {uri: \"%s\"}\ntarget: {uri: \"postgres://db2/app\"}\n",
				 password_cases[i].uri);
		p = load(yaml, &dl);
		ok(p != NULL, password_cases[i].uri);
		is_int(dl.nerrors, 0, "no error");
		if (password_cases[i].warning_key) {
			is_int(dl.n, 1, "one warning for a literal password");
			if (dl.n == 1) {
				ok(dl.items[0].severity == DIAG_WARNING && dl.items[0].line == 3 &&
				   dl.items[0].col == 15, "the warning is at the uri");
				is_str(dl.items[0].message, LITERAL_PASSWORD_WARNING("source.uri"),
					   "the warning says where the password should come from");
			}
		} else {
			is_int(dl.n, 0, "no warning when the password is not written in the plan");
		}
		plan_free(p);
		diag_free(&dl);
	}
	unsetenv("PGSHIFT_TEST_PW");
}

int
main(void)
{
	test_dir_create();
	if (!realpath(test_dir, real_dir)) {
		perror(test_dir);
		return 2;
	}
	test_design_example();
	test_minimal_defaults();
	test_rollback();
	test_cdc_disabled_steps();
	test_ddl_replicate();
	test_schema_keys();
	test_expansion();
	test_paths();
	test_password_warnings();
	remove_test_file("plan.yaml");
	test_dir_remove();
	return done_testing();
}
