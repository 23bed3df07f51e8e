/* See run_dag.h: the recorded DAG applied to a resume, and the drift from it. */
#include <stdlib.h>
#include <string.h>

#include "run/run_dag.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/xalloc.h"

#define NAMED_MAX 20

static bool
catalog_bound(enum step_kind k)
{
	return k == STEP_COPY || k == STEP_INDEX || k == STEP_CONSTRAINT || k == STEP_VACUUM;
}

static bool
recorded_kind_bound(const char *kind)
{
	return strcmp(kind, step_kind_name(STEP_COPY)) == 0 ||
		strcmp(kind, step_kind_name(STEP_INDEX)) == 0 ||
		strcmp(kind, step_kind_name(STEP_CONSTRAINT)) == 0 ||
		strcmp(kind, step_kind_name(STEP_VACUUM)) == 0;
}

/* The catalog table a step belongs to, NULL for none. */
static const struct cat_table *
step_table(const struct step *st, const struct catalog *cat)
{
	if (st->kind == STEP_INDEX && st->object >= 0)
		return &cat->tables[cat->indexes[st->object].table];
	return st->table >= 0 ? &cat->tables[st->table] : NULL;
}

void
run_dag_recorded_sizes(const struct dag_record *rec, struct catalog *cat)
{
	for (size_t i = 0; i < rec->n; i++) {
		const struct dag_record_step *s = &rec->steps[i];
		struct cat_table *t;

		if (!s->schema || !s->table || s->table_bytes < 0 ||
			strcmp(s->kind, step_kind_name(STEP_COPY)) != 0)
			continue;
		t = (struct cat_table *) catalog_find_table(cat, s->schema, s->table);
		if (t)
			t->bytes = s->table_bytes;
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The record's step ids, sorted, so that each live step is looked up in O(log n). */
static char **
sorted_ids(const struct dag_record *rec)
{
	char **ids = xcalloc(rec->n + 1, sizeof(char *));

	for (size_t i = 0; i < rec->n; i++)
		ids[i] = rec->steps[i].step_id;
	qsort(ids, rec->n, sizeof(char *), cmp_str);
	return ids;
}

static bool
recorded(char *const *ids, size_t n, const char *id)
{
	return bsearch(&id, ids, n, sizeof(char *), cmp_str) != NULL;
}

bool
run_dag_has_table(const struct dag_record *rec, const char *schema, const char *table)
{
	for (size_t i = 0; i < rec->n; i++)
		if (rec->steps[i].schema && rec->steps[i].table &&
			strcmp(rec->steps[i].schema, schema) == 0 && strcmp(rec->steps[i].table, table) == 0)
			return true;
	return false;
}

static void
name_item(struct buf *b, size_t *n, const char *what, const char *a, const char *c)
{
	if ((*n)++ < NAMED_MAX)
		buf_printf(b, "%s%s %s%s%s", *n > 1 ? "; " : "", what, a, c ? "." : "", c ? c : "");
}

/* Recorded steps gone from the live DAG: tables dropped (or filtered out), other steps. */
static size_t
list_gone(const struct dag_record *rec, const struct dag *dag, const struct catalog *cat,
		  struct buf *b)
{
	size_t n = 0;

	for (size_t i = 0; i < rec->n; i++) {
		const struct dag_record_step *s = &rec->steps[i];
		bool first_of_table = true;

		if (!recorded_kind_bound(s->kind) || dag_find(dag, s->step_id) >= 0)
			continue;
		if (s->schema && s->table && !catalog_find_table(cat, s->schema, s->table)) {
			for (size_t k = 0; k < i && first_of_table; k++)
				first_of_table = !(rec->steps[k].schema && rec->steps[k].table &&
								   strcmp(rec->steps[k].schema, s->schema) == 0 &&
								   strcmp(rec->steps[k].table, s->table) == 0);
			if (first_of_table)
				name_item(b, &n, "table dropped (or no longer in the filters):", s->schema,
						  s->table);
			continue;
		}
		name_item(b, &n, "step gone:", s->step_id, NULL);
	}
	return n;
}

/* Live steps the record does not have: new tables (named once), other new steps. */
static size_t
list_new(const struct dag_record *rec, const struct dag *dag, const struct catalog *cat,
		 struct buf *b)
{
	bool *said = xcalloc(cat->ntables ? cat->ntables : 1, sizeof(bool));
	char **ids = sorted_ids(rec);
	size_t n = 0;

	for (size_t i = 0; i < dag->n; i++) {
		const struct step *st = &dag->steps[i];
		const struct cat_table *t = step_table(st, cat);

		if (!catalog_bound(st->kind) || recorded(ids, rec->n, st->id))
			continue;
		if (t && !run_dag_has_table(rec, t->schema, t->name)) {
			if (!said[t - cat->tables])
				name_item(b, &n, "new table in the filters:", t->schema, t->name);
			said[t - cat->tables] = true;
			continue;
		}
		name_item(b, &n, "new step:", st->id, NULL);
	}
	free(ids);
	free(said);
	return n;
}

enum dag_drift
run_dag_drift(const struct dag_record *rec, const struct dag *dag, const struct catalog *cat,
			  const char *plan_name, const char *plan_file, struct pgs_error *err)
{
	struct buf b;
	size_t n;
	enum dag_drift d = DAG_SAME;

	if (rec->n == 0)
		return DAG_SAME;
	buf_init(&b);
	if ((n = list_gone(rec, dag, cat, &b)) > 0) {
		d = DAG_GONE;
		pgs_fail(err, "the source catalog changed since the run of plan \"%s\" began: %s%s", plan_name, b.data,
				 n > NAMED_MAX ? " ..." : "");
		pgs_error_detail(err, "a resume runs exactly the DAG the run was compiled with; "
						 "these recorded steps have nothing to run on");
		pgs_error_hint(err, "create the objects again on the source as they were, or start "
					   "over with pgshift reset %s --yes", plan_file);
	} else if ((n = list_new(rec, dag, cat, &b)) > 0) {
		d = DAG_NEW;
		pgs_fail(err, "the source catalog changed since the run of plan \"%s\" began: %s%s", plan_name, b.data,
				 n > NAMED_MAX ? " ..." : "");
		pgs_error_detail(err, "a resume runs exactly the DAG the run was compiled with; "
						 "nothing was changed");
		pgs_error_hint(err, "\"pgshift apply %s --replan\" adds the new steps and copies only "
					   "the new tables; or leave them out with filters.exclude_tables",
					   plan_file);
	}
	buf_free(&b);
	return d;
}

char *
run_dag_json(const struct dag *dag, const struct catalog *cat, size_t from, size_t to)
{
	struct buf b;

	buf_init(&b);
	buf_putc(&b, '[');
	for (size_t i = from; i < to && i < dag->n; i++) {
		const struct step *st = &dag->steps[i];
		const struct cat_table *t = catalog_bound(st->kind) ? step_table(st, cat) : NULL;

		buf_printf(&b, "%s{\"ord\":%zu,\"id\":", i > from ? "," : "", i);
		json_put_string(&b, st->id);
		buf_puts(&b, ",\"kind\":");
		json_put_string(&b, step_kind_name(st->kind));
		buf_puts(&b, ",\"schema\":");
		json_put_string(&b, t ? t->schema : NULL);
		buf_puts(&b, ",\"table\":");
		json_put_string(&b, t ? t->name : NULL);
		if (st->kind == STEP_COPY && t)
			buf_printf(&b, ",\"bytes\":%lld}", (long long) t->bytes);
		else
			buf_puts(&b, ",\"bytes\":null}");
	}
	buf_putc(&b, ']');
	return buf_steal(&b);
}

size_t
run_dag_ddl_covered(const struct dag_record *rec, const struct dag *dag, bool *covered)
{
	size_t n = 0;
	char **ids = sorted_ids(rec);

	for (size_t i = 0; i < dag->n; i++) {
		covered[i] = rec->n > 0 && catalog_bound(dag->steps[i].kind) &&
			!recorded(ids, rec->n, dag->steps[i].id);
		n += covered[i];
	}
	free(ids);
	return n;
}
