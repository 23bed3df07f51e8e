/*
 * libFuzzer harness for the pgoutput decoder with the relation cache, as the
 * applier drives them: the input is a sequence of messages, each a 16-bit
 * big-endian length and that many bytes, decoded from an exact-size copy so
 * that any read past a message is a heap overflow. Relation messages replace
 * cached ones (compared first, as apply does on a schema change).
 */
#include <stdint.h>
#include <stdlib.h>

#include "cdc/pgoutput.h"
#include "cdc/relcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
use(struct pgo_relcache *rc, const struct pgo_msg *msg, bool *in_stream)
{
	switch (msg->kind) {
	case PGO_RELATION:
		{
			const struct pgo_relation *was = pgo_relcache_get(rc, msg->u.relation.relid);
			bool changed = false;

			if (was)
				(void) pgo_relation_columns_equal(was, &msg->u.relation);
			pgo_relcache_put(rc, &msg->u.relation, &changed);
			break;
		}
	case PGO_STREAM_START:
		*in_stream = true;
		break;
	case PGO_STREAM_STOP:
		*in_stream = false;
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgo_relcache *rc = pgo_relcache_new();
	bool in_stream = false;
	size_t pos = 0;

	while (pos + 2 <= size) {
		size_t len = (size_t) data[pos] << 8 | data[pos + 1];
		struct pgo_msg msg;
		struct pgs_error err;
		uint8_t *copy;

		pos += 2;
		if (len > size - pos)
			len = size - pos;
		copy = malloc(len ? len : 1);
		if (!copy)
			abort();
		for (size_t i = 0; i < len; i++)
			copy[i] = data[pos + i];
		pgs_error_clear(&err);
		if (pgo_decode(copy, len, in_stream, &msg, &err)) {
			use(rc, &msg, &in_stream);
			pgo_msg_free(&msg);
		}
		free(copy);
		pos += len;
	}
	pgo_relcache_free(rc);
	return 0;
}
