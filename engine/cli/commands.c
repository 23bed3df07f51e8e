/*
 * The table of commands with their options and --help texts. README.md
 * quotes these texts; keep the two in step.
 */
#include <string.h>

#include "cli/cli.h"

#define OPTS(...) (const enum cli_opt[]) {__VA_ARGS__}, \
	(int) (sizeof((const enum cli_opt[]) {__VA_ARGS__}) / sizeof(enum cli_opt))

const char main_help[] =
	"pgshift moves a live PostgreSQL database to another server, driven by a plan file.\n"
	"\n"
	"Usage: pgshift [GLOBAL OPTIONS] COMMAND [PLAN] [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  validate PLAN   check the plan file offline (no connection)\n"
	"  plan     PLAN   dry run: connect read-only, run preflight, show the step DAG\n"
	"  apply    PLAN   execute the plan; resumes after a crash\n"
	"  status   PLAN   show the state of every step of a run\n"
	"  cutover  PLAN   approve the manual cutover gate of a running apply\n"
	"  verify   PLAN   compare source and target (schema, counts, checksums)\n"
	"  cleanup  PLAN   drop slot, publication, spool and state (idempotent)\n"
	"  reset    PLAN   drop what apply created on the target, to start over\n"
	"  rollback PLAN   after a cutover, move the application back to the source\n"
	"  version         print the version\n"
	"\n"
	"Global options:\n"
	"  --log-format text|json   format of log lines on stderr (default text)\n"
	"  -v, --verbose            more log lines\n"
	"  -q, --quiet              errors only\n"
	"  -h, --help               this help; \"pgshift COMMAND --help\" for a command\n"
	"\n"
	"Exit codes: 0 success, 1 failed, 2 preflight found blocking problems,\n"
	"3 usage error or invalid plan, 4 another apply holds the plan's lock.\n";

static const char validate_help[] =
	"Usage: pgshift validate PLAN\n"
	"\n"
	"Checks the plan file offline: YAML, every key and value, ${VAR} expansion,\n"
	"hook files. Reports every problem as FILE:LINE:COL. Opens no connection.\n"
	"Exit 0 when valid, 3 when not.\n";

static const char plan_help[] =
	"Usage: pgshift plan PLAN [--format text|json|markdown|dot] [--offline] [--out SAVED.json]\n"
	"\n"
	"Dry run: connects read-only, reads the source catalog, runs preflight and\n"
	"prints the step DAG. Creates nothing anywhere.\n"
	"\n"
	"  --format FORMAT   text (default), json, markdown (for a PR comment) or dot\n"
	"  --offline         compile without connecting (stage-level DAG)\n"
	"  --out FILE        save the compiled DAG with plan hash and catalog fingerprint\n"
	"\n"
	"Exit 0 when preflight found nothing blocking, 2 when it did, 1 when a\n"
	"server could not be reached, 3 for an invalid plan.\n";

static const char apply_help[] =
	"Usage: pgshift apply PLAN [--expect SAVED.json] [--until STEP] [--approve] [--yes]\n"
	"                          [--no-progress] [--force] [--replan]\n"
	"                          [--metrics-listen ADDR:PORT]\n"
	"\n"
	"Executes the plan; a re-run resumes where the last one stopped.\n"
	"\n"
	"  --expect FILE   refuse to start when the plan or source schema drifted from FILE\n"
	"  --until STEP    stop after STEP (a step id or stage name)\n"
	"  --approve       approve the manual cutover gate in advance\n"
	"  --yes           do not ask for confirmation on a terminal\n"
	"  --no-progress   plain log lines instead of the live view\n"
	"  --force         resume although the plan file changed since the run began\n"
	"  --replan        resume although the source has new tables since the run began:\n"
	"                  add their steps to the run and copy only them\n"
	"  --metrics-listen ADDR:PORT\n"
	"                  serve Prometheus metrics at http://ADDR:PORT/metrics while\n"
	"                  the steps run (exit 3 when the address cannot be bound)\n";

