/*
 * Blocks of 64 kB (a longer string gets a block of its own), filled front to
 * back; interned strings are found again through a hash table of pointers
 * into the blocks (FNV-1a, linear probing, kept at most half full).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/strpool.h"
#include "util/xalloc.h"

#define BLOCK_BYTES (64 * 1024)

struct strpool_block {
	struct strpool_block *next;
	size_t used, size;
	char data[];
};

void
strpool_init(struct strpool *p)
{
	memset(p, 0, sizeof(*p));
}

static char *
room(struct strpool *p, size_t n)
{
	struct strpool_block *b = p->blocks;

	if (!b || b->size - b->used < n) {
		size_t size = n > BLOCK_BYTES ? n : BLOCK_BYTES;

		b = xmalloc(sizeof(*b) + size);
		b->used = 0;
		b->size = size;
		/* a block of its own is not the one to fill next */
		if (p->blocks && size == n) {
			b->next = p->blocks->next;
			p->blocks->next = b;
		} else {
			b->next = p->blocks;
			p->blocks = b;
		}
	}
	b->used += n;
	return b->data + b->used - n;
}

char *
strpool_copy(struct strpool *p, const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(room(p, n), s, n);
}

static uint64_t
hash(const char *s)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * UINT64_C(1099511628211);
	return h;
}

static void
grow(struct strpool *p)
{
	size_t n = p->nslots ? p->nslots * 2 : 1024;
	char **slots = xcalloc(n, sizeof(char *));

	for (size_t i = 0; i < p->nslots; i++) {
		size_t k;

		if (!p->slots[i])
			continue;
		for (k = hash(p->slots[i]) & (n - 1); slots[k]; k = (k + 1) & (n - 1))
			;
		slots[k] = p->slots[i];
	}
	free(p->slots);
	p->slots = slots;
	p->nslots = n;
}

char *
strpool_intern(struct strpool *p, const char *s)
{
	size_t k;

	if (2 * (p->used + 1) > p->nslots)
		grow(p);
	for (k = hash(s) & (p->nslots - 1); p->slots[k]; k = (k + 1) & (p->nslots - 1))
		if (strcmp(p->slots[k], s) == 0)
			return p->slots[k];
	p->used++;
	return p->slots[k] = strpool_copy(p, s);
}

void
strpool_free(struct strpool *p)
{
	while (p->blocks) {
		struct strpool_block *next = p->blocks->next;

		free(p->blocks);
		p->blocks = next;
	}
	free(p->slots);
	memset(p, 0, sizeof(*p));
}
