/*
 * apply --expect SAVED.json: the reviewed-PR check. The saved plan is the
 * JSON `plan --out` wrote; this reads back the three things that must still
 * hold — the plan file's hash, the source catalog's fingerprint and the step
 * ids — and names what drifted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle/saved_plan.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* Reads a JSON string starting at the opening quote; returns the text after it. */
static const char *
json_string_at(const char *p, struct buf *out)
{
	if (*p != '"')
		return NULL;
	for (p++; *p && *p != '"'; p++) {
		if (*p != '\\') {
			buf_putc(out, *p);
			continue;
		}
		p++;
		switch (*p) {
		case 'n': buf_putc(out, '\n'); break;
		case 't': buf_putc(out, '\t'); break;
		case 'r': buf_putc(out, '\r'); break;
		case 'u': {
			unsigned v = 0;

			if (sscanf(p + 1, "%4x", &v) != 1)
				return NULL;
			buf_putc(out, (char) v);    /* only control characters are written as \u */
			p += 4;
			break;
		}
		case '\0': return NULL;
		default: buf_putc(out, *p);
		}
	}
	return *p == '"' ? p + 1 : NULL;
}

/* The string value of the first "key": after `from`, or NULL. */
static char *
json_find_string(const char *from, const char *key)
{
	char pattern[64];
	const char *p;
	struct buf b;

	snprintf(pattern, sizeof(pattern), "\"%s\":", key);
	p = strstr(from, pattern);
	if (!p)
		return NULL;
	buf_init(&b);
	if (!json_string_at(p + strlen(pattern), &b)) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static void
read_step_ids(const char *json, struct saved_plan *sp)
{
	const char *p = strstr(json, "\"steps\":[");
	size_t cap = 0;

	while (p && (p = strstr(p, "{\"id\":")) != NULL) {
		struct buf id;

		buf_init(&id);
		p = json_string_at(p + 6, &id);
		if (sp->nsteps == cap) {
			cap = cap ? cap * 2 : 64;
			sp->step_ids = xrealloc(sp->step_ids, cap * sizeof(char *));
		}
		sp->step_ids[sp->nsteps++] = buf_steal(&id);
	}
}

bool
saved_plan_read(const char *path, struct saved_plan *sp, struct pgs_error *err)
{
	FILE *f = fopen(path, "rb");
	struct buf text;
	char chunk[65536];
	size_t n;

	memset(sp, 0, sizeof(*sp));
	if (!f)
		return pgs_fail(err, "could not open saved plan \"%s\": %m", path);
	buf_init(&text);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&text, chunk, n);
	fclose(f);
	if (text.len == 0 || !strstr(text.data, "\"format_version\":1")) {
		buf_free(&text);
		return pgs_fail(err, "\"%s\" is not a saved plan (write one with pgshift plan --out)", path);
	}
	sp->plan_sha256 = json_find_string(text.data, "sha256");
	sp->fingerprint = json_find_string(text.data, "catalog_fingerprint");
	read_step_ids(text.data, sp);
	buf_free(&text);
	if (!sp->plan_sha256 || !sp->fingerprint)
		return pgs_fail(err, "saved plan \"%s\" has no plan hash or catalog fingerprint; "
						"it was written by plan --offline, which cannot be checked", path);
	return true;
}

void
saved_plan_free(struct saved_plan *sp)
{
	for (size_t i = 0; i < sp->nsteps; i++)
		free(sp->step_ids[i]);
	free(sp->step_ids);
	free(sp->plan_sha256);
	free(sp->fingerprint);
	memset(sp, 0, sizeof(*sp));
}

static bool
has_id(char *const *ids, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

/* Lists steps added and removed, at most a few of each, into b. */
static void
describe_step_drift(const struct saved_plan *sp, const struct dag *dag, struct buf *b)
{
	size_t shown = 0;

	for (size_t i = 0; i < dag->n && shown < 10; i++)
		if (!has_id(sp->step_ids, sp->nsteps, dag->steps[i].id))
			buf_printf(b, "%snew step %s", shown++ ? ", " : "", dag->steps[i].id);
	for (size_t i = 0; i < sp->nsteps && shown < 10; i++)
		if (dag_find(dag, sp->step_ids[i]) < 0)
			buf_printf(b, "%sstep %s is gone", shown++ ? ", " : "", sp->step_ids[i]);
}

bool
saved_plan_check(const struct saved_plan *sp, const struct plan *plan, const char *fingerprint,
				 const struct dag *dag, struct pgs_error *err)
{
	struct buf what;

	if (strcmp(sp->plan_sha256, plan->sha256) != 0) {
		pgs_fail(err, "the plan file %s changed since the saved plan was reviewed "
				 "(sha256 %.12s… then, %.12s… now)", plan->file, sp->plan_sha256, plan->sha256);
		pgs_error_hint(err, "run pgshift plan --out again and have the new plan reviewed");
		return false;
	}
	if (strcmp(sp->fingerprint, fingerprint) == 0)
		return true;
	buf_init(&what);
	describe_step_drift(sp, dag, &what);
	pgs_fail(err, "the source schema changed since the saved plan was reviewed%s%s",
			 what.len ? ": " : " (tables, columns, indexes or constraints differ)",
			 what.len ? what.data : "");
	pgs_error_hint(err, "run pgshift plan --out again and have the new plan reviewed");
	buf_free(&what);
	return false;
}
