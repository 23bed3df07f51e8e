/*
 * A run of coalesced rows of one table and one shape (apply_batch.c) as
 * multi-row statements, every value a bound text parameter (of UPDATE and
 * DELETE declared with its column's builtin type; an INSERT's take their
 * column's):
 *
 *   INSERT  INSERT INTO t (cols) OVERRIDING SYSTEM VALUE VALUES ($1, ..), (..)
 *   UPDATE  UPDATE ONLY t AS pgs_t SET c = pgs_v.cN, ..
 *             FROM (VALUES ($1, <key>, <set>), ..) AS pgs_v (n, cK, .., cN, ..)
 *             WHERE pgs_t.k = pgs_v.cK .. RETURNING pgs_v.n
 *   DELETE  DELETE FROM ONLY t AS pgs_t USING (VALUES ($1, <key>), ..) AS pgs_v (..)
 *             WHERE pgs_t.k = pgs_v.cK .. RETURNING pgs_v.n
 *
 * n is each row's ordinal: what UPDATE and DELETE return tells exactly
 * which row matched nothing (apply_target.c names its key), as one
 * statement per row did. The key columns are not SET: the key did not
 * change (a key change is never coalesced).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/apply_int.h"
#include "pg/conn.h"
#include "util/utf8.h"
#include "util/xalloc.h"

#define BULK_MAX_PARAMS 30000   /* under the protocol's 65535 */
#define KEY_TEXT_MAX 512
#define BULK_MIN_PREPARED 16
#define INT4_OID 23

/* Which columns each row binds, in order: the ordinal first (U, D), keys, then SET columns. */
struct bulk_shape {
	char kind;
	uint16_t *cols;             /* owned, ncols entries */
	uint16_t ncols, nkeys;      /* the first nkeys of cols are the key (U, D) */
	int per_row;                /* parameters of one row */
};

static bool
is_key(const struct pgo_relation *rel, uint16_t i)
{
	return (rel->cols[i].flags & PGO_COLUMN_KEY) != 0;
}

static void
shape_of(const struct apply_batch *b, const struct pgo_relation *rel, const struct batch_row *row,
		 struct bulk_shape *s)
{
	s->kind = row->kind;
	s->cols = xmalloc(((size_t) rel->ncols + 1) * sizeof(uint16_t));
	s->ncols = s->nkeys = 0;
	for (uint16_t i = 0; s->kind != 'I' && i < rel->ncols; i++)
		if (is_key(rel, i))
			s->cols[s->ncols++] = i;
	s->nkeys = s->ncols;
	for (uint16_t i = 0; s->kind != 'D' && i < rel->ncols; i++)
		if ((s->kind == 'I' || !is_key(rel, i)) &&
			b->vals[row->vals + i].kind != PGO_VALUE_UNCHANGED)
			s->cols[s->ncols++] = i;
	s->per_row = s->ncols + (s->kind != 'I');
}

static void
put_ident(struct buf *sql, PGconn *conn, const char *name)
{
	char *q = pg_quote_ident(conn, name);

	buf_puts(sql, q);
	free(q);
}

static void
values_sql(struct buf *sql, const struct bulk_shape *s, size_t nrows)
{
	int p = 0;

	buf_puts(sql, " VALUES ");
	for (size_t r = 0; r < nrows; r++) {
		buf_puts(sql, r ? ", (" : "(");
		for (int i = 0; i < s->per_row; i++)
			buf_printf(sql, "%s$%d", i ? ", " : "", ++p);
		buf_putc(sql, ')');
	}
}

/* " AS pgs_v (n, c3, c5) WHERE pgs_t.k = pgs_v.c3 ..": the VALUES rows joined by key. */
static void
join_sql(struct buf *sql, PGconn *conn, const struct pgo_relation *rel, const struct bulk_shape *s)
{
	buf_puts(sql, ") AS pgs_v (n");
	for (uint16_t i = 0; i < s->ncols; i++)
		buf_printf(sql, ", c%u", s->cols[i]);
	buf_puts(sql, ") WHERE ");
	for (uint16_t i = 0; i < s->nkeys; i++) {
		buf_puts(sql, i ? " AND pgs_t." : "pgs_t.");
		put_ident(sql, conn, rel->cols[s->cols[i]].name);
		buf_printf(sql, " = pgs_v.c%u", s->cols[i]);
	}
	buf_puts(sql, " RETURNING pgs_v.n");
}

