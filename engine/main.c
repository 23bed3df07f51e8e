/*
 * pgshift's entry point: parse the command line, configure logging, run one
 * command and turn its result into the exit code. The only place that exits.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "cli/cli.h"
#include "util/log.h"

int
main(int argc, char **argv)
{
	const struct command *cmd;
	struct cli_args args;
	int verbosity = 0, rc;

#ifdef __GLIBC__
	/*
	 * Arrays of 64 kB and more in pages of their own, as glibc starts: its
	 * threshold otherwise rises to the size of each such block freed, after
	 * which the catalog's and the compiler's arrays of megabytes grow by
	 * copying inside the heap and leave holes there (plan of 100,000 tables:
	 * peak RSS about 10 MB lower; a realloc is then an mremap).
	 */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
#endif
	if (!cli_parse(argc, argv, &cmd, &args))
		return EXIT_USAGE;
	if (args.set[OPT_HELP] || !cmd) {
		fputs(cmd ? cmd->help : main_help, args.set[OPT_HELP] ? stdout : stderr);
		return args.set[OPT_HELP] ? EXIT_OK : EXIT_USAGE;
	}
	if (args.set[OPT_QUIET])
		verbosity = -1;
	else if (args.set[OPT_VERBOSE])
		verbosity = 1;
	log_configure(args.value[OPT_LOG_FORMAT] && args.value[OPT_LOG_FORMAT][0] == 'j'
				  ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT, verbosity);
	rc = cmd->run(&args);
	/*
	 * Output lost to a full disk (`pgshift plan PLAN > file`) must not pass
	 * for done. The reason is known only when this last flush fails: the
	 * write that failed earlier, inside a report, left errno long since.
	 */
	errno = 0;
	if ((fflush(stdout) != 0 || ferror(stdout)) && rc == EXIT_OK) {
		if (errno)
			log_error("could not write to standard output: %s", strerror(errno));
		else
			log_error("could not write all of the output to standard output");
		rc = EXIT_FAILED;
	}
	return rc;
}
