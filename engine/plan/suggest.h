/* "did you mean ...": the closest known word to a mistyped one. */
#ifndef PGSHIFT_PLAN_SUGGEST_H
#define PGSHIFT_PLAN_SUGGEST_H

#include <stddef.h>

/* Returns the candidate within a small edit distance of word, or NULL. */
const char *suggest_word(const char *word, const char *const *candidates, size_t n);

#endif
