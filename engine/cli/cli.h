/*
 * The command line of DESIGN.md §1: one table of commands, each with the
 * options it accepts, parsed by one strict parser (unknown flags are fatal,
 * so a mistyped --dry-run never runs a migration).
 */
#ifndef PGSHIFT_CLI_CLI_H
#define PGSHIFT_CLI_CLI_H

#include <stdbool.h>

#include "lifecycle/lifecycle.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILED = 1,
	EXIT_PREFLIGHT = 2,
	EXIT_USAGE = 3,
	EXIT_LOCKED = 4,
	/* apply stopped by a signal: 128 + its number (130 SIGINT, 143 SIGTERM), as a shell reports it */
	EXIT_SIGNAL_BASE = 128,
};

enum cli_opt {
	OPT_HELP,
	OPT_LOG_FORMAT,
	OPT_VERBOSE,
	OPT_QUIET,
	OPT_FORMAT,
	OPT_OFFLINE,
	OPT_OUT,
	OPT_EXPECT,
	OPT_UNTIL,
	OPT_APPROVE,
	OPT_YES,
	OPT_NO_PROGRESS,
	OPT_FORCE,
	OPT_REPLAN,
	OPT_JSON,
	OPT_WATCH,
	OPT_LEVEL,
	OPT_UNFENCE,
	OPT_RESTORE_IDENTITY,
	OPT_METRICS_LISTEN,
	OPT_CASCADE,
	OPT_FOLLOW,
	OPT__COUNT
};

struct cli_args {
	const char *command;
	const char *plan;                   /* the PLAN argument */
	bool set[OPT__COUNT];
	const char *value[OPT__COUNT];      /* for options that take one */
};

struct command {
	const char *name;
	bool needs_plan;
	const enum cli_opt *options;        /* accepted besides the global ones */
	int n_options;
	const char *help;                   /* full --help text */
	int (*run)(const struct cli_args *args);
};

extern const struct command commands[];
extern const int n_commands;
extern const char main_help[];

const struct command *command_find(const char *name);
/* Parses argv into args; on a usage error prints it and returns false. */
bool cli_parse(int argc, char **argv, const struct command **cmd, struct cli_args *args);

struct plan;
/*
 * Loads and checks a plan file, printing every diagnostic; NULL when invalid.
 * check_hooks: also compile every Lua hook file it names (validate, plan, apply).
 */
struct plan *cli_load_plan(const char *path, bool check_hooks);

/* The exit code of cleanup, reset and rollback's result, the error printed first. */
int cli_lifecycle_exit(enum lifecycle_result rc, const struct pgs_error *err);

int cmd_validate(const struct cli_args *args);
int cmd_plan(const struct cli_args *args);
int cmd_apply(const struct cli_args *args);
int cmd_version(const struct cli_args *args);
int cmd_status(const struct cli_args *args);
int cmd_cutover(const struct cli_args *args);
int cmd_cleanup(const struct cli_args *args);
int cmd_reset(const struct cli_args *args);
int cmd_verify(const struct cli_args *args);
int cmd_rollback(const struct cli_args *args);

#endif