static void
bulk_sql(struct buf *sql, PGconn *conn, const char *qname, const struct pgo_relation *rel,
		 const struct bulk_shape *s, size_t nrows)
{
	if (s->kind == 'I') {
		buf_printf(sql, "INSERT INTO %s (", qname);
		for (uint16_t i = 0; i < s->ncols; i++) {
			buf_puts(sql, i ? ", " : "");
			put_ident(sql, conn, rel->cols[s->cols[i]].name);
		}
		buf_puts(sql, ") OVERRIDING SYSTEM VALUE");
		values_sql(sql, s, nrows);
		return;
	}
	if (s->kind == 'D') {
		buf_printf(sql, "DELETE FROM ONLY %s AS pgs_t USING (", qname);
	} else {
		buf_printf(sql, "UPDATE ONLY %s AS pgs_t SET ", qname);
		for (uint16_t i = s->nkeys; i < s->ncols; i++) {
			buf_puts(sql, i > s->nkeys ? ", " : "");
			put_ident(sql, conn, rel->cols[s->cols[i]].name);
			buf_printf(sql, " = pgs_v.c%u", s->cols[i]);
		}
		if (s->ncols == s->nkeys) {
			/* every other column unchanged TOAST: still prove the row is there */
			put_ident(sql, conn, rel->cols[s->cols[0]].name);
			buf_puts(sql, " = pgs_t.");
			put_ident(sql, conn, rel->cols[s->cols[0]].name);
		}
		buf_puts(sql, " FROM (");
	}
	values_sql(sql, s, nrows);
	join_sql(sql, conn, rel, s);
}

char *
apply_bulk_key(const struct apply_bulk *b, size_t i)
{
	const struct apply_batch *batch = b->batch;
	struct buf out;

	buf_init(&out);
	buf_putc(&out, '(');
	for (uint16_t k = 0; k < b->nkeys; k++)
		buf_printf(&out, "%s%s", k ? ", " : "", b->key_names[k]);
	buf_puts(&out, ")=(");
	for (uint16_t k = 0; k < b->nkeys; k++) {
		const struct batch_val *v = &batch->vals[b->vals[i] + b->key_cols[k]];
		const char *text = batch->data.data + v->off;

		buf_printf(&out, "%s%.*s%s", k ? ", " : "", (int) utf8_cut(text, v->len, 64), text,
				   v->len > 64 ? "..." : "");
	}
	buf_putc(&out, ')');
	if (out.len > KEY_TEXT_MAX)
		out.data[utf8_cut(out.data, out.len, KEY_TEXT_MAX)] = '\0';
	return buf_steal(&out);
}

/* What names a row of an UPDATE or DELETE that matched nothing, once an answer says so. */
static struct apply_bulk *
bulk_new(const struct apply_batch *b, const struct pgo_relation *rel, const struct bulk_shape *s,
		 size_t n)
{
	struct apply_bulk *bulk = xcalloc(1, sizeof(*bulk));

	bulk->nrows = n;
	bulk->batch = b;
	bulk->vals = xmalloc(n * sizeof(size_t));
	bulk->ctx = xmalloc(n * sizeof(struct apply_ctx));
	bulk->nkeys = s->nkeys;
	bulk->key_cols = xmalloc(((size_t) s->nkeys + 1) * sizeof(uint16_t));
	bulk->key_names = xmalloc(((size_t) s->nkeys + 1) * sizeof(char *));
	for (uint16_t k = 0; k < s->nkeys; k++) {
		bulk->key_cols[k] = s->cols[k];
		bulk->key_names[k] = xstrdup(rel->cols[s->cols[k]].name);
	}
	return bulk;
}

/*
 * The prepared statement of this shape and row count, prepared (in the
 * pipeline) when new: the target parses and plans a statement of a
 * thousand rows once, not at every run.
 */
static const char *
prepared(struct cdc_applier *a, struct apply_rel *r, const struct pgo_relation *rel,
		 const struct bulk_shape *s, size_t n, const uint32_t *types, const struct apply_pending *p,
		 struct pgs_error *err)
{
	struct apply_pending what = *p;
	struct apply_stmt *st;
	struct buf key, sql;
	bool ok;

	buf_init(&key);
	buf_printf(&key, "b%c%zu", s->kind, n);
	for (uint16_t i = 0; i < s->ncols; i++)
		buf_printf(&key, ",%u", s->cols[i]);
	for (st = r->stmts; st; st = st->next)
		if (strcmp(st->shape, key.data) == 0) {
			buf_free(&key);
			return st->name;
		}
	buf_init(&sql);
	bulk_sql(&sql, a->tgt.conn, r->qname, rel, s, n);
	st = xcalloc(1, sizeof(*st));
	st->shape = buf_steal(&key);
	snprintf(st->name, sizeof(st->name), "pgs_apply_%u", a->tgt.next_stmt++);
	st->next = r->stmts;
	r->stmts = st;
	ok = apply_target_prepare(&a->tgt, st->name, sql.data, s->per_row * (int) n, types, &what,
							  err);
	buf_free(&sql);
	return ok ? st->name : NULL;
}

