/*
 * Inside notify: the payload builders (pure, unit-tested), Standard
 * Webhooks signing, and one HTTP delivery with its retry policy.
 */
#ifndef PGSHIFT_NOTIFY_NOTIFY_INT_H
#define PGSHIFT_NOTIFY_NOTIFY_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "events/events.h"
#include "util/buf.h"
#include "util/error.h"

/* Slack refuses a section text longer than this many characters. */
#define SLACK_SECTION_MAX 3000

/*
 * Appends s escaped for Slack mrkdwn (& < > as entities) to b, keeping what
 * it appends at most max bytes (so at most max characters): when s does not
 * fit, it is cut at a character boundary, never inside an entity, and ends
 * with an ellipsis.
 */
void slack_escape(struct buf *b, const char *s, size_t max);

/* The Slack message of ev: {"text": ..., "blocks": [...]}. */
void slack_payload(struct buf *b, const struct event *ev);

/* The webhook body of DESIGN.md §5: {"event","plan","run_id","step","at","data":{...}}. */
void webhook_payload(struct buf *b, const struct event *ev);

/* "2024-05-01T12:00:00.123Z" for unix seconds at. */
void format_iso8601(double at, char *out, size_t size);

/*
 * The Standard Webhooks signature header value "v1,BASE64" of
 * id.timestamp.body under key. out holds at least 64 bytes.
 */
bool webhook_sign(const unsigned char *key, size_t keylen, const char *id, long long timestamp,
				  const char *body, size_t bodylen, char *out, size_t size);

/* A new message id "msg_" + 32 hex digits (random). */
void webhook_new_id(char *out, size_t size);

/* One request to send, with what retries need to keep. */
struct notify_msg {
	char *event;                /* owned; event name, for X-Pgshift-Event */
	char *body;                 /* owned; JSON */
	size_t bodylen;
	char id[48];                /* webhook-id, the same on every attempt */
};

/*
 * How an attempt ended, and what the retry policy makes of it. A network
 * error is told apart: once the run is over nobody waits on an endpoint
 * that cannot even be reached.
 */
enum attempt_result { ATTEMPT_OK, ATTEMPT_RETRY, ATTEMPT_RETRY_NETWORK, ATTEMPT_GIVE_UP };

struct http_target {
	CURL *curl;                 /* owned by the target's worker thread only */
	const char *url;
	const unsigned char *key;   /* NULL: unsigned (slack, or a webhook without secret) */
	size_t keylen;
	bool webhook;               /* X-Pgshift-Event and signing apply */
};

/*
 * One POST of msg. timeout_ms bounds the whole attempt. On RETRY,
 * *retry_after_s is the server's Retry-After (seconds) or -1; err says what
 * went wrong for anything but OK.
 */
enum attempt_result http_attempt(struct http_target *t, const struct notify_msg *msg,
								 long timeout_ms, long *retry_after_s, struct pgs_error *err);

/* The pause before retry number n (1-based): exponential with jitter, in ms. */
long backoff_ms(int n);

#endif
