/*
 * What notifications say: the Slack message and the webhook body of one
 * event. Pure functions of the event, so the unit tests pin their shape.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "notify/notify_int.h"
#include "util/json.h"
#include "util/units.h"
#include "util/utf8.h"

#define ELLIPSIS "\xe2\x80\xa6"     /* U+2026, 3 bytes, one character */

void
format_iso8601(double at, char *out, size_t size)
{
	time_t secs = (time_t) at;
	int ms = (int) ((at - (double) secs) * 1000.0);
	struct tm tm;
	char date[32];

	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%s.%03dZ", date, ms < 0 ? 0 : ms > 999 ? 999 : ms);
}

/*
 * Cuts b to at most max bytes ending in an ellipsis: back over UTF-8
 * continuation bytes so no character is split, and before an '&' whose
 * entity the cut would split, so Slack never sees "&am".
 */
static void
truncate_safely(struct buf *b, size_t start, size_t max)
{
	size_t cut;

	if (b->len - start <= max)
		return;
	cut = start + utf8_cut(b->data + start, b->len - start, max > 3 ? max - 3 : 0);
	for (size_t k = cut; k > start && k + 5 > cut; k--)
		if (b->data[k - 1] == ';')
			break;
		else if (b->data[k - 1] == '&') {
			cut = k - 1;
			break;
		}
	b->len = cut;
	b->data[cut] = '\0';
	if (max >= 3)
		buf_puts(b, ELLIPSIS);
}

static void
escape_into(struct buf *b, const char *s)
{
	for (; s && *s; s++)
		switch (*s) {
		case '&': buf_puts(b, "&amp;"); break;
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		default: buf_putc(b, *s);
		}
}

void
slack_escape(struct buf *b, const char *s, size_t max)
{
	size_t start = b->len;

	escape_into(b, s);
	truncate_safely(b, start, max);
}

static bool
is_end_event(const char *name)
{
	size_t n = strlen(name);

	return (n > 9 && strcmp(name + n - 9, ".finished") == 0) ||
		(n > 7 && strcmp(name + n - 7, ".failed") == 0);
}

/* The facts of an event as "*label:* value" lines, values escaped. */
static void
slack_facts(struct buf *s, const struct event *ev)
{
	char size[32];

	if (ev->text) {
		buf_puts(s, "\n");
		escape_into(s, ev->text);
	}
	if (ev->step) {
		buf_puts(s, "\n*step:* ");
		escape_into(s, ev->step);
	}
	if (ev->table) {
		buf_puts(s, "\n*table:* ");
		escape_into(s, ev->table);
	}
	if (is_end_event(ev->name))
		buf_printf(s, "\n*duration:* %.1f s", ev->duration);
	if (ev->rows >= 0)
		buf_printf(s, "\n*rows:* %lld", (long long) ev->rows);
	if (ev->bytes >= 0) {
		format_size(ev->bytes, size, sizeof(size));
		buf_printf(s, "\n*bytes:* %s", size);
	}
	if (ev->lag_bytes >= 0 || ev->lag_seconds >= 0) {
		format_size(ev->lag_bytes > 0 ? ev->lag_bytes : 0, size, sizeof(size));
		buf_printf(s, "\n*lag:* %s, %.1f s", size, ev->lag_seconds > 0 ? ev->lag_seconds : 0);
	}
	if (ev->lsn) {
		buf_puts(s, "\n*applied LSN:* ");
		escape_into(s, ev->lsn);
	}
}

/* Appends {"type":"section","text":{"type":"mrkdwn","text":S}} with S cut to Slack's limit. */
static void
put_section(struct buf *b, struct buf *s)
{
	truncate_safely(s, 0, SLACK_SECTION_MAX);
	buf_puts(b, "{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"text\":");
	json_put_string(b, s->data);
	buf_puts(b, "}}");
}

