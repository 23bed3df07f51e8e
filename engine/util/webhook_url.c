/* See webhook_url.h. */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "util/webhook_url.h"

void
webhook_url_origin(const char *url, char *out, size_t size)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;

	snprintf(out, size, "(unparsable URL)");
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
			snprintf(out, size, "%s://%s:%s", scheme, host, port);
		else
			snprintf(out, size, "%s://%s", scheme, host);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}


bool
webhook_url_check(const char *url, const char **why)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	bool ok = false;

	*why = "not a URL curl can parse";
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK) {
		if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
			*why = "expected an http:// or https:// URL";
		else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0])
			*why = "the URL names no host";
		else
			ok = true;
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

