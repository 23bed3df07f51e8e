/*
 * The catalog's string pool: copies are equal and separate, interned equal
 * strings are one copy, strings longer than a block and many more strings
 * than the first hash table holds all stay intact until strpool_free.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strpool.h"
#include "util/xalloc.h"
#include "tap.h"

static void
test_copy_and_intern(void)
{
	struct strpool p;
	char *a, *b, *c, *d;

	strpool_init(&p);
	a = strpool_copy(&p, "public");
	b = strpool_copy(&p, "public");
	is_str(a, "public", "a copy equals the string");
	ok(a != b, "two copies are two strings");
	c = strpool_intern(&p, "public");
	d = strpool_intern(&p, "public");
	ok(c == d, "an interned string is shared");
	ok(c != a && c != b, "interning does not hand out a plain copy");
	ok(strpool_intern(&p, "publi") != c && strpool_intern(&p, "") != c,
	   "a prefix or the empty string is another string");
	is_str(strpool_intern(&p, ""), "", "the empty string interned");
	strpool_free(&p);
	ok(p.blocks == NULL && p.slots == NULL, "freed: nothing left");
}

/* 200,000 strings (the table grows many times, blocks fill) and one of 200 kB. */
static void
test_many_and_long(void)
{
	enum { N = 200000 };
	struct strpool p;
	char **got = xcalloc(N, sizeof(char *));
	char *big = xmalloc(200001), *bigcopy = NULL, name[32];
	size_t bad = 0, shared = 0;

	strpool_init(&p);
	memset(big, 'x', 200000);
	big[200000] = '\0';
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		got[i] = strpool_intern(&p, name);
		if (i == N / 2)
			bigcopy = strpool_copy(&p, big);
	}
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		bad += strcmp(got[i], name) != 0;
		shared += strpool_intern(&p, name) == got[i];
	}
	is_int(bad, 0, "200,000 interned strings intact");
	is_int(shared, N, "each found again as the same copy");
	is_int(p.used, N, "no string interned twice");
	ok(bigcopy && strcmp(bigcopy, big) == 0, "a string longer than a block intact");
	strpool_free(&p);
	free(got);
	free(big);
}

int
main(void)
{
	test_copy_and_intern();
	test_many_and_long();
	return done_testing();
}
