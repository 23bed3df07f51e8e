/*
 * The relation cache of the CDC decoder: Insert, Update and Delete name
 * their table only by relation id, so the Relation messages that precede
 * them are kept here, keyed by relid, as deep copies that outlive the
 * message buffer they were decoded from. A new Relation message for a known
 * relid replaces (and frees) the old entry and says whether the column list
 * changed, which is how a schema change on the source is noticed.
 */
#ifndef PGSHIFT_CDC_RELCACHE_H
#define PGSHIFT_CDC_RELCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/pgoutput.h"

struct pgo_relcache;

struct pgo_relcache *pgo_relcache_new(void);
void pgo_relcache_free(struct pgo_relcache *rc);

/*
 * Stores a deep copy of rel and returns it (owned by the cache, valid until
 * the next put for the same relid or pgo_relcache_free). When changed is not
 * NULL it is set to true if an entry for the relid existed and differs from
 * rel in its name, replica identity or columns (see
 * pgo_relation_columns_equal), false otherwise.
 */
const struct pgo_relation *pgo_relcache_put(struct pgo_relcache *rc,
											const struct pgo_relation *rel, bool *changed);

/* The entry for relid, or NULL when no Relation message was seen for it. */
const struct pgo_relation *pgo_relcache_get(const struct pgo_relcache *rc, uint32_t relid);

size_t pgo_relcache_count(const struct pgo_relcache *rc);

/* Same columns in the same order: names, type oids, typmods, key flags. */
bool pgo_relation_columns_equal(const struct pgo_relation *a, const struct pgo_relation *b);

#endif
