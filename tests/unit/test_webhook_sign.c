/*
 * Notification payloads: Standard Webhooks signing against the
 * specification's own test vector, Slack escaping and its 3,000-character
 * section limit, and the JSON shape of both kinds.
 */
#include <stdlib.h>
#include <string.h>

#include "notify/notify.h"
#include "notify/notify_int.h"
#include "util/webhook_secret.h"
#include "util/webhook_url.h"
#include "tap.h"

static void
test_spec_vector(void)
{
	const char *body = "{\"test\": 2432232314}";
	unsigned char *key = NULL;
	size_t keylen = 0;
	struct pgs_error err;
	char sig[128] = "";

	ok(webhook_secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &key, &keylen, &err),
	   "whsec_ secret decodes");
	is_int(keylen, 24, "the decoded key is 24 bytes");
	ok(webhook_sign(key, keylen, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body),
					sig, sizeof(sig)), "signing succeeds");
	is_str(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		   "the Standard Webhooks test vector");
	free(key);
}

static void
test_keys(void)
{
	unsigned char *key = NULL;
	size_t keylen = 0;
	struct pgs_error err;
	const char *why;

	ok(webhook_secret_key("plain-secret", &key, &keylen, &err), "a plain secret is a key");
	ok(keylen == 12 && memcmp(key, "plain-secret", 12) == 0, "used as its raw bytes");
	free(key);
	ok(!webhook_secret_key("whsec_not*base64", &key, &keylen, &err), "whsec_ with bad base64 fails");
	ok(strstr(err.message, "base64") != NULL, "and says base64");
	ok(!webhook_secret_check("whsec_abc", &why), "validate refuses a whsec_ of bad length");
	ok(webhook_secret_check("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &why), "and takes a good one");
}

static void
test_ids(void)
{
	char a[48], b[48];

	webhook_new_id(a, sizeof(a));
	webhook_new_id(b, sizeof(b));
	ok(strncmp(a, "msg_", 4) == 0 && strlen(a) == 36, "ids are msg_ + 32 hex digits");
	ok(strcmp(a, b) != 0, "two ids differ");
}

struct esc_case {
	const char *in;
	size_t max;
	const char *want;
};

static void
test_slack_escape(void)
{
	static const struct esc_case cases[] = {
		{"a & b <c> d", 100, "a &amp; b &lt;c&gt; d"},
		{"plain", 100, "plain"},
		{"abcdefghij", 8, "abcde\xe2\x80\xa6"},
		/* the cut would split "&amp;": it goes before the '&' */
		{"abc&def", 8, "abc\xe2\x80\xa6"},
		/* "é" is two bytes: never cut in the middle */
		{"abcd\xc3\xa9xyz", 8, "abcd\xe2\x80\xa6"},
		{"abc\xc3\xa9xyzuv", 8, "abc\xc3\xa9\xe2\x80\xa6"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		char name[128];

		buf_init(&b);
		slack_escape(&b, cases[i].in, cases[i].max);
		snprintf(name, sizeof(name), "slack_escape case %zu (%s, max %zu)", i + 1, cases[i].in,
				 cases[i].max);
		is_str(b.data, cases[i].want, name);
		ok(b.len <= cases[i].max, "  stays within the limit");
		buf_free(&b);
	}
}

/* The longest "text" value of the blocks, as bytes after JSON unescaping is close enough. */
static size_t
longest_section(const char *json)
{
	size_t longest = 0;

	for (const char *p = strstr(json, "\"mrkdwn\",\"text\":\""); p;
		 p = strstr(p + 1, "\"mrkdwn\",\"text\":\"")) {
		const char *s = p + strlen("\"mrkdwn\",\"text\":\""), *e = s;

		while (*e && !(*e == '"' && e[-1] != '\\'))
			e++;
		if ((size_t) (e - s) > longest)
			longest = (size_t) (e - s);
	}
	return longest;
}

static void
test_slack_payload(void)
{
	struct event ev = event_init("copy.failed", "prod<1>", "r1", "copy:public.t");
	char *huge = malloc(10001);
	struct buf b;

	memset(huge, '<', 10000);
	huge[10000] = '\0';
	ev.error = huge;
	ev.duration = 12.5;
	ev.rows = 42;
	buf_init(&b);
	slack_payload(&b, &ev);
	ok(strncmp(b.data, "{\"text\":\"pgshift prod&lt;1&gt;: copy.failed (copy:public.t): &lt;", 65) == 0,
	   "text: plan, event, step and error, escaped");
	ok(strstr(b.data, "\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"text\":\"*copy.failed*") != NULL,
	   "blocks: a mrkdwn section led by the event");
	ok(strstr(b.data, "*duration:* 12.5 s") && strstr(b.data, "*rows:* 42"), "duration and rows shown");
	ok(strstr(b.data, "*error:* &lt;&lt;") != NULL, "the error has its own section, escaped");
	ok(longest_section(b.data) <= SLACK_SECTION_MAX, "every section stays under 3,000 characters");
	ok(strstr(b.data, "\xe2\x80\xa6\"}}]}") != NULL, "the cut error ends with an ellipsis");
	ok(strchr(strstr(b.data, "\"blocks\""), '<') == NULL, "no raw < anywhere in the blocks");
	buf_free(&b);
	free(huge);
}

static void
test_webhook_payload(void)
{
	struct event ev = event_init("copy.table.finished", "prod", "run-7", "copy:public.t#2/2");
	struct buf b;

	ev.at = 1614265330.25;
	ev.duration = 3.5;
	ev.table = "public.t";
	ev.rows = 1000;
	ev.bytes = 65536;
	buf_init(&b);
	webhook_payload(&b, &ev);
	is_str(b.data, "{\"event\":\"copy.table.finished\",\"plan\":\"prod\",\"run_id\":\"run-7\","
		   "\"step\":\"copy:public.t#2/2\",\"at\":\"2021-02-25T15:02:10.250Z\","
		   "\"data\":{\"duration_s\":3.500,\"table\":\"public.t\",\"rows\":1000,\"bytes\":65536}}",
		   "webhook body: the DESIGN.md shape, data with what applies");
	buf_reset(&b);
	ev = event_init("run.started", "p\"q", "r", NULL);
	ev.at = 0;
	webhook_payload(&b, &ev);
	is_str(b.data, "{\"event\":\"run.started\",\"plan\":\"p\\\"q\",\"run_id\":\"r\",\"step\":null,"
		   "\"at\":\"1970-01-01T00:00:00.000Z\",\"data\":{}}", "run.*: step null, data empty, strings escaped");
	buf_reset(&b);
	ev = event_init("cdc.lag", "p", "r", "cdc.catchup");
	ev.lag_bytes = 10;
	ev.lag_seconds = 1.5;
	ev.lsn = "0/16B3748";
	webhook_payload(&b, &ev);
	ok(strstr(b.data, "\"data\":{\"lsn\":\"0/16B3748\",\"lag_bytes\":10,\"lag_seconds\":1.500}") != NULL,
	   "cdc.lag carries the LSN and both lags");
	buf_free(&b);
}

static void
test_urls(void)
{
	char origin[256];
	const char *why;

	webhook_url_origin("https://hooks.slack.com/services/T000/B000/XXXXSECRET", origin, sizeof(origin));
	is_str(origin, "https://hooks.slack.com", "logs show a Slack URL as scheme and host only");
	webhook_url_origin("http://127.0.0.1:8080/hook?token=abc", origin, sizeof(origin));
	is_str(origin, "http://127.0.0.1:8080", "with the port when there is one");
	ok(webhook_url_check("https://example.com/x", &why), "an https URL is fine");
	ok(!webhook_url_check("http://", &why), "a URL without host is not");
	ok(!webhook_url_check("ftp://example.com/", &why) && strstr(why, "http"), "nor ftp");
	ok(!webhook_url_check("https://exa mple.com/", &why), "nor one curl cannot parse");
}

int
main(void)
{
	test_spec_vector();
	test_keys();
	test_ids();
	test_slack_escape();
	test_slack_payload();
	test_webhook_payload();
	test_urls();
	return done_testing();
}
