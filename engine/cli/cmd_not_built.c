/*
 * Commands whose engine is not part of this build yet. They say so and fail,
 * rather than pretend: an operator must never believe a migration ran.
 */
#include <stdio.h>

#include "cli/cli.h"

int
cmd_not_built(const struct cli_args *args)
{
	fprintf(stderr, "pgshift: error: \"pgshift %s\" is not available in this build of pgshift\n"
			"pgshift: hint: README.md (Status of this build) lists what this build has\n",
			args->command);
	return EXIT_FAILED;
}