void
slack_payload(struct buf *b, const struct event *ev)
{
	struct buf s;

	buf_init(&s);
	buf_puts(&s, "pgshift ");
	escape_into(&s, ev->plan);
	buf_puts(&s, ": ");
	escape_into(&s, ev->name);
	if (ev->step) {
		buf_puts(&s, " (");
		escape_into(&s, ev->step);
		buf_puts(&s, ")");
	}
	if (ev->error) {
		buf_puts(&s, ": ");
		escape_into(&s, ev->error);
	}
	truncate_safely(&s, 0, SLACK_SECTION_MAX);
	buf_puts(b, "{\"text\":");
	json_put_string(b, s.data);
	buf_reset(&s);
	buf_puts(&s, "*");
	escape_into(&s, ev->name);
	buf_puts(&s, "* \xc2\xb7 plan *");
	escape_into(&s, ev->plan);
	buf_puts(&s, "*");
	slack_facts(&s, ev);
	buf_puts(b, ",\"blocks\":[");
	put_section(b, &s);
	if (ev->error) {
		buf_reset(&s);
		buf_puts(&s, "*error:* ");
		escape_into(&s, ev->error);
		if (ev->error_detail) {
			buf_puts(&s, "\n*detail:* ");
			escape_into(&s, ev->error_detail);
		}
		buf_putc(b, ',');
		put_section(b, &s);
	}
	buf_puts(b, "]}");
	buf_free(&s);
}

static void
put_key(struct buf *b, bool *first, const char *key)
{
	if (!*first)
		buf_putc(b, ',');
	*first = false;
	json_put_string(b, key);
	buf_putc(b, ':');
}

static void
webhook_data(struct buf *b, const struct event *ev)
{
	bool first = true;

	buf_putc(b, '{');
	if (is_end_event(ev->name)) {
		put_key(b, &first, "duration_s");
		buf_printf(b, "%.3f", ev->duration);
	}
	if (ev->table) {
		put_key(b, &first, "table");
		json_put_string(b, ev->table);
	}
	if (ev->rows >= 0) {
		put_key(b, &first, "rows");
		buf_printf(b, "%lld", (long long) ev->rows);
	}
	if (ev->bytes >= 0) {
		put_key(b, &first, "bytes");
		buf_printf(b, "%lld", (long long) ev->bytes);
	}
	if (ev->lsn) {
		put_key(b, &first, "lsn");
		json_put_string(b, ev->lsn);
	}
	if (ev->lag_bytes >= 0) {
		put_key(b, &first, "lag_bytes");
		buf_printf(b, "%lld", (long long) ev->lag_bytes);
	}
	if (ev->receive_lag_bytes >= 0) {
		put_key(b, &first, "receive_lag_bytes");
		buf_printf(b, "%lld", (long long) ev->receive_lag_bytes);
	}
	if (ev->apply_lag_bytes >= 0) {
		put_key(b, &first, "apply_lag_bytes");
		buf_printf(b, "%lld", (long long) ev->apply_lag_bytes);
	}
	if (ev->lag_seconds >= 0) {
		put_key(b, &first, "lag_seconds");
		buf_printf(b, "%.3f", ev->lag_seconds);
	}
	if (ev->error) {
		put_key(b, &first, "error");
		json_put_string(b, ev->error);
	}
	if (ev->error_detail) {
		put_key(b, &first, "error_detail");
		json_put_string(b, ev->error_detail);
	}
	if (ev->text) {
		put_key(b, &first, "text");
		json_put_string(b, ev->text);
	}
	buf_putc(b, '}');
}

void
webhook_payload(struct buf *b, const struct event *ev)
{
	char at[40];

	format_iso8601(ev->at, at, sizeof(at));
	buf_puts(b, "{\"event\":");
	json_put_string(b, ev->name);
	buf_puts(b, ",\"plan\":");
	json_put_string(b, ev->plan);
	buf_puts(b, ",\"run_id\":");
	json_put_string(b, ev->run_id);
	buf_puts(b, ",\"step\":");
	json_put_string(b, ev->step);
	buf_puts(b, ",\"at\":");
	json_put_string(b, at);
	buf_puts(b, ",\"data\":");
	webhook_data(b, ev);
	buf_putc(b, '}');
}
