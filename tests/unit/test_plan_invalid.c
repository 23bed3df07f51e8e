/*
 * Plans that must be refused (or, for a few, accepted with a warning): each
 * case states every diagnostic plan_load reports, in file order, with its
 * exact line, column and text, and how many of them are errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/diag.h"
#include "plan/plan.h"
#include "plan_test_util.h"
#include "tap.h"

#define E DIAG_ERROR
#define W DIAG_WARNING

/* A plan with every required key; cases append to it from line 5. */
#define BASE \
	"version: 1\n" \
	"name: app\n" \
	"source: {uri: \"postgres://db1/app\"}\n" \
	"target: {uri: \"postgres://db2/app\"}\n"

#define OBJECT_CLASSES "access_methods, casts, event_triggers, foreign_data_wrappers, " \
	"languages, publications, servers, transforms, user_mappings"
#define DURATION_WHY "expected a duration such as 500ms, 30s, 5m or 2h (units: ms, s, m, h)"
#define SIZE_WHY "expected a size such as 512MB or 10GB (units: B, kB, MB, GB, TB)"
#define ONE_KEY "each cutover step is a mapping with one key, e.g. \"- wait_for_catchup: { timeout: 5m }\""

struct want {
	enum diag_severity sev;
	int line, col;
	const char *msg;            /* "@DIR@" stands for the test directory */
};

struct invalid_case {
	const char *name;
	const char *yaml;
	size_t nerrors;
	struct want diags[8];       /* in file order; ends at the first NULL msg */
};

