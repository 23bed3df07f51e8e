/*
 * libFuzzer harness for the plan loader: any bytes as a plan file. The
 * loader takes a path, so each input is written to one private file first.
 * Every diagnostic is printed to /dev/null so the formatting runs too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "plan/diag.h"
#include "plan/plan.h"

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	snprintf(path, sizeof(path), "/tmp/pgshift-fuzz-plan-%ld.yaml", (long) getpid());
	/* variables the ready plans name, so their seeds get past expansion */
	setenv("SOURCE_URI", "postgresql://u:secret@127.0.0.1:1/src", 1);
	setenv("TARGET_URI", "postgresql://u@127.0.0.1:1/dst", 1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	FILE *sink;
	struct diag_list dl;
	struct plan *plan;

	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();
	diag_init(&dl, path);
	plan = plan_load(path, &dl);
	sink = fopen("/dev/null", "w");
	if (sink) {
		diag_print(&dl, sink);
		fclose(sink);
	}
	plan_free(plan);
	diag_free(&dl);
	return 0;
}
