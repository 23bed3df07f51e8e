/*
 * One HTTP delivery of a notification and the retry policy around it:
 * 2xx is done; 5xx, 429 and network errors are worth another attempt (the
 * server's Retry-After first, else exponential backoff with jitter, so
 * many pgshift runs do not retry in step); any other answer will not change
 * by asking again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify/notify_int.h"
#include "util/rng.h"
#include "version.h"

#define CONNECT_TIMEOUT_MS 5000L
#define BACKOFF_BASE_MS 500L
#define BACKOFF_MAX_MS 8000L

static size_t
discard_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void) ptr;
	(void) userdata;
	return size * nmemb;
}

static struct curl_slist *
add_header(struct curl_slist *list, const char *name, const char *value)
{
	char line[512];

	snprintf(line, sizeof(line), "%s: %s", name, value);
	return curl_slist_append(list, line);
}

/* The headers of one attempt; signed afresh, since the timestamp is the attempt's. */
static struct curl_slist *
attempt_headers(const struct http_target *t, const struct notify_msg *msg)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char ts[32], sig[128];
	long long now = (long long) time(NULL);

	h = curl_slist_append(h, "User-Agent: pgshift/" PGSHIFT_VERSION);
	/* no "Expect: 100-continue" round trip for small bodies */
	h = curl_slist_append(h, "Expect:");
	if (!t->webhook)
		return h;
	h = add_header(h, "X-Pgshift-Event", msg->event);
	if (!t->key)
		return h;
	snprintf(ts, sizeof(ts), "%lld", now);
	if (!webhook_sign(t->key, t->keylen, msg->id, now, msg->body, msg->bodylen, sig, sizeof(sig)))
		return h;
	h = add_header(h, "webhook-id", msg->id);
	h = add_header(h, "webhook-timestamp", ts);
	return add_header(h, "webhook-signature", sig);
}

static void
set_options(struct http_target *t, const struct notify_msg *msg, struct curl_slist *headers,
			long timeout_ms, char *errbuf)
{
	CURL *c = t->curl;

	curl_easy_reset(c);
	/* worker threads must not get SIGALRM from the resolver's timeouts */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_URL, t->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
					 timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, msg->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) msg->bodylen);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
}

/* What an HTTP status means for this delivery. */
static enum attempt_result
judge_status(CURL *c, long status, long *retry_after_s, struct pgs_error *err)
{
	curl_off_t after = -1;

	if (status >= 200 && status < 300)
		return ATTEMPT_OK;
	pgs_fail(err, "the endpoint answered HTTP %ld", status);
	if (status != 429 && status < 500)
		return ATTEMPT_GIVE_UP;
	if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
		*retry_after_s = (long) after;
	return ATTEMPT_RETRY;
}

enum attempt_result
http_attempt(struct http_target *t, const struct notify_msg *msg, long timeout_ms,
			 long *retry_after_s, struct pgs_error *err)
{
	struct curl_slist *headers = attempt_headers(t, msg);
	char errbuf[CURL_ERROR_SIZE] = "";
	enum attempt_result r;
	long status = 0;
	CURLcode rc;

	*retry_after_s = -1;
	set_options(t, msg, headers, timeout_ms, errbuf);
	rc = curl_easy_perform(t->curl);
	if (rc == CURLE_OK && curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
		r = judge_status(t->curl, status, retry_after_s, err);
	else {
		/* curl's messages name host and port, never the path that holds tokens */
		pgs_fail(err, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		r = rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ? ATTEMPT_GIVE_UP
			: ATTEMPT_RETRY_NETWORK;
	}
	curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	return r;
}

long
backoff_ms(int n)
{
	long full = BACKOFF_BASE_MS;

	for (int i = 1; i < n && full < BACKOFF_MAX_MS; i++)
		full *= 2;
	if (full > BACKOFF_MAX_MS)
		full = BACKOFF_MAX_MS;
	/* "equal jitter": at least half the step, so retries still back off */
	return rng_between(full / 2, full);
}