static const char status_help[] =
	"Usage: pgshift status PLAN [--json] [--watch SECONDS]\n"
	"\n"
	"Shows the plan's run and every stage and step of it, read from the state on the\n"
	"target on a read-only session, without the plan's lock (safe while apply runs).\n"
	"\n"
	"  --json            one JSON object: plan, run_id, status, times, approved,\n"
	"                    fenced, source_lsn, received_lsn, applied_lsn, lag_bytes\n"
	"                    (source - applied) = receive_lag_bytes (source - received)\n"
	"                    + apply_lag_bytes (received - applied), lag_seconds,\n"
	"                    stages[], steps[] (one line per refresh with --watch)\n"
	"  --watch SECONDS   refresh every SECONDS (a whole number, 1 or more) until\n"
	"                    interrupted\n"
	"\n"
	"Exit 0 when a run was shown, 1 when the plan has no run on the target.\n";

static const char cutover_help[] =
	"Usage: pgshift cutover PLAN\n"
	"\n"
	"Approves the manual cutover gate of a running apply (recorded on the target,\n"
	"so it works from any machine). Approving twice keeps the first approval.\n"
	"Exit 0 when approved, 1 when the plan has no run on the target.\n";

static const char verify_help[] =
	"Usage: pgshift verify PLAN [--level schema|count|checksum] [--json]\n"
	"\n"
	"Compares source and target, also outside a run. Levels add up: schema compares\n"
	"tables, columns and types, indexes, constraints, sequences, views and extensions\n"
	"by name; count adds exact row counts and sequence positions; checksum (the\n"
	"default) adds a digest of every row's text form, per table or per key range,\n"
	"in parallel. Prints PASS/WARN/FAIL per table and a summary naming each\n"
	"difference. Meaningful once the source stopped taking writes.\n"
	"\n"
	"  --level LEVEL   schema, count or checksum (default checksum)\n"
	"  --json          the report as one JSON object\n"
	"\n"
	"Exit 0 when nothing FAILed (WARN: only on the target, or an extension's\n"
	"version), 1 when a difference was found or a server could not be read.\n";

static const char cleanup_help[] =
	"Usage: pgshift cleanup PLAN [--unfence] [--restore-identity] [--force]\n"
	"\n"
	"Drops the replication slot (ending a walsender still streaming from it), the\n"
	"publication, the spool and the state of the plan, as cleanup.drop_slot,\n"
	"drop_publication and keep_state say. Safe to run twice or after a failed run.\n"
	"With rollback.enabled, also ends the reverse stream (its slot and publication\n"
	"on the target, its spool and its row on the source) once rollback.keep_for\n"
	"has passed since the cutover or the rollback is done; until then it is kept.\n"
	"\n"
	"  --unfence           also undo fence_writes (source database writable again;\n"
	"                      refused while the reverse stream is kept) and the\n"
	"                      rollback's fence of the target\n"
	"  --force             end the reverse stream before rollback.keep_for is over\n"
	"                      (the source's sequences are set from the target's first,\n"
	"                      past the keys of the rows it replayed into the source)\n"
	"  --restore-identity  put back the replica identity of every source table\n"
	"                      apply changed (recorded on the target; idempotent).\n"
	"                      Without it, cleanup lists them and keeps the record\n"
	"\n"
	"Exit 0 done, 1 failed, 4 an apply of the plan is running.\n";

