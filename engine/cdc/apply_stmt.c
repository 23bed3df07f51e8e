/*
 * Each change becomes one execution of a statement prepared once per
 * (relation, shape) and bound with TEXT parameters: the bytes pgoutput sent,
 * NUL-terminated, never pasted into SQL, so "null", "it's" or a backslash
 * arrive as they left. A shape is what makes the SQL differ between two
 * changes of one table: which columns are set (an unchanged TOAST value is
 * not sent and must not be overwritten) and which identify the row.
 *
 *   INSERT  INSERT INTO t (cols) OVERRIDING SYSTEM VALUE VALUES ($1..)
 *           (identity columns keep the source's values; pgoutput of
 *           PostgreSQL 15 does not send generated columns, so the target
 *           computes them)
 *   UPDATE  UPDATE ONLY t SET <sent columns> WHERE <identity>
 *   DELETE  DELETE FROM ONLY t WHERE <identity>
 *
 * The identity is the replica identity key: from the old key tuple ('K',
 * the key changed) or from the new tuple (no old tuple: the key did not
 * change). With REPLICA IDENTITY FULL (old tuple 'O') it is every column,
 * compared with IS NOT DISTINCT FROM so NULLs match, and the statement
 * touches ctid = (SELECT ctid ... LIMIT 1): one row, even when the table
 * holds identical duplicates, as the source did.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/apply_int.h"
#include "pg/conn.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define KEY_TEXT_MAX 512

/* Types whose "=" is missing (json, xml, point) or compares areas (box, circle). */
static bool
compare_as_text(uint32_t type_oid)
{
	static const uint32_t oids[] = {114, 142, 600, 601, 602, 603, 604, 628, 718,
									199, 143, 1017, 1018, 1019, 1020, 1027, 629, 719};

	for (size_t i = 0; i < sizeof(oids) / sizeof(oids[0]); i++)
		if (oids[i] == type_oid)
			return true;
	return false;
}

/* Which tuple identifies the row, or NULL when it cannot be identified. */
static const struct pgo_tuple *
identity_tuple(const struct pgo_change *c)
{
	if (c->old_kind == 'K' || c->old_kind == 'O')
		return &c->old;
	return &c->new;
}

/* Is column i part of the WHERE clause of this change? */
static bool
in_where(const struct pgo_relation *rel, const struct pgo_change *c, uint16_t i)
{
	const struct pgo_tuple *id = identity_tuple(c);

	if (c->old_kind == 'O')
		return id->cols[i].kind != PGO_VALUE_UNCHANGED;
	return (rel->cols[i].flags & PGO_COLUMN_KEY) != 0;
}

