/*
 * The verify report: entries, their status, and printing it as text (one
 * line per entry, then a summary naming each difference) or as JSON.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "util/xalloc.h"
#include "verify/verify.h"

static const char *const status_names[] = {"PASS", "WARN", "FAIL"};

static void
entry_init(struct verify_entry *e, const char *kind, const char *schema, const char *name)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->name = schema ? xasprintf("%s.%s", schema, name) : xstrdup(name);
	buf_init(&e->notes);
	e->src_rows = e->dst_rows = -1;
}

void
verify_report_init(struct verify_report *r, const struct catalog *cat, enum verify_level level)
{
	memset(r, 0, sizeof(*r));
	r->level = level;
	r->src_side = "source";
	r->dst_side = "target";
	pthread_mutex_init(&r->lock, NULL);
	for (size_t t = 0; t < cat->ntables; t++)
		verify_report_add(r, "table", cat->tables[t].schema, cat->tables[t].name);
}

size_t
verify_report_add(struct verify_report *r, const char *kind, const char *schema, const char *name)
{
	pthread_mutex_lock(&r->lock);
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->entries = xrealloc(r->entries, r->cap * sizeof(*r->entries));
	}
	entry_init(&r->entries[r->n], kind, schema, name);
	r->n++;
	pthread_mutex_unlock(&r->lock);
	return r->n - 1;
}

void
verify_report_free(struct verify_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->entries[i].name);
		buf_free(&r->entries[i].notes);
	}
	free(r->entries);
	pthread_mutex_destroy(&r->lock);
}

void
verify_note(struct verify_report *r, size_t i, enum verify_status status, const char *fmt, ...)
{
	struct verify_entry *e = &r->entries[i];
	va_list ap;

	pthread_mutex_lock(&r->lock);
	if (status > e->status)
		e->status = status;
	if (e->notes.len)
		buf_puts(&e->notes, "; ");
	va_start(ap, fmt);
	buf_vprintf(&e->notes, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&r->lock);
}

size_t
verify_count_status(const struct verify_report *r, enum verify_status s)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->entries[i].status == s;
	return n;
}

static void
print_entry(const struct verify_entry *e, struct buf *out)
{
	buf_printf(out, "%s  %s %s", status_names[e->status], e->kind, e->name);
	if (e->src_rows >= 0)
		buf_printf(out, "  rows %lld", e->src_rows);
	if (e->notes.len)
		buf_printf(out, ": %s", e->notes.data);
	buf_putc(out, '\n');
}

void
verify_print_text(const struct verify_report *r, const char *plan_name, struct buf *out)
{
	buf_printf(out, "verify %s of plan %s\n", verify_level_name(r->level), plan_name);
	for (size_t i = 0; i < r->n; i++)
		print_entry(&r->entries[i], out);
	buf_printf(out, "summary: %zu PASS, %zu WARN, %zu FAIL\n", verify_count_status(r, VS_PASS),
			   verify_count_status(r, VS_WARN), verify_count_status(r, VS_FAIL));
	for (size_t i = 0; i < r->n; i++) {
		const struct verify_entry *e = &r->entries[i];

		if (e->status != VS_PASS)
			buf_printf(out, "  %s %s %s: %s\n", status_names[e->status], e->kind, e->name,
					   e->notes.data);
	}
	buf_puts(out, verify_count_status(r, VS_FAIL) ? "result: DIFFERENT\n" : "result: IDENTICAL\n");
}

static void
json_entry(const struct verify_entry *e, struct buf *out)
{
	buf_puts(out, "{\"kind\":");
	json_put_string(out, e->kind);
	buf_puts(out, ",\"name\":");
	json_put_string(out, e->name);
	buf_printf(out, ",\"status\":\"%s\"", status_names[e->status]);
	if (e->src_rows >= 0)
		buf_printf(out, ",\"source_rows\":%lld,\"target_rows\":%lld", e->src_rows, e->dst_rows);
	buf_puts(out, ",\"differences\":");
	json_put_string(out, e->notes.len ? e->notes.data : "");
	buf_putc(out, '}');
}

void
verify_print_json(const struct verify_report *r, const char *plan_name, struct buf *out)
{
	buf_puts(out, "{\"plan\":");
	json_put_string(out, plan_name);
	buf_printf(out, ",\"level\":\"%s\",\"identical\":%s,\"pass\":%zu,\"warn\":%zu,\"fail\":%zu,"
			   "\"entries\":[", verify_level_name(r->level),
			   verify_count_status(r, VS_FAIL) ? "false" : "true", verify_count_status(r, VS_PASS),
			   verify_count_status(r, VS_WARN), verify_count_status(r, VS_FAIL));
	for (size_t i = 0; i < r->n; i++) {
		if (i)
			buf_putc(out, ',');
		json_entry(&r->entries[i], out);
	}
	buf_puts(out, "]}\n");
}

void
verify_failures(const struct verify_report *r, struct buf *out)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct verify_entry *e = &r->entries[i];

		if (e->status == VS_FAIL)
			buf_printf(out, "%s%s %s: %s", out->len ? "; " : "", e->kind, e->name, e->notes.data);
	}
}
