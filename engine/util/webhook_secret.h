/*
 * A webhook's signing secret as the plan gives it: "whsec_" + base64 (the
 * Standard Webhooks form) or the key's bytes themselves. Shared by the
 * plan checker and the notifier, which signs with the decoded key.
 */
#ifndef PGSHIFT_UTIL_WEBHOOK_SECRET_H
#define PGSHIFT_UTIL_WEBHOOK_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

/* The key bytes of secret, malloc'd into *key; false (err filled) for a bad whsec_. */
bool webhook_secret_key(const char *secret, unsigned char **key, size_t *keylen,
						struct pgs_error *err);

/* Whether secret decodes; *why says what is wrong when not. */
bool webhook_secret_check(const char *secret, const char **why);

#endif