/* One statement of rows[0..n): parameters, types, and what names a row that matched nothing. */
static bool
send_chunk(struct cdc_applier *a, struct apply_rel *r, const struct pgo_relation *rel,
		   const struct bulk_shape *s, const struct batch_row *const *rows, size_t n,
		   bool prepare, struct pgs_error *err)
{
	const struct apply_batch *b = &a->batch;
	size_t np = (size_t) s->per_row * n;
	const char **values = xmalloc(np * sizeof(char *));
	uint32_t *types = xmalloc(np * sizeof(uint32_t));
	char *ordinals = xmalloc(n * 12);
	struct apply_pending p = {s->kind, s->kind != 'I', r->display, rows[0]->ctx.xid,
							  rows[0]->ctx.commit_lsn, NULL};
	struct apply_bulk *bulk = p.expect_one ? bulk_new(b, rel, s, n) : NULL;
	const char *stmt = NULL;
	struct buf sql;
	size_t k = 0;
	bool ok = true;

	for (size_t j = 0; j < n; j++) {
		if (bulk) {
			/* int4 ordinals: a chunk holds far fewer than 2^31 rows */
			snprintf(ordinals + 12 * j, 12, "%u", (unsigned) (j + 1));
			types[k] = INT4_OID;
			values[k++] = ordinals + 12 * j;
			bulk->ctx[j] = rows[j]->ctx;
			bulk->vals[j] = rows[j]->vals;
		}
		for (uint16_t i = 0; i < s->ncols; i++) {
			const struct batch_val *v = &b->vals[rows[j]->vals + s->cols[i]];

			/* an INSERT's VALUES take the target column's type (user types differ in OID) */
			types[k] = s->kind == 'I' ? 0 : rel->cols[s->cols[i]].type_oid;
			values[k++] = v->kind == PGO_VALUE_NULL ? NULL : b->data.data + v->off;
		}
	}
	buf_init(&sql);
	if (prepare)
		ok = (stmt = prepared(a, r, rel, s, n, types, &p, err)) != NULL;
	else
		bulk_sql(&sql, a->tgt.conn, r->qname, rel, s, n);
	if (ok)
		ok = apply_target_send_bulk(&a->tgt, stmt, sql.data, (int) np, types, values, &p, bulk,
									err);
	else
		apply_bulk_free(bulk);
	buf_free(&sql);
	free(ordinals);
	free(types);
	free(values);
	return ok;
}

/*
 * How many of n rows the next statement takes: a full chunk, else the
 * largest power of two, so that a few prepared statements per shape serve
 * runs of any length; a short tail goes unprepared, cheap to parse.
 */
static size_t
next_chunk(size_t n, size_t chunk, bool *prepare)
{
	size_t p = 1;

	*prepare = true;
	if (n >= chunk)
		return chunk;
	while (p * 2 <= n)
		p *= 2;
	if (p >= BULK_MIN_PREPARED)
		return p;
	*prepare = false;
	return n;
}

bool
apply_bulk_send(struct cdc_applier *a, const struct batch_table *t,
				const struct batch_row *const *rows, size_t n, struct pgs_error *err)
{
	struct apply_rel *r = apply_rel_get(a, t->relid);
	const struct pgo_relation *rel = pgo_relcache_get(a->rc, t->relid);
	struct bulk_shape s;
	size_t chunk;
	bool ok = true;

	shape_of(&a->batch, rel, rows[0], &s);
	chunk = BULK_MAX_PARAMS / (size_t) s.per_row;
	if (chunk > APPLY_BULK_ROWS)
		chunk = APPLY_BULK_ROWS;
	for (size_t i = 0, m; ok && i < n; i += m) {
		bool prepare;

		m = next_chunk(n - i, chunk, &prepare);
		ok = send_chunk(a, r, rel, &s, rows + i, m, prepare, err);
	}
	free(s.cols);
	return ok;
}

void
apply_bulk_free(struct apply_bulk *b)
{
	if (!b)
		return;
	for (uint16_t k = 0; k < b->nkeys; k++)
		free(b->key_names[k]);
	free(b->key_names);
	free(b->key_cols);
	free(b->vals);
	free(b->ctx);
	free(b);
}
