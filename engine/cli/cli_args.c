/*
 * The strict argument parser. Options may stand before or after PLAN; global
 * options (--log-format, -v, -q, -h) are accepted by every command.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "plan/suggest.h"

struct opt_spec {
	const char *name;
	char short_name;
	bool takes_value;
	const char *const *choices;         /* NULL: any value */
};

static const char *const log_formats[] = {"text", "json", NULL};
static const char *const plan_formats[] = {"text", "json", "markdown", "dot", NULL};
static const char *const verify_levels[] = {"schema", "count", "checksum", NULL};

static const struct opt_spec specs[OPT__COUNT] = {
	[OPT_HELP] = {"help", 'h', false, NULL},
	[OPT_LOG_FORMAT] = {"log-format", 0, true, log_formats},
	[OPT_VERBOSE] = {"verbose", 'v', false, NULL},
	[OPT_QUIET] = {"quiet", 'q', false, NULL},
	[OPT_FORMAT] = {"format", 0, true, plan_formats},
	[OPT_OFFLINE] = {"offline", 0, false, NULL},
	[OPT_OUT] = {"out", 0, true, NULL},
	[OPT_EXPECT] = {"expect", 0, true, NULL},
	[OPT_UNTIL] = {"until", 0, true, NULL},
	[OPT_APPROVE] = {"approve", 0, false, NULL},
	[OPT_YES] = {"yes", 0, false, NULL},
	[OPT_NO_PROGRESS] = {"no-progress", 0, false, NULL},
	[OPT_FORCE] = {"force", 0, false, NULL},
	[OPT_REPLAN] = {"replan", 0, false, NULL},
	[OPT_JSON] = {"json", 0, false, NULL},
	[OPT_WATCH] = {"watch", 0, true, NULL},
	[OPT_LEVEL] = {"level", 0, true, verify_levels},
	[OPT_UNFENCE] = {"unfence", 0, false, NULL},
	[OPT_RESTORE_IDENTITY] = {"restore-identity", 0, false, NULL},
	[OPT_METRICS_LISTEN] = {"metrics-listen", 0, true, NULL},
	[OPT_CASCADE] = {"cascade", 0, false, NULL},
	[OPT_FOLLOW] = {"follow", 0, false, NULL},
};

static bool
is_global(enum cli_opt o)
{
	return o == OPT_HELP || o == OPT_LOG_FORMAT || o == OPT_VERBOSE || o == OPT_QUIET;
}

static bool
accepts(const struct command *cmd, enum cli_opt o)
{
	if (is_global(o))
		return true;
	for (int i = 0; cmd && i < cmd->n_options; i++)
		if (cmd->options[i] == o)
			return true;
	return false;
}

static void
usage_error(const struct command *cmd, const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "pgshift: error: ");
	fprintf(stderr, fmt, a, b);
	if (cmd)
		fprintf(stderr, "\npgshift: hint: run \"pgshift %s --help\" for usage\n", cmd->name);
	else
		fprintf(stderr, "\npgshift: hint: run \"pgshift --help\" for usage\n");
}

static void
unknown_option(const struct command *cmd, const char *arg)
{
	const char *names[OPT__COUNT];
	int n = 0;
	const char *hint;
	char what[256];

	for (int o = 0; o < OPT__COUNT; o++)
		if (accepts(cmd, (enum cli_opt) o))
			names[n++] = specs[o].name;
	hint = suggest_word(arg + strspn(arg, "-"), names, (size_t) n);
	snprintf(what, sizeof(what), "%s%s", cmd ? "pgshift " : "pgshift", cmd ? cmd->name : "");
	if (hint) {
		char dashed[128];

		snprintf(dashed, sizeof(dashed), "--%s", hint);
		fprintf(stderr, "pgshift: error: unknown option \"%s\" for \"%s\"; did you mean \"%s\"?\n",
				arg, what, dashed);
	} else {
		fprintf(stderr, "pgshift: error: unknown option \"%s\" for \"%s\"\n", arg, what);
	}
	fprintf(stderr, "pgshift: hint: run \"%s --help\" for the options it takes\n", what);
}

