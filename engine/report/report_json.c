/*
 * The JSON form of a plan (format_version 1; shape documented in README.md).
 * Keys are only ever added, never renamed, so scripts and `apply --expect`
 * keep working across versions.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cdc/ddl_capture.h"
#include "report/report.h"
#include "util/json.h"
#include "util/redact.h"
#include "version.h"

/* Writes `"key":`, preceded by a comma unless it opens an object. */
static void
key(struct buf *b, const char *k)
{
	if (b->len > 0 && b->data[b->len - 1] != '{' && b->data[b->len - 1] != '[')
		buf_putc(b, ',');
	json_put_string(b, k);
	buf_putc(b, ':');
}

static void
kstr(struct buf *b, const char *k, const char *v)
{
	key(b, k);
	json_put_string(b, v);
}

static void
kint(struct buf *b, const char *k, int64_t v)
{
	key(b, k);
	buf_printf(b, "%" PRId64, v);
}

static void
kbool(struct buf *b, const char *k, bool v)
{
	key(b, k);
	buf_puts(b, v ? "true" : "false");
}

static void
put_plan(struct buf *b, const struct plan *p)
{
	char *src = redact_conninfo(p->source_uri);
	char *dst = redact_conninfo(p->target_uri);

	key(b, "plan");
	buf_putc(b, '{');
	kstr(b, "name", p->name);
	kstr(b, "file", p->file);
	kstr(b, "sha256", p->sha256);
	kstr(b, "source", src);
	kstr(b, "target", dst);
	kbool(b, "cdc_enabled", p->cdc.enabled);
	kstr(b, "slot", p->cdc.enabled ? p->cdc.slot : NULL);
	kstr(b, "publication", p->cdc.enabled ? p->cdc.publication : NULL);
	kstr(b, "ddl", !p->cdc.enabled ? NULL : p->cdc.ddl == DDL_REPLICATE ? "replicate" : "stop");
	if (p->cdc.enabled && p->cdc.ddl == DDL_REPLICATE) {
		key(b, "event_triggers");
		buf_puts(b, "[\"" DDL_CAPTURE_END_TRIGGER "\",\"" DDL_CAPTURE_DROP_TRIGGER "\"]");
	}
	kstr(b, "copy_format", copy_format_name(p->copy.format));
	kint(b, "table_jobs", p->copy.table_jobs);
	kint(b, "index_jobs", p->copy.index_jobs);
	kstr(b, "approval", p->cutover.approval == APPROVAL_MANUAL ? "manual" : "auto");
	buf_putc(b, '}');
	free(src);
	free(dst);
}

static void
put_summary(struct buf *b, const struct plan_report *r)
{
	struct plan_summary s;

	plan_summarize(r, &s);
	key(b, "summary");
	buf_putc(b, '{');
	kint(b, "tables", (int64_t) s.tables);
	kint(b, "tables_copied", (int64_t) s.tables_copied);
	kint(b, "tables_schema_only", (int64_t) s.tables_schema_only);
	kint(b, "partitioned_parents", (int64_t) s.partitioned_parents);
	kint(b, "tables_split", (int64_t) s.tables_split);
	kint(b, "copy_steps", (int64_t) s.copy_steps);
	kint(b, "bytes", s.bytes);
	kint(b, "indexes", (int64_t) s.indexes);
	kint(b, "constraints", (int64_t) s.constraints);
	kint(b, "sequences", (int64_t) s.sequences);
	kint(b, "steps", (int64_t) s.steps);
	buf_putc(b, '}');
}

static void
put_preflight(struct buf *b, const struct plan_report *r)
{
	key(b, "preflight");
	if (r->pf)
		preflight_report_json(r->pf, b);
	else
		buf_puts(b, "{\"verdict\":\"not run\",\"checks\":[],\"compare_params\":[]}");
}

static void
put_step(struct buf *b, const struct plan_report *r, const struct step *st)
{
	buf_putc(b, '{');
	kstr(b, "id", st->id);
	kstr(b, "kind", step_kind_name(st->kind));
	kstr(b, "stage", step_stage(st));
	key(b, "after");
	buf_putc(b, '[');
	for (size_t k = 0; k < st->ndeps; k++) {
		if (k)
			buf_putc(b, ',');
		json_put_string(b, r->dag->steps[step_deps(r->dag, st)[k]].id);
	}
	buf_putc(b, ']');
	if (st->table >= 0 && r->cat) {
		const struct cat_table *t = &r->cat->tables[st->table];

		key(b, "table");
		buf_putc(b, '{');
		kstr(b, "schema", t->schema);
		kstr(b, "name", t->name);
		buf_putc(b, '}');
	}
	if (st->nparts) {
		kint(b, "part", st->part);
		kint(b, "parts", st->nparts);
	}
	kint(b, "est_bytes", st->est_bytes);
	buf_putc(b, '}');
}

/*
 * The buffer goes out once it holds SPILL_BYTES, all but its last byte:
 * key() reads that byte to know whether a comma comes first.
 */
#define SPILL_BYTES ((size_t) 64 * 1024)

static void
spill(struct buf *b, FILE *const *out, size_t nout, size_t keep)
{
	size_t n = b->len - keep;
	char last = keep ? b->data[n] : '\0';

	for (size_t i = 0; i < nout; i++)
		fwrite(b->data, 1, n, out[i]);
	buf_reset(b);
	if (keep)
		buf_putc(b, last);
}

void
report_json(FILE *const *out, size_t nout, const struct plan_report *r)
{
	struct buf json, *b = &json;

	buf_init(b);
	buf_putc(b, '{');
	kint(b, "format_version", JSON_FORMAT_VERSION);
	kstr(b, "pgshift_version", PGSHIFT_VERSION);
	kbool(b, "dry_run", true);
	kbool(b, "offline", r->cat == NULL);
	kstr(b, "notice", r->cat ? dry_run_notice : "offline: no connection was made");
	put_plan(b, r->plan);
	kstr(b, "source_server_version", r->cat ? r->cat->server_version : NULL);
	kstr(b, "catalog_fingerprint", r->fingerprint);
	put_summary(b, r);
	put_preflight(b, r);
	key(b, "steps");
	buf_putc(b, '[');
	for (size_t i = 0; i < r->dag->n; i++) {
		if (i)
			buf_putc(b, ',');
		put_step(b, r, &r->dag->steps[i]);
		if (b->len >= SPILL_BYTES)
			spill(b, out, nout, 1);
	}
	buf_putc(b, ']');
	report_rollback_json(b, r->plan);
	buf_puts(b, "}\n");
	spill(b, out, nout, 0);
	buf_free(b);
}
