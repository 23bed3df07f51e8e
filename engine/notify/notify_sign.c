/*
 * Standard Webhooks signing (https://www.standardwebhooks.com): the
 * receiver recomputes HMAC-SHA256 over "id.timestamp.body" with the shared
 * key and compares; the id lets it drop a retried delivery it already has.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "notify/notify_int.h"
#include "util/rng.h"
#include "util/xalloc.h"

bool
webhook_sign(const unsigned char *key, size_t keylen, const char *id, long long timestamp,
			 const char *body, size_t bodylen, char *out, size_t size)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	struct buf content;
	bool ok;

	/* "v1," + base64 of a SHA-256 (44 characters) + NUL */
	if (size < 3 + 44 + 1)
		return false;
	buf_init(&content);
	buf_printf(&content, "%s.%lld.", id, timestamp);
	buf_append(&content, body, bodylen);
	ok = HMAC(EVP_sha256(), key, (int) keylen, (const unsigned char *) content.data, content.len,
			  mac, &maclen) != NULL;
	buf_free(&content);
	if (!ok || maclen != 32)
		return false;
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *) out + 3, mac, (int) maclen);
	return true;
}

void
webhook_new_id(char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[16];
	char text[2 * sizeof(rnd) + 1];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		/* the id only has to be unique per event, not secret */
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char) rng_next();
	}
	for (size_t i = 0; i < sizeof(rnd); i++) {
		text[2 * i] = hex[rnd[i] >> 4];
		text[2 * i + 1] = hex[rnd[i] & 15];
	}
	text[sizeof(text) - 1] = '\0';
	snprintf(out, size, "msg_%s", text);
}
