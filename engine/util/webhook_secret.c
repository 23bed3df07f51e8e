/* See webhook_secret.h. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "util/webhook_secret.h"
#include "util/xalloc.h"

#define WHSEC_PREFIX "whsec_"

/* Decodes base64 text (padding required, as the spec's secrets have it). */
static bool
base64_decode(const char *text, unsigned char **out, size_t *outlen)
{
	size_t len = strlen(text);
	unsigned char *bin;
	int n;

	if (len == 0 || len % 4 != 0)
		return false;
	bin = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(bin, (const unsigned char *) text, (int) len);
	if (n < 0) {
		free(bin);
		return false;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes: take them off */
	for (size_t k = len; k > 0 && text[k - 1] == '='; k--)
		n--;
	*out = bin;
	*outlen = (size_t) n;
	return true;
}

bool
webhook_secret_key(const char *secret, unsigned char **key, size_t *keylen, struct pgs_error *err)
{
	if (strncmp(secret, WHSEC_PREFIX, strlen(WHSEC_PREFIX)) != 0) {
		*keylen = strlen(secret);
		*key = xmalloc(*keylen + 1);
		memcpy(*key, secret, *keylen + 1);
		return true;
	}
	if (!base64_decode(secret + strlen(WHSEC_PREFIX), key, keylen))
		return pgs_fail(err, "a webhook secret starting with whsec_ must continue in base64");
	return true;
}


bool
webhook_secret_check(const char *secret, const char **why)
{
	struct pgs_error err;
	unsigned char *key = NULL;
	size_t keylen;
	bool ok = webhook_secret_key(secret, &key, &keylen, &err);

	free(key);
	*why = ok ? NULL : "a secret starting with whsec_ must continue in base64";
	return ok;
}

