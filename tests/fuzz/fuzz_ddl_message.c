/*
 * libFuzzer harness for the parser of 'pgshift.ddl' message content
 * (cdc.ddl: replicate), which comes from the source database: the input is
 * one message's content, parsed from an exact-size copy so that any read
 * past it is a heap overflow; a parsed statement also goes through the
 * top-level check, as the applier does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/ddl_message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	struct ddl_message m;
	struct pgs_error err;

	memcpy(copy, data, size);
	pgs_error_clear(&err);
	if (ddl_message_parse(copy, size, &m, &err)) {
		(void) ddl_statement_is_top_level(m.sql, m.tag);
		ddl_message_free(&m);
	}
	free(copy);
	return 0;
}