static bool
same_value(const struct pgo_value *a, const struct pgo_value *b)
{
	return a->kind == b->kind && a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/*
 * Is column i set by this change? Not when its value was not sent
 * (unchanged TOAST). Nor when it is GENERATED ALWAYS AS IDENTITY and not
 * provably changed: the target refuses any value but DEFAULT for it in an
 * UPDATE, and the source can change it only with SET ... = DEFAULT, whose
 * new value arrives with an old tuple that shows the difference.
 */
static bool
is_set(const struct apply_rel *r, const struct pgo_change *c, char kind, uint16_t i)
{
	const struct pgo_value *v = &c->new.cols[i];

	if (kind == 'D' || v->kind == PGO_VALUE_UNCHANGED)
		return false;
	if (kind == 'I' || !r->always || !r->always[i])
		return true;
	return c->old_kind != 0 && !same_value(&c->old.cols[i], v);
}

/*
 * The shape: kind, old kind, then per column whether it is set ('s') and
 * whether it is in the WHERE clause ('w'). Two changes with one shape share
 * one prepared statement.
 */
static char *
shape_of(char kind, const struct apply_rel *r, const struct pgo_relation *rel,
		 const struct pgo_change *c)
{
	char *s = xmalloc(3 + 2 * (size_t) rel->ncols);
	size_t n = 0;

	s[n++] = kind;
	s[n++] = c->old_kind ? c->old_kind : '-';
	for (uint16_t i = 0; i < rel->ncols; i++) {
		s[n++] = is_set(r, c, kind, i) ? 's' : '.';
		s[n++] = kind != 'I' && in_where(rel, c, i) ? 'w' : '.';
	}
	s[n] = '\0';
	return s;
}

static void
put_ident(struct buf *sql, PGconn *conn, const char *name)
{
	char *q = pg_quote_ident(conn, name);

	buf_puts(sql, q);
	free(q);
}

static int
insert_sql(struct buf *sql, PGconn *conn, const char *qname, const struct pgo_relation *rel,
		   const char *shape)
{
	int n = 0;

	buf_printf(sql, "INSERT INTO %s (", qname);
	for (uint16_t i = 0; i < rel->ncols; i++) {
		if (shape[2 + 2 * i] != 's')
			continue;
		if (n++)
			buf_puts(sql, ", ");
		put_ident(sql, conn, rel->cols[i].name);
	}
	buf_puts(sql, ") OVERRIDING SYSTEM VALUE VALUES (");
	for (int p = 1; p <= n; p++)
		buf_printf(sql, "%s$%d", p > 1 ? ", " : "", p);
	buf_putc(sql, ')');
	return n;
}

/* WHERE clause for the identity columns, numbering parameters from *p. */
static void
where_sql(struct buf *sql, PGconn *conn, const struct pgo_relation *rel, const char *shape,
		  int *p)
{
	bool full = shape[1] == 'O';
	int n = 0;

	for (uint16_t i = 0; i < rel->ncols; i++) {
		if (shape[3 + 2 * i] != 'w')
			continue;
		buf_puts(sql, n++ ? " AND " : "");
		put_ident(sql, conn, rel->cols[i].name);
		if (!full)
			buf_printf(sql, " = $%d", ++*p);
		else if (compare_as_text(rel->cols[i].type_oid))
			buf_printf(sql, "::pg_catalog.text IS NOT DISTINCT FROM $%d", ++*p);
		else
			buf_printf(sql, " IS NOT DISTINCT FROM $%d", ++*p);
	}
	if (n == 0)
		buf_puts(sql, "false");
}

/* The row to change: by key, or for FULL one row among identical ones, by ctid. */
static void
target_row_sql(struct buf *sql, PGconn *conn, const char *qname, const struct pgo_relation *rel,
			   const char *shape, int *p)
{
	if (shape[1] != 'O') {
		buf_puts(sql, " WHERE ");
		where_sql(sql, conn, rel, shape, p);
		return;
	}
	buf_printf(sql, " WHERE ctid = (SELECT ctid FROM ONLY %s WHERE ", qname);
	where_sql(sql, conn, rel, shape, p);
	buf_puts(sql, " LIMIT 1)");
}

static int
update_sql(struct buf *sql, PGconn *conn, const char *qname, const struct pgo_relation *rel,
		   const char *shape)
{
	int p = 0;

	buf_printf(sql, "UPDATE ONLY %s SET ", qname);
	for (uint16_t i = 0; i < rel->ncols; i++) {
		if (shape[2 + 2 * i] != 's')
			continue;
		if (p)
			buf_puts(sql, ", ");
		put_ident(sql, conn, rel->cols[i].name);
		buf_printf(sql, " = $%d", ++p);
	}
	if (p == 0) {
		/* every column unchanged TOAST: still prove the row is there */
		put_ident(sql, conn, rel->cols[0].name);
		buf_puts(sql, " = ");
		put_ident(sql, conn, rel->cols[0].name);
	}
	target_row_sql(sql, conn, qname, rel, shape, &p);
	return p;
}

static int
delete_sql(struct buf *sql, PGconn *conn, const char *qname, const struct pgo_relation *rel,
		   const char *shape)
{
	int p = 0;

	buf_printf(sql, "DELETE FROM ONLY %s", qname);
	target_row_sql(sql, conn, qname, rel, shape, &p);
	return p;
}

/* The relation's statement of this shape, prepared (in the pipeline) when new. */
static const struct apply_stmt *
statement(struct cdc_applier *a, struct apply_rel *r, const struct pgo_relation *rel,
		  char *shape, const struct apply_ctx *ctx, struct pgs_error *err)
{
	struct apply_pending what = {'P', false, r->display, ctx->xid, ctx->commit_lsn, NULL};
	struct apply_stmt *s;
	struct buf sql;
	int n;
	bool ok;

	for (s = r->stmts; s; s = s->next)
		if (strcmp(s->shape, shape) == 0) {
			free(shape);
			return s;
		}
	buf_init(&sql);
	if (shape[0] == 'I')
		n = insert_sql(&sql, a->tgt.conn, r->qname, rel, shape);
	else if (shape[0] == 'U')
		n = update_sql(&sql, a->tgt.conn, r->qname, rel, shape);
	else
		n = delete_sql(&sql, a->tgt.conn, r->qname, rel, shape);
	s = xcalloc(1, sizeof(*s));
	s->shape = shape;
	snprintf(s->name, sizeof(s->name), "pgs_apply_%u", a->tgt.next_stmt++);
	ok = apply_target_prepare(&a->tgt, s->name, sql.data, n, &what, err);
	buf_free(&sql);
	s->next = r->stmts;
	r->stmts = s;
	return ok ? s : NULL;
}

/* Appends one value, NUL-terminated, and its offset (-1 for NULL). */
static void
add_value(struct buf *vals, long *offs, int *n, const struct pgo_value *v)
{
	if (v->kind == PGO_VALUE_NULL) {
		offs[(*n)++] = -1;
		return;
	}
	offs[(*n)++] = (long) vals->len;
	buf_append(vals, v->data, v->len);
	buf_putc(vals, '\0');
}

/* The parameters in statement order: set columns, then identity columns. */
static int
bind_values(const struct pgo_relation *rel, const struct pgo_change *c, const char *shape,
			struct buf *vals, long *offs)
{
	const struct pgo_tuple *id = identity_tuple(c);
	int n = 0;

	for (uint16_t i = 0; i < rel->ncols; i++)
		if (shape[2 + 2 * i] == 's')
			add_value(vals, offs, &n, &c->new.cols[i]);
	for (uint16_t i = 0; i < rel->ncols; i++)
		if (shape[3 + 2 * i] == 'w')
			add_value(vals, offs, &n, &id->cols[i]);
	return n;
}

/* "(id, b)=(5, NULL)", cut at KEY_TEXT_MAX: what the operator looks for on the target. */
static char *
key_text(const struct pgo_relation *rel, const struct pgo_change *c, const char *shape)
{
	const struct pgo_tuple *id = identity_tuple(c);
	struct buf names, vals;
	int n = 0;

	buf_init(&names);
	buf_init(&vals);
	for (uint16_t i = 0; i < rel->ncols; i++) {
		const struct pgo_value *v = &id->cols[i];

		if (shape[3 + 2 * i] != 'w')
			continue;
		buf_puts(&names, n ? ", " : "(");
		buf_puts(&vals, n++ ? ", " : "(");
		buf_puts(&names, rel->cols[i].name);
		if (v->kind == PGO_VALUE_NULL)
			buf_puts(&vals, "NULL");
		else
			buf_printf(&vals, "%.*s%s", (int) (v->len > 64 ? 64 : v->len),
					   (const char *) v->data, v->len > 64 ? "..." : "");
	}
	buf_printf(&names, ")=%s)", vals.data);
	buf_free(&vals);
	if (names.len > KEY_TEXT_MAX)
		names.data[KEY_TEXT_MAX] = '\0';
	return buf_steal(&names);
}

static bool
check_tuples(const struct pgo_relation *rel, const struct pgo_change *c, char kind,
			 struct pgs_error *err)
{
	const struct pgo_tuple *id = identity_tuple(c);

	if ((kind != 'D' && c->new.ncols != rel->ncols) ||
		(kind != 'I' && id->ncols != rel->ncols))
		return pgs_fail(err, "the change has %u columns, the relation %u",
						kind == 'D' ? id->ncols : c->new.ncols, rel->ncols);
	if (kind == 'I')
		return true;
	if (c->old_kind == 0 && kind == 'D')
		return pgs_fail(err, "the delete carries no old tuple");
	if (c->old_kind != 'O' && rel->replident == 'n')
		return pgs_fail(err, "the table has REPLICA IDENTITY NOTHING: rows cannot be identified");
	for (uint16_t i = 0; c->old_kind != 'O' && i < rel->ncols; i++)
		if ((rel->cols[i].flags & PGO_COLUMN_KEY) && id->cols[i].kind == PGO_VALUE_UNCHANGED)
			return pgs_fail(err, "key column \"%s\" was not sent (unchanged TOAST)",
							rel->cols[i].name);
	return true;
}

static bool
execute(struct cdc_applier *a, struct apply_rel *r, const struct apply_stmt *s,
		const struct pgo_relation *rel, const struct pgo_change *c, const struct apply_ctx *ctx,
		struct pgs_error *err)
{
	long *offs = xmalloc((2 * (size_t) rel->ncols + 1) * sizeof(long));
	const char **values = xmalloc((2 * (size_t) rel->ncols + 1) * sizeof(char *));
	struct apply_pending p = {s->shape[0], s->shape[0] != 'I', r->display, ctx->xid,
							  ctx->commit_lsn, NULL};
	struct buf vals;
	int n;
	bool ok;

	buf_init(&vals);
	n = bind_values(rel, c, s->shape, &vals, offs);
	for (int i = 0; i < n; i++)
		values[i] = offs[i] < 0 ? NULL : vals.data + offs[i];
	if (p.expect_one)
		p.key = key_text(rel, c, s->shape);
	ok = apply_target_send(&a->tgt, s->name, n, values, NULL, &p, err);
	buf_free(&vals);
	free(values);
	free(offs);
	return ok;
}

/* Insert, Update or Delete of a migrated table; others are skipped. */
bool
apply_change(struct cdc_applier *a, const struct pgo_msg *m, const struct apply_ctx *ctx,
			 struct pgs_error *err)
{
	const struct pgo_change *c = &m->u.change;
	struct apply_rel *r = apply_rel_get(a, c->relid);
	const struct pgo_relation *rel = pgo_relcache_get(a->rc, c->relid);
	const struct apply_stmt *s;
	char kind = (char) m->kind;

	if (!r || !rel) {
		pgs_fail(err, "%s of relation %u, which no Relation message described",
				 pgo_kind_name(m->kind), c->relid);
		return apply_fail_ctx(err, NULL, ctx);
	}
	if (!r->applied)
		return true;            /* filtered out of the migration (DESIGN §4) */
	if (r->mismatch)
		return apply_rel_changed(a, r, ctx, err);
	if (!check_tuples(rel, c, kind, err))
		return apply_fail_ctx(err, r->display, ctx);
	s = statement(a, r, rel, shape_of(kind, r, rel, c), ctx, err);
	if (!s)
		return apply_fail_ctx(err, r->display, ctx);
	return execute(a, r, s, rel, c, ctx, err);
}

/* TRUNCATE ONLY the listed tables that are migrated (partitions come as leaves). */
bool
apply_truncate(struct cdc_applier *a, const struct pgo_truncate *t, const struct apply_ctx *ctx,
			   struct pgs_error *err)
{
	struct apply_pending p = {'T', false, NULL, ctx->xid, ctx->commit_lsn, NULL};
	struct buf sql;
	int n = 0;
	bool ok = true;

	buf_init(&sql);
	buf_puts(&sql, "TRUNCATE ONLY ");
	for (uint32_t i = 0; i < t->nrelids; i++) {
		struct apply_rel *r = apply_rel_get(a, t->relids[i]);

		if (!r) {
			pgs_fail(err, "TRUNCATE of relation %u, which no Relation message described",
					 t->relids[i]);
			buf_free(&sql);
			return apply_fail_ctx(err, NULL, ctx);
		}
		if (!r->applied)
			continue;
		if (r->mismatch) {
			buf_free(&sql);
			return apply_rel_changed(a, r, ctx, err);
		}
		buf_printf(&sql, "%s%s", n++ ? ", " : "", r->qname);
		p.table = r->display;
	}
	if (t->options & PGO_TRUNCATE_RESTART_IDENTITY)
		buf_puts(&sql, " RESTART IDENTITY");
	if (n > 0)
		ok = apply_target_send_sql(&a->tgt, sql.data, &p, err);
	buf_free(&sql);
	return ok;
}

void
apply_stmts_free(struct apply_stmt *s)
{
	while (s) {
		struct apply_stmt *next = s->next;

		free(s->shape);
		free(s);
		s = next;
	}
}
