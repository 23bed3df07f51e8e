/*
 * Near-miss suggestions by Damerau-Levenshtein (optimal string alignment)
 * distance, case-insensitive, so "tabel_jobs" and "Table_Jobs" both find
 * table_jobs. The limit grows with the word so short keys do not match
 * everything.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "plan/suggest.h"
#include "util/xalloc.h"

static size_t
min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *d = xmalloc((la + 1) * (lb + 1) * sizeof(size_t));
	size_t result;

#define D(i, j) d[(i) * (lb + 1) + (j)]
	for (size_t i = 0; i <= la; i++)
		D(i, 0) = i;
	for (size_t j = 0; j <= lb; j++)
		D(0, j) = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char) a[i - 1]), cb = tolower((unsigned char) b[j - 1]);
			size_t cost = ca == cb ? 0 : 1;

			D(i, j) = min3(D(i - 1, j) + 1, D(i, j - 1) + 1, D(i - 1, j - 1) + cost);
			if (i > 1 && j > 1 && ca == tolower((unsigned char) b[j - 2]) &&
				tolower((unsigned char) a[i - 2]) == cb && D(i - 2, j - 2) + 1 < D(i, j))
				D(i, j) = D(i - 2, j - 2) + 1;
		}
	}
	result = D(la, lb);
#undef D
	free(d);
	return result;
}

const char *
suggest_word(const char *word, const char *const *candidates, size_t n)
{
	size_t limit = strlen(word) <= 4 ? 1 : strlen(word) <= 8 ? 2 : 3;
	const char *best = NULL;
	size_t best_d = limit + 1;

	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(word, candidates[i]);

		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	return best;
}
