/*
 * Relation cache: an open-addressing hash table of relid -> deep copy of a
 * Relation message. Tables number in the thousands at most and lookups
 * happen once per change, so linear probing at a load factor of at most 1/2
 * is plenty; entries are never removed one by one (PostgreSQL only replaces
 * them), which keeps probing free of tombstones.
 */
#include <stdlib.h>
#include <string.h>

#include "cdc/relcache.h"
#include "util/xalloc.h"

/* A copy of a Relation message; every string lives in one block. */
struct entry {
	struct pgo_relation rel;
	char *strings;              /* owned: nspname, relname, column names */
};

struct pgo_relcache {
	struct entry **slots;       /* owned, cap entries, NULL when free */
	size_t cap;                 /* a power of two */
	size_t count;
};

static size_t
slot_of(const struct pgo_relcache *rc, uint32_t relid)
{
	/* Fibonacci hashing spreads the consecutive oids tables tend to get */
	return (size_t) ((relid * UINT32_C(2654435761)) & (rc->cap - 1));
}

static size_t
find_slot(const struct pgo_relcache *rc, uint32_t relid)
{
	size_t i = slot_of(rc, relid);

	while (rc->slots[i] && rc->slots[i]->rel.relid != relid)
		i = (i + 1) & (rc->cap - 1);
	return i;
}

struct pgo_relcache *
pgo_relcache_new(void)
{
	struct pgo_relcache *rc = xcalloc(1, sizeof(*rc));

	rc->cap = 64;
	rc->slots = xcalloc(rc->cap, sizeof(*rc->slots));
	return rc;
}

static void
entry_free(struct entry *e)
{
	if (e == NULL)
		return;
	free(e->rel.cols);
	free(e->strings);
	free(e);
}

void
pgo_relcache_free(struct pgo_relcache *rc)
{
	if (rc == NULL)
		return;
	for (size_t i = 0; i < rc->cap; i++)
		entry_free(rc->slots[i]);
	free(rc->slots);
	free(rc);
}

/* Appends s with its NUL at *at in block and returns where it went. */
static const char *
put_string(char *block, size_t *at, const char *s)
{
	size_t n = strlen(s) + 1;
	char *dst = block + *at;

	memcpy(dst, s, n);
	*at += n;
	return dst;
}

static struct entry *
entry_copy(const struct pgo_relation *rel)
{
	struct entry *e = xcalloc(1, sizeof(*e));
	size_t size = strlen(rel->nspname) + strlen(rel->relname) + 2;
	size_t at = 0;

	for (uint16_t i = 0; i < rel->ncols; i++)
		size += strlen(rel->cols[i].name) + 1;
	e->strings = xmalloc(size);
	e->rel = *rel;
	e->rel.nspname = put_string(e->strings, &at, rel->nspname);
	e->rel.relname = put_string(e->strings, &at, rel->relname);
	e->rel.cols = rel->ncols ? xcalloc(rel->ncols, sizeof(*e->rel.cols)) : NULL;
	for (uint16_t i = 0; i < rel->ncols; i++) {
		e->rel.cols[i] = rel->cols[i];
		e->rel.cols[i].name = put_string(e->strings, &at, rel->cols[i].name);
	}
	return e;
}

static void
grow(struct pgo_relcache *rc)
{
	struct entry **old = rc->slots;
	size_t oldcap = rc->cap;

	rc->cap *= 2;
	rc->slots = xcalloc(rc->cap, sizeof(*rc->slots));
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i])
			rc->slots[find_slot(rc, old[i]->rel.relid)] = old[i];
	}
	free(old);
}

bool
pgo_relation_columns_equal(const struct pgo_relation *a, const struct pgo_relation *b)
{
	if (a->ncols != b->ncols)
		return false;
	for (uint16_t i = 0; i < a->ncols; i++) {
		const struct pgo_column *x = &a->cols[i], *y = &b->cols[i];

		if (x->flags != y->flags || x->type_oid != y->type_oid || x->typmod != y->typmod ||
			strcmp(x->name, y->name) != 0)
			return false;
	}
	return true;
}

static bool
relation_differs(const struct pgo_relation *a, const struct pgo_relation *b)
{
	return strcmp(a->nspname, b->nspname) != 0 || strcmp(a->relname, b->relname) != 0 ||
		a->replident != b->replident || !pgo_relation_columns_equal(a, b);
}

const struct pgo_relation *
pgo_relcache_put(struct pgo_relcache *rc, const struct pgo_relation *rel, bool *changed)
{
	struct entry *copy;
	size_t i;

	if ((rc->count + 1) * 2 > rc->cap)
		grow(rc);
	i = find_slot(rc, rel->relid);
	if (changed)
		*changed = rc->slots[i] && relation_differs(&rc->slots[i]->rel, rel);
	if (rc->slots[i] == NULL)
		rc->count++;
	/* copy before freeing: rel may be the very entry being replaced */
	copy = entry_copy(rel);
	entry_free(rc->slots[i]);
	rc->slots[i] = copy;
	return &rc->slots[i]->rel;
}

const struct pgo_relation *
pgo_relcache_get(const struct pgo_relcache *rc, uint32_t relid)
{
	struct entry *e = rc->slots[find_slot(rc, relid)];

	return e ? &e->rel : NULL;
}

size_t
pgo_relcache_count(const struct pgo_relcache *rc)
{
	return rc->count;
}