static const char reset_help[] =
	"Usage: pgshift reset PLAN --yes [--cascade] [--force]\n"
	"\n"
	"Drops on the target exactly what apply created (pgshift.manifest: tables,\n"
	"views, sequences, types, domains, functions, operators, casts, collations,\n"
	"publications, extensions, schemas ..., in any schema; the roles it created)\n"
	"and the plan's state, to start over. The manifest outlives cleanup and\n"
	"keep_state: false. Objects go dependents first, each without CASCADE;\n"
	"prints what it will drop first, and without --yes stops there (exit 3).\n"
	"Leaves the source alone (see cleanup), except that with rollback.enabled it\n"
	"first ends the reverse stream (and a rollback's fence of the target); while\n"
	"rollback.keep_for keeps it (the application may write to the target), reset\n"
	"refuses, dropping nothing (exit 1), unless --force.\n"
	"\n"
	"  --yes      drop what is listed\n"
	"  --cascade  also drop the objects apply did not create that depend on\n"
	"             what it created (without it, reset names them and drops\n"
	"             nothing: exit 1)\n"
	"  --force    also while the reverse stream is kept\n"
	"\n"
	"Exit 0 done, 1 failed or refused over such objects or a kept reverse\n"
	"stream, 3 without --yes, 4 an apply of the plan is running.\n";

static const char rollback_help[] =
	"Usage: pgshift rollback PLAN [--follow] [--yes]\n"
	"\n"
	"After a cutover with rollback.enabled, moves the application back to the\n"
	"source without losing a write made on the target. The cutover created a\n"
	"publication and slot on the target (step rollback.slot); their changes are\n"
	"replayed into the (still fenced) source by the same receiver, spool and\n"
	"exactly-once applier as the forward CDC.\n"
	"\n"
	"  --follow   stream the target's changes into the source until stopped\n"
	"             (SIGTERM or SIGINT; a restart resumes exactly), so the lag stays\n"
	"             small; status shows it\n"
	"  --yes      do not ask for confirmation (required without a terminal)\n"
	"\n"
	"Without --follow: events rollback.gate and rollback.started, fence the target\n"
	"(as fence_writes), apply every change it committed before its WAL position,\n"
	"set the source's sequences from the target's (+ the sync_sequences margin),\n"
	"verify (checksum), make the source writable, rollback.finished. A failure\n"
	"(rollback.failed) leaves the source fenced; running the command again\n"
	"continues. Stop a running --follow first.\n"
	"\n"
	"Exit 0 done, 1 failed or differences found, 3 invalid plan, rollback not\n"
	"enabled or not confirmed, 4 another rollback of the plan is running.\n";

static const char version_help[] =
	"Usage: pgshift version\n"
	"\n"
	"Prints the version of pgshift and of the libraries it was built with.\n";

const struct command commands[] = {
	{"validate", true, NULL, 0, validate_help, cmd_validate},
	{"plan", true, OPTS(OPT_FORMAT, OPT_OFFLINE, OPT_OUT), plan_help, cmd_plan},
	{"apply", true, OPTS(OPT_EXPECT, OPT_UNTIL, OPT_APPROVE, OPT_YES, OPT_NO_PROGRESS, OPT_FORCE,
						   OPT_REPLAN, OPT_METRICS_LISTEN),
	 apply_help, cmd_apply},
	{"status", true, OPTS(OPT_JSON, OPT_WATCH), status_help, cmd_status},
	{"cutover", true, NULL, 0, cutover_help, cmd_cutover},
	{"verify", true, OPTS(OPT_LEVEL, OPT_JSON), verify_help, cmd_verify},
	{"cleanup", true, OPTS(OPT_UNFENCE, OPT_RESTORE_IDENTITY, OPT_FORCE), cleanup_help, cmd_cleanup},
	{"reset", true, OPTS(OPT_YES, OPT_CASCADE, OPT_FORCE), reset_help, cmd_reset},
	{"rollback", true, OPTS(OPT_FOLLOW, OPT_YES), rollback_help, cmd_rollback},
	{"version", false, NULL, 0, version_help, cmd_version},
};

const int n_commands = (int) (sizeof(commands) / sizeof(commands[0]));

const struct command *
command_find(const char *name)
{
	for (int i = 0; i < n_commands; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}