static const struct invalid_case cases[] = {
	/* the file as a whole */
	{"bad YAML syntax", "version: 1\nname: [app\n", 1, {
		{E, 3, 1, "invalid YAML: did not find expected ',' or ']' while parsing a flow sequence"}}},
	{"bad indentation", "version: 1\n  name: app\n", 1, {
		{E, 2, 7, "invalid YAML: mapping values are not allowed in this context"}}},
	{"empty file", "", 1, {
		{E, 0, 0, "the plan file is empty; see README.md for the format"}}},
	{"only comments", "# a plan to be\n# written later\n", 1, {
		{E, 0, 0, "the plan file is empty; see README.md for the format"}}},
	/* the second document starts at its "---" */
	{"two documents", BASE "---\nversion: 1\n", 1, {
		{E, 5, 1, "a plan file holds one YAML document; found a second one here"}}},
	{"broken YAML after the first document", BASE "---\n: : [x\n", 1, {
		{E, 6, 1, "invalid YAML: did not find expected key while parsing a block mapping"}}},
	{"a list instead of a plan", "- version: 1\n", 1, {
		{E, 1, 1, "plan: expected a mapping of keys, found a list"}}},

	/* keys */
	{"unknown top-level key with a suggestion", BASE "verison: 1\n", 1, {
		{E, 5, 1, "unknown key \"verison\" in the plan; did you mean \"version\"?"}}},
	{"unknown top-level key without a suggestion", BASE "frobnicate: 1\n", 1, {
		{E, 5, 1, "unknown key \"frobnicate\" in the plan"}}},
	{"unknown nested key", BASE "copy:\n  table_jobz: 8\n", 1, {
		{E, 6, 3, "unknown key \"table_jobz\" in copy; did you mean \"table_jobs\"?"}}},
	{"unknown key in a cutover step", BASE "cutover:\n  steps:\n    - wait_for_catchup: {timout: 5m}\n", 1, {
		{E, 7, 26, "unknown key \"timout\" in cutover.steps[1]; did you mean \"timeout\"?"}}},
	{"a key that is not a word", BASE "? [a]\n: 1\n", 1, {
		{E, 5, 3, "plan: keys must be plain words, found a list"}}},
	{"duplicate top-level key", BASE "name: other\n", 1, {
		{E, 5, 1, "duplicate key \"name\""}}},
	{"duplicate nested key", BASE "copy: {table_jobs: 2, table_jobs: 3}\n", 1, {
		{E, 5, 23, "duplicate key \"copy.table_jobs\""}}},
	/* found by fuzzing: the defaults were added after the first section's steps (heap overflow) */
	{"two cutover sections, the first with steps",
		BASE "cutover: {steps: [verify: {}, sync_sequences: {}, verify: {}]}\ncutover: {approval: auto}\n", 1, {
		{E, 6, 1, "duplicate key \"cutover\""}}},
	{"two cutover sections, the second with steps",
		BASE "cutover: {approval: auto}\ncutover: {steps: [verify: {}]}\n", 1, {
		{E, 6, 1, "duplicate key \"cutover\""}}},
	{"steps given twice", BASE "cutover:\n  steps: [verify: {}]\n  steps: [sync_sequences: {}]\n", 1, {
		{E, 7, 3, "duplicate key \"cutover.steps\""}}},
	{"missing version, source and target", "name: app\n", 3, {
		{E, 1, 1, "missing required key \"version\" in the plan"},
		{E, 1, 1, "missing required key \"source\" in the plan"},
		{E, 1, 1, "missing required key \"target\" in the plan"}}},
	{"missing name", "version: 1\nsource: {uri: a}\ntarget: {uri: b}\n", 1, {
		{E, 1, 1, "missing required key \"name\" in the plan"}}},
	{"missing source.uri", "version: 1\nname: app\nsource: {}\ntarget: {uri: b}\n", 1, {
		{E, 3, 9, "missing required key \"uri\" in source"}}},
	{"empty source section", "version: 1\nname: app\nsource:\ntarget: {uri: b}\n", 1, {
		{E, 3, 8, "source: a value is required"}}},
	{"empty source.uri", "version: 1\nname: app\nsource: {uri: }\ntarget: {uri: \"\"}\n", 2, {
		{E, 3, 15, "source.uri: a value is required"},
		{E, 4, 15, "target.uri: the connection string is empty"}}},

	/* types */
	{"a mapping where a value is expected", BASE "copy: {format: {text: 1}}\n", 1, {
		{E, 5, 16, "copy.format: expected a single value, found a mapping"}}},
	{"a list where a value is expected", "version: [1]\nname: app\nsource: {uri: a}\ntarget: {uri: b}\n", 1, {
		{E, 1, 10, "version: expected a single value, found a list"}}},
	{"a value where a list is expected", BASE "filters:\n  include_schemas: public\n", 1, {
		{E, 6, 20, "filters.include_schemas: expected a list such as [a, b], found a scalar"}}},
	{"a value where a section is expected", BASE "copy: fast\n", 1, {
		{E, 5, 7, "copy: expected a mapping of keys, found a scalar"}}},
	{"a value where cutover steps are expected", BASE "cutover: {steps: verify}\n", 1, {
		{E, 5, 18, "cutover.steps: expected a list of steps, found a scalar"}}},

	/* values */
	{"unsupported version", "version: 2\nname: app\nsource: {uri: a}\ntarget: {uri: b}\n", 1, {
		{E, 1, 10, "unsupported plan version \"2\"; this pgshift reads version 1"}}},
	{"name with uppercase letters", "version: 1\nname: App\nsource: {uri: a}\ntarget: {uri: b}\n", 1, {
		{E, 2, 7, "name: \"App\" is not a valid name; use lowercase letters, digits and _ only"}}},
	{"name too long for a slot name",
	 "version: 1\nname: a2345678901234567890123456789012345678901234567890123456\n"
	 "source: {uri: a}\ntarget: {uri: b}\n", 1, {
		{E, 2, 7, "name: \"a2345678901234567890123456789012345678901234567890123456\" "
		 "is longer than 55 characters"}}},
	{"slot with a dash", BASE "cdc: {slot: my-slot}\n", 1, {
		{E, 5, 13, "cdc.slot: \"my-slot\" is not a valid name; use lowercase letters, digits and _ only"}}},
	{"size in lowercase units", BASE "copy: {split_tables_larger_than: 10gb}\n", 1, {
		{E, 5, 34, "copy.split_tables_larger_than: invalid size \"10gb\": " SIZE_WHY}}},
	{"fractional size", BASE "copy: {split_tables_larger_than: 1.5GB}\n", 1, {
		{E, 5, 34, "copy.split_tables_larger_than: invalid size \"1.5GB\": " SIZE_WHY}}},
	{"size beyond 64 bits", BASE "copy: {split_tables_larger_than: 9000000000TB}\n", 1, {
		{E, 5, 34, "copy.split_tables_larger_than: invalid size \"9000000000TB\": size is too large"}}},
	{"duration without a unit", BASE "cdc: {max_lag: 10}\n", 1, {
		{E, 5, 16, "cdc.max_lag: invalid duration \"10\": " DURATION_WHY}}},
	{"zero duration", BASE "cdc: {max_lag: 0s}\n", 1, {
		{E, 5, 16, "cdc.max_lag: the duration must be greater than zero"}}},
	{"reconnect_for without a unit", BASE "cdc: {reconnect_for: 600}\n", 1, {
		{E, 5, 22, "cdc.reconnect_for: invalid duration \"600\": " DURATION_WHY}}},
	{"reconnect_for zero", BASE "cdc: {reconnect_for: 0m}\n", 1, {
		{E, 5, 22, "cdc.reconnect_for: the duration must be greater than zero"}}},
	{"reconnect_for as a list", BASE "cdc: {reconnect_for: [10m]}\n", 1, {
		{E, 5, 22, "cdc.reconnect_for: expected a single value, found a list"}}},
	{"connect_timeout without a unit",
	 "version: 1\nname: app\nsource: {uri: \"postgres://db1/app\", connect_timeout: 5}\n"
	 "target: {uri: \"postgres://db2/app\"}\n", 1, {
		{E, 3, 54, "source.connect_timeout: invalid duration \"5\": " DURATION_WHY}}},
	{"keepalives_idle zero",
	 "version: 1\nname: app\nsource: {uri: \"postgres://db1/app\"}\n"
	 "target: {uri: \"postgres://db2/app\", keepalives_idle: 0s}\n", 1, {
		{E, 4, 54, "target.keepalives_idle: the duration must be greater than zero"}}},
	{"connect_timeout misspelled",
	 "version: 1\nname: app\nsource: {uri: \"postgres://db1/app\", connect_timout: 5s}\n"
	 "target: {uri: \"postgres://db2/app\"}\n", 1, {
		{E, 3, 37, "unknown key \"connect_timout\" in source; did you mean \"connect_timeout\"?"}}},
	{"duration in days", BASE "hooks: {timeout: 1d}\n", 1, {
		{E, 5, 18, "hooks.timeout: invalid duration \"1d\": " DURATION_WHY}}},
	{"negative duration", BASE "cutover:\n  steps:\n    - wait_for_catchup: {timeout: -5m}\n", 1, {
		{E, 7, 35, "cutover.steps[1].timeout: invalid duration \"-5m\": " DURATION_WHY}}},
	{"table_jobs zero", BASE "copy: {table_jobs: 0}\n", 1, {
		{E, 5, 20, "copy.table_jobs: expected a whole number from 1 to 256, found \"0\""}}},
	{"split_max_parts above its maximum", BASE "copy: {split_max_parts: 2000}\n", 1, {
		{E, 5, 25, "copy.split_max_parts: expected a whole number from 1 to 1024, found \"2000\""}}},
	{"index_jobs in words", BASE "copy: {index_jobs: four}\n", 1, {
		{E, 5, 20, "copy.index_jobs: expected a whole number from 1 to 256, found \"four\""}}},
	{"negative sequence margin", BASE "cutover:\n  steps:\n    - sync_sequences: {margin: -1}\n", 1, {
		{E, 7, 32, "cutover.steps[1].margin: expected a whole number from 0 to 1000000000000, found \"-1\""}}},
	{"yes is not a bool", BASE "copy: {vacuum_analyze: yes}\n", 1, {
		{E, 5, 24, "copy.vacuum_analyze: expected true or false, found \"yes\""}}},
	{"enum with a suggestion", BASE "copy: {format: binry}\n", 1, {
		{E, 5, 16, "copy.format: unknown value \"binry\"; did you mean \"binary\"? (expected text, binary or auto)"}}},
	{"object classes: near misses and an unknown word, each at its item", BASE
	 "filters: {exclude_object_classes: [casts, cast, triggers]}\n", 2, {
		{E, 5, 43, "filters.exclude_object_classes: unknown object class \"cast\"; did you mean \"casts\"? (expected one of " OBJECT_CLASSES ")"},
		{E, 5, 49, "filters.exclude_object_classes: unknown object class \"triggers\" (expected one of " OBJECT_CLASSES ")"}}},
	{"object classes is a list", BASE "filters: {exclude_object_classes: casts}\n", 1, {
		{E, 5, 35, "filters.exclude_object_classes: expected a list such as [a, b], found a scalar"}}},
	{"enum without a suggestion", BASE "cutover: {approval: later}\n", 1, {
		{E, 5, 21, "cutover.approval: unknown value \"later\" (expected manual or auto)"}}},
	{"cdc.ddl replicate needs CDC", BASE "cdc: {enabled: false, ddl: replicate}\n", 1, {
		{E, 5, 28, "cdc.ddl: replicate needs cdc.enabled: true (without CDC no schema change is replicated)"}}},
	{"cdc.ddl of an unknown word", BASE "cdc: {ddl: ignore}\n", 1, {
		{E, 5, 12, "cdc.ddl: unknown value \"ignore\" (expected stop or replicate)"}}},
	{"cdc.ddl near miss", BASE "cdc: {ddl: stpo}\n", 1, {
		{E, 5, 12, "cdc.ddl: unknown value \"stpo\"; did you mean \"stop\"? (expected stop or replicate)"}}},
	{"cdc.ddl is a word, not a list", BASE "cdc: {ddl: [stop]}\n", 1, {
		{E, 5, 12, "cdc.ddl: expected a single value, found a list"}}},
	{"verify level of three choices", BASE "cutover:\n  steps:\n    - verify: {level: full}\n", 1, {
		{E, 7, 23, "cutover.steps[1].level: unknown value \"full\" (expected schema, count or checksum)"}}},

	/* schema: owners, privileges, roles */
	{"owners of an unknown word", BASE "schema: {owners: kep}\n", 1, {
		{E, 5, 18, "schema.owners: unknown value \"kep\"; did you mean \"keep\"? (expected keep or target_role)"}}},
	{"owners as a list", BASE "schema: {owners: [keep]}\n", 1, {
		{E, 5, 18, "schema.owners: expected keep, target_role or {map: {SOURCE_ROLE: TARGET_ROLE}}"}}},
	{"owners mapping without map", BASE "schema: {owners: {rename: {a: b}}}\n", 1, {
		{E, 5, 18, "schema.owners: expected keep, target_role or {map: {SOURCE_ROLE: TARGET_ROLE}}"}}},
	{"owners map of a list", BASE "schema: {owners: {map: [a, b]}}\n", 1, {
		{E, 5, 24, "schema.owners.map: expected a mapping of source role: target role, found a list"}}},
	{"owners map empty", BASE "schema: {owners: {map: {}}}\n", 1, {
		{E, 5, 24, "schema.owners.map: the map is empty; use owners: keep to keep the source's owners"}}},
	{"owners map to an empty role", BASE "schema:\n  owners:\n    map:\n      app: \"\"\n", 1, {
		{E, 8, 12, "schema.owners.map: \"\" is not a role name (1 to 63 bytes)"}}},
	{"owners map of a role twice", BASE "schema:\n  owners:\n    map:\n      app: a\n      app: b\n", 1, {
		{E, 9, 7, "schema.owners.map: role \"app\" is mapped twice"}}},
	{"owners map to a list", BASE "schema: {owners: {map: {app: [a]}}}\n", 1, {
		{E, 5, 30, "schema.owners.map: expected a single value, found a list"}}},
	{"privileges of an unknown word", BASE "schema: {privileges: grant}\n", 1, {
		{E, 5, 22, "schema.privileges: unknown value \"grant\" (expected keep or drop)"}}},
	{"roles near miss", BASE "schema: {roles: create}\n", 1, {
		{E, 5, 17, "schema.roles: unknown value \"create\" (expected require, create_missing or ignore)"}}},
	{"copy_passwords not a boolean", BASE "schema: {copy_passwords: yes}\n", 1, {
		{E, 5, 26, "schema.copy_passwords: expected true or false, found \"yes\""}}},
	{"roles as a list", BASE "schema: {roles: [require]}\n", 1, {
		{E, 5, 17, "schema.roles: expected a single value, found a list"}}},
	{"unknown key in schema", BASE "schema: {owner: keep}\n", 1, {
		{E, 5, 10, "unknown key \"owner\" in schema; did you mean \"owners\"?"}}},

	/* globs */
	{"table glob without a dot", BASE "filters: {exclude_tables: [sessions]}\n", 1, {
		{E, 5, 28, "filters.exclude_tables: bad pattern \"sessions\": "
		 "table patterns are SCHEMA.TABLE, e.g. public.orders or public.tmp_*"}}},
	{"table glob with brackets", BASE "filters: {exclude_tables: [\"public.t[0-9]\"]}\n", 1, {
		{E, 5, 28, "filters.exclude_tables: bad pattern \"public.t[0-9]\": "
		 "only * and ? are wildcards; write \\[ \\] \\{ \\} for literal brackets"}}},
	{"empty table glob", BASE "filters: {include_tables: [\"\"]}\n", 1, {
		{E, 5, 28, "filters.include_tables: bad pattern \"\": empty pattern"}}},
	{"table glob ending in a backslash", BASE "filters: {exclude_table_data: ['public.log\\']}\n", 1, {
		{E, 5, 32, "filters.exclude_table_data: bad pattern \"public.log\\\": pattern ends with a lone backslash"}}},
	{"table glob with an empty table part", BASE "filters: {include_tables: [\"public.\"]}\n", 1, {
		{E, 5, 28, "filters.include_tables: bad pattern \"public.\": "
		 "schema and table parts of the pattern must not be empty"}}},
	{"schema glob with braces", BASE "filters: {include_schemas: [\"{a,b}\"]}\n", 1, {
		{E, 5, 29, "filters.include_schemas: bad pattern \"{a,b}\": "
		 "only * and ? are wildcards; write \\[ \\] \\{ \\} for literal brackets"}}},

	/* environment */
	{"unset variable", "version: 1\nname: app\nsource: {uri: \"${PGSHIFT_TEST_UNSET}\"}\ntarget: {uri: b}\n", 1, {
		{E, 3, 15, "source.uri: environment variable \"PGSHIFT_TEST_UNSET\" is not set; "
		 "export it or write ${PGSHIFT_TEST_UNSET:-default}"}}},
	{"unterminated reference", BASE "cdc: {slot: \"${PGSHIFT_TEST_UNSET\"}\n", 1, {
		{E, 5, 13, "cdc.slot: unterminated \"${\": close the reference with \"}\""}}},
	{"shell-style default is not printed",
	 "version: 1\nname: app\nsource: {uri: \"postgres://u:${PW-hunter2}@db1/app\"}\ntarget: {uri: b}\n", 1, {
		{E, 3, 15, "source.uri: invalid variable reference \"${PW-...}\": names are letters, "
		 "digits and _; a default is written ${NAME:-default}"}}},
	{"variable name starting with a digit", BASE "cdc: {slot: \"${1SLOT}\"}\n", 1, {
		{E, 5, 13, "cdc.slot: invalid variable reference \"${1SLOT}\": names are letters, "
		 "digits and _, not starting with a digit"}}},

	/* cutover */
	{"cutover step kind with a suggestion", BASE "cutover:\n  steps:\n    - wait_for_catchpu: {}\n", 1, {
		{E, 7, 7, "cutover.steps[1]: unknown cutover step \"wait_for_catchpu\"; did you mean \"wait_for_catchup\"?"}}},
	{"cutover step kind without a suggestion", BASE "cutover:\n  steps:\n    - reboot: {}\n", 1, {
		{E, 7, 7, "cutover.steps[1]: unknown cutover step \"reboot\" (expected lua, fence_writes, "
		 "wait_for_catchup, sync_sequences or verify)"}}},
	{"cutover step that is a bare word", BASE "cutover:\n  steps:\n    - verify\n", 1, {
		{E, 7, 7, "cutover.steps[1]: " ONE_KEY}}},
	{"cutover step with two keys", BASE "cutover:\n  steps:\n    - verify: {}\n      sync_sequences: {}\n", 1, {
		{E, 7, 7, "cutover.steps[1]: " ONE_KEY}}},
	{"missing lua hook file", BASE "cutover:\n  steps:\n    - lua: hooks/missing.lua\n", 1, {
		{E, 7, 12, "cutover.steps[1]: hook file \"@DIR@/hooks/missing.lua\" does not exist or cannot be read"}}},
	{"lua step without a file", BASE "cutover:\n  steps:\n    - lua:\n", 1, {
		{E, 7, 11, "cutover.steps[1]: lua needs the path of a hook file"}}},
	{"wait_for_catchup without CDC",
	 BASE "cdc: {enabled: false}\ncutover:\n  steps:\n    - reboot: {}\n    - wait_for_catchup: {}\n", 2, {
		{E, 8, 7, "cutover.steps[1]: unknown cutover step \"reboot\" (expected lua, fence_writes, "
		 "wait_for_catchup, sync_sequences or verify)"},
		{E, 9, 7, "cutover.steps[2]: wait_for_catchup needs cdc.enabled: true "
		 "(without CDC there is nothing to catch up)"}}},
	{"wait_for_catchup without CDC in a flow list",
	 BASE "cdc: {enabled: false}\ncutover: {steps: [verify: {}, wait_for_catchup: {}]}\n", 1, {
		{E, 6, 31, "cutover.steps[2]: wait_for_catchup needs cdc.enabled: true "
		 "(without CDC there is nothing to catch up)"}}},
	{"missing hook file", BASE "hooks:\n  lua:\n    - {file: nothere.lua}\n", 1, {
		{E, 7, 7, "hooks.lua[1]: hook file \"@DIR@/nothere.lua\" does not exist or cannot be read"}}},
	{"hook without file", BASE "hooks:\n  lua:\n    - on: [\"*\"]\n", 1, {
		{E, 7, 7, "missing required key \"file\" in hooks.lua[1]"}}},

	/* notify */
	{"bad notify kind", BASE "notify:\n  - {kind: webhok, url: \"https://example.com/h\"}\n", 1, {
		{E, 6, 12, "notify[1].kind: unknown value \"webhok\"; did you mean \"webhook\"? (expected slack or webhook)"}}},
	{"misspelt kind with a secret is not taken for slack",
	 BASE "notify:\n  - {kind: webhok, url: \"https://example.com/h\", secret: \"${PGSHIFT_TEST_UNSET:-s}\"}\n", 1, {
		{E, 6, 12, "notify[1].kind: unknown value \"webhok\"; did you mean \"webhook\"? (expected slack or webhook)"}}},
	{"notify url that is not http", BASE "notify:\n  - {kind: webhook, url: \"ftp://example.com/h\"}\n", 1, {
		{E, 6, 26, "notify[1].url: expected an http:// or https:// URL"}}},
	{"include_values not a bool",
	 BASE "notify:\n  - {kind: webhook, url: \"https://example.com/h\", include_values: sure}\n", 1, {
		{E, 6, 67, "notify[1].include_values: expected true or false, found \"sure\""}}},
	{"notify without url", BASE "notify:\n  - kind: slack\n", 1, {
		{E, 6, 5, "missing required key \"url\" in notify[1]"}}},
	{"notify as a mapping", BASE "notify: {kind: slack}\n", 1, {
		{E, 5, 9, "notify: expected a list of {kind, url, on} entries, found a mapping"}}},
	{"slack with a secret",
	 BASE "notify:\n  - kind: slack\n    url: \"https://hooks.slack.com/x\"\n    secret: \"${PGSHIFT_TEST_UNSET:-s}\"\n", 1, {
		{E, 8, 13, "notify[1].secret: slack webhooks are not signed; secret is for kind webhook"}}},
	{"literal webhook secret is a warning",
	 BASE "notify:\n  - kind: webhook\n    url: \"https://example.com/h\"\n    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", 0, {
		{W, 8, 13, "notify[1].secret is written in the plan; take it from the environment (${VAR}) instead"}}},
	{"whsec_ secret that is not base64",
	 BASE "notify:\n  - kind: webhook\n    url: \"https://example.com/h\"\n    secret: \"${PGSHIFT_TEST_UNSET:-whsec_abc}\"\n", 1, {
		{E, 8, 13, "notify[1].secret: a secret starting with whsec_ must continue in base64"}}},
	{"notify url curl cannot parse", BASE "notify:\n  - {kind: slack, url: \"https://exa mple.com/h\"}\n", 1, {
		{E, 6, 24, "notify[1].url: not a URL curl can parse"}}},
	{"event glob matching nothing is a warning",
	 BASE "notify:\n  - kind: webhook\n    url: \"https://example.com/h\"\n    on: [\"copy.*\", \"copy.stated\", \"deploy.*\"]\n", 0, {
		{W, 8, 20, "notify[1].on: pattern \"copy.stated\" matches no event; did you mean \"copy.started\"?"},
		{W, 8, 35, "notify[1].on: pattern \"deploy.*\" matches no event"}}},
	{"bad event glob", BASE "hooks:\n  lua:\n    - {file: annotate.lua, on: [\"copy.[ab]\"]}\n", 1, {
		{E, 7, 33, "hooks.lua[1].on: bad pattern \"copy.[ab]\": "
		 "only * and ? are wildcards; write \\[ \\] \\{ \\} for literal brackets"}}},

	/* everything at once, reported in file order whatever order the checks run in */
	{"several errors in one file",
	 "version: 2\n"
	 "name: App\n"
	 "source: {uri: \"${PGSHIFT_TEST_UNSET}\"}\n"
	 "copy: {table_jobs: 0, format: binry}\n"
	 "cdc: {enabled: false, max_lag: 1}\n"
	 "cutover:\n"
	 "  steps:\n"
	 "    - wait_for_catchup: {}\n", 8, {
		{E, 1, 1, "missing required key \"target\" in the plan"},
		{E, 1, 10, "unsupported plan version \"2\"; this pgshift reads version 1"},
		{E, 2, 7, "name: \"App\" is not a valid name; use lowercase letters, digits and _ only"},
		{E, 3, 15, "source.uri: environment variable \"PGSHIFT_TEST_UNSET\" is not set; "
		 "export it or write ${PGSHIFT_TEST_UNSET:-default}"},
		{E, 4, 20, "copy.table_jobs: expected a whole number from 1 to 256, found \"0\""},
		{E, 4, 31, "copy.format: unknown value \"binry\"; did you mean \"binary\"? (expected text, binary or auto)"},
		{E, 5, 32, "cdc.max_lag: invalid duration \"1\": " DURATION_WHY},
		{E, 8, 7, "cutover.steps[1]: wait_for_catchup needs cdc.enabled: true "
		 "(without CDC there is nothing to catch up)"}}},

	/* rollback */
	{"rollback without a fence before the last catch-up", BASE "rollback: {enabled: true}\n", 1, {
		{E, 5, 21, "rollback.enabled: cutover.steps must fence the source (fence_writes) "
		 "before its last wait_for_catchup: the reverse stream writes into the source, "
		 "which must take no other write"}}},
	{"rollback with the fence after the catch-up", BASE "cutover: {steps: [wait_for_catchup: {}, fence_writes: {roles: [app]}]}\n"
		"rollback: {enabled: true}\n", 1, {
		{E, 6, 21, "rollback.enabled: cutover.steps must fence the source (fence_writes) "
		 "before its last wait_for_catchup: the reverse stream writes into the source, "
		 "which must take no other write"}}},
	{"rollback without CDC", BASE "cdc: {enabled: false}\ncutover: {steps: [verify: {}]}\n"
		"rollback: {enabled: true}\n", 1, {
		{E, 7, 21, "rollback.enabled: reverse replication needs cdc.enabled: true"}}},
	{"rollback keep_for", BASE "rollback: {keep_for: 3d, enabled: yes}\n", 2, {
		{E, 5, 22, "rollback.keep_for: invalid duration \"3d\": " DURATION_WHY},
		{E, 5, 35, "rollback.enabled: expected true or false, found \"yes\""}}},
	{"rollback keep_for of nothing", BASE "cutover: {steps: [fence_writes: {roles: [app]}, wait_for_catchup: {}]}\n"
		"rollback: {enabled: true, keep_for: 0s}\n", 1, {
		{E, 6, 37, "rollback.keep_for: the duration must be greater than zero"}}},
	{"rollback with a name too long for its slot",
		"version: 1\nname: a2345678901234567890123456789012345678901234567890123\n"
		"source: {uri: \"postgres://db1/app\"}\ntarget: {uri: \"postgres://db2/app\"}\n"
		"cutover: {steps: [fence_writes: {roles: [app]}, wait_for_catchup: {}]}\n"
		"rollback: {enabled: true}\n", 1, {
		{E, 6, 21, "rollback.enabled: the plan name \"a2345678901234567890123456789012345678901234567890123\" "
		 "is too long for the reverse slot \"pgshift_rb_a2345678901234567890123456789012345678901234567890123\" "
		 "(names of at most 52 characters)"}}},
};