static int
lookup_long(const char *name, size_t len)
{
	for (int o = 0; o < OPT__COUNT; o++)
		if (strlen(specs[o].name) == len && strncmp(specs[o].name, name, len) == 0)
			return o;
	return -1;
}

static int
lookup_short(char c)
{
	for (int o = 0; o < OPT__COUNT; o++)
		if (specs[o].short_name == c)
			return o;
	return -1;
}

static bool
check_choice(const struct command *cmd, int o, const char *value)
{
	if (!specs[o].choices)
		return true;
	for (const char *const *c = specs[o].choices; *c; c++)
		if (strcmp(*c, value) == 0)
			return true;
	usage_error(cmd, "invalid value \"%s\" for --%s", value, specs[o].name);
	return false;
}

/* Handles one option argument at argv[*i]; advances *i past a separate value. */
static bool
parse_option(const struct command *cmd, int argc, char **argv, int *i, struct cli_args *args)
{
	const char *arg = argv[*i];
	const char *eq = NULL;
	const char *value = NULL;
	int o;

	if (arg[1] == '-') {
		eq = strchr(arg + 2, '=');
		o = lookup_long(arg + 2, eq ? (size_t) (eq - arg - 2) : strlen(arg + 2));
	} else {
		o = arg[2] == '\0' ? lookup_short(arg[1]) : -1;
	}
	if (o < 0 || !accepts(cmd, (enum cli_opt) o)) {
		unknown_option(cmd, arg);
		return false;
	}
	if (specs[o].takes_value) {
		if (eq)
			value = eq + 1;
		else if (*i + 1 < argc)
			value = argv[++*i];
		else {
			usage_error(cmd, "option --%s needs a value%s", specs[o].name, "");
			return false;
		}
		if (!check_choice(cmd, o, value))
			return false;
	} else if (eq) {
		usage_error(cmd, "option --%s takes no value%s", specs[o].name, "");
		return false;
	}
	args->set[o] = true;
	args->value[o] = value;
	return true;
}

static bool
parse_rest(const struct command *cmd, int argc, char **argv, int start, struct cli_args *args)
{
	bool only_positional = false;

	for (int i = start; i < argc; i++) {
		const char *arg = argv[i];

		if (!only_positional && strcmp(arg, "--") == 0) {
			only_positional = true;
		} else if (!only_positional && arg[0] == '-' && arg[1] != '\0') {
			if (!parse_option(cmd, argc, argv, &i, args))
				return false;
		} else if (cmd && cmd->needs_plan && !args->plan) {
			args->plan = arg;
		} else {
			usage_error(cmd, "unexpected argument \"%s\"%s", arg, "");
			return false;
		}
	}
	return true;
}

bool
cli_parse(int argc, char **argv, const struct command **cmd, struct cli_args *args)
{
	int i = 1;

	memset(args, 0, sizeof(*args));
	*cmd = NULL;
	/* global options may come before the command */
	while (i < argc && argv[i][0] == '-' && argv[i][1] != '\0') {
		if (!parse_option(NULL, argc, argv, &i, args))
			return false;
		i++;
	}
	if (i < argc) {
		*cmd = command_find(argv[i]);
		if (!*cmd) {
			const char *names[32];

			for (int c = 0; c < n_commands && c < 32; c++)
				names[c] = commands[c].name;
			const char *hint = suggest_word(argv[i], names, (size_t) n_commands);

			if (hint)
				fprintf(stderr, "pgshift: error: unknown command \"%s\"; did you mean \"%s\"?\n",
						argv[i], hint);
			else
				fprintf(stderr, "pgshift: error: unknown command \"%s\"\n", argv[i]);
			fprintf(stderr, "pgshift: hint: run \"pgshift --help\" for the list of commands\n");
			return false;
		}
		args->command = (*cmd)->name;
		i++;
	}
	if (!parse_rest(*cmd, argc, argv, i, args))
		return false;
	if (*cmd && (*cmd)->needs_plan && !args->plan && !args->set[OPT_HELP]) {
		usage_error(*cmd, "pgshift %s needs a PLAN file argument%s", (*cmd)->name, "");
		return false;
	}
	return true;
}