static int
diag_place_cmp(const void *a, const void *b)
{
	const struct diag *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* "@DIR@" in a wanted message becomes the test directory. */
static void
expand_want(const char *msg, char *out, size_t outlen)
{
	const char *at = strstr(msg, "@DIR@");

	if (at)
		snprintf(out, outlen, "%.*s%s%s", (int) (at - msg), msg, test_dir, at + 5);
	else
		snprintf(out, outlen, "%s", msg);
}

static void
check_case(const struct invalid_case *c)
{
	char path[512], label[512], want[1024];
	struct diag_list dl;
	struct plan *plan;
	size_t nwant = 0;

	write_test_file("plan.yaml", c->yaml);
	test_path(path, sizeof(path), "plan.yaml");
	diag_init(&dl, path);
	plan = plan_load(path, &dl);

	while (nwant < 8 && c->diags[nwant].msg)
		nwant++;
	snprintf(label, sizeof(label), "%s: %zu error(s)", c->name, c->nerrors);
	is_int(dl.nerrors, c->nerrors, label);
	snprintf(label, sizeof(label), "%s: %zu diagnostic(s)", c->name, nwant);
	is_int(dl.n, nwant, label);
	if (c->nerrors > 0)
		ok(plan == NULL, "an invalid plan is not returned");
	else
		ok(plan != NULL, "a plan with only warnings is returned");

	qsort(dl.items, dl.n, sizeof(*dl.items), diag_place_cmp);
	for (size_t i = 0; i < nwant && i < dl.n; i++) {
		const struct diag *d = &dl.items[i];

		expand_want(c->diags[i].msg, want, sizeof(want));
		snprintf(label, sizeof(label), "%s: diagnostic %zu text", c->name, i + 1);
		is_str(d->message, want, label);
		snprintf(label, sizeof(label), "%s: diagnostic %zu at %d:%d", c->name, i + 1,
				 c->diags[i].line, c->diags[i].col);
		ok(d->line == c->diags[i].line && d->col == c->diags[i].col &&
		   d->severity == c->diags[i].sev, label);
		if (d->line != c->diags[i].line || d->col != c->diags[i].col)
			printf("#   got %d:%d\n", d->line, d->col);
	}
	plan_free(plan);
	diag_free(&dl);
}

/* What `pgshift validate` prints: FILE:LINE:COL lines sorted by place. */
static void
check_printed_order(void)
{
	char path[512], *text = NULL;
	size_t len = 0;
	struct diag_list dl;
	FILE *out;

	write_test_file("plan.yaml",
					"version: 1\n"
					"name: app\n"
					"cutover:\n"
					"  steps:\n"
					"    - wait_for_catchup: {}\n"
					"cdc: {enabled: false}\n"
					"copy: {table_jobs: many}\n"
					"source: {uri: \"postgres://db1/app\"}\n"
					"target: {uri: \"postgres://db2/app\"}\n");
	test_path(path, sizeof(path), "plan.yaml");
	diag_init(&dl, "plan.yaml");
	ok(plan_load(path, &dl) == NULL, "cross-key error after a value error: plan refused");
	out = open_memstream(&text, &len);
	diag_print(&dl, out);
	fclose(out);
	/* the cross-key check runs last but its line comes first */
	is_str(text,
		   "plan.yaml:5:7: error: cutover.steps[1]: wait_for_catchup needs cdc.enabled: true "
		   "(without CDC there is nothing to catch up)\n"
		   "plan.yaml:7:20: error: copy.table_jobs: expected a whole number from 1 to 256, "
		   "found \"many\"\n",
		   "diag_print writes FILE:LINE:COL lines in file order");
	free(text);
	diag_free(&dl);
}

static void
check_unreadable_file(void)
{
	char path[512];
	struct diag_list dl;

	test_path(path, sizeof(path), "no-such-plan.yaml");
	diag_init(&dl, path);
	ok(plan_load(path, &dl) == NULL, "a missing plan file is refused");
	is_int(dl.nerrors, 1, "one error for a missing file");
	is_str(dl.n ? dl.items[0].message : NULL,
		   "could not open plan file: No such file or directory", "names why it cannot be read");
	is_int(dl.n ? dl.items[0].line : -1, 0, "a file-level error has no line");
	diag_free(&dl);
}

int
main(void)
{
	unsetenv("PGSHIFT_TEST_UNSET");
	unsetenv("PW");
	test_dir_create();
	/* the hook the "bad event glob" case refers to exists, so only its glob is wrong */
	write_test_file("annotate.lua", "return function(event, ctx) end\n");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
	check_printed_order();
	check_unreadable_file();

	remove_test_file("annotate.lua");
	remove_test_file("plan.yaml");
	test_dir_remove();
	printf("# %zu invalid-plan cases\n", sizeof(cases) / sizeof(cases[0]));
	return done_testing();
}
