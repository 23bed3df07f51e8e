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
 * and the statement touches ctid = (SELECT ctid ... LIMIT 1): one row, even
 * when the table holds identical duplicates, as the source did. A FULL
 * column matches only the row whose value has the very text pgoutput sent:
 * both sides go through format('%L'), which calls the type's output
 * function (the walsender's and ours pin the same settings) and turns NULL
 * into an unquoted NULL, compared in the C collation. So numeric 1.0 is not
 * 1.00, float -0 is not 0, citext and nondeterministic collations compare
 * exactly, and types without "=" or without a usable input for an untyped
 * parameter (json domains, jsonpath, pg_snapshot, composites, xml, arrays
 * of them) match too. reg* types are the exception: their text depends on
 * search_path (see pg/conn.c), their "=" compares the OID exactly.
 *
 * Special shapes:
 *   - nothing to set (every sent column unchanged TOAST, or a table without
 *     columns): SELECT 1 ... WHERE <identity>, which proves the row is there
 *     and changes nothing, as the source's update changed no value;
 *   - an UPDATE that changes a GENERATED ALWAYS identity column (the source
 *     ran SET id = DEFAULT): the target refuses any value there but
 *     DEFAULT, so the row is deleted and inserted again with OVERRIDING
 *     SYSTEM VALUE in one statement, unchanged TOAST values taken from the
 *     deleted row (triggers and FK actions do not fire in the replica role);
 *   - an INSERT without columns: INSERT ... DEFAULT VALUES.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/apply_int.h"
#include "pg/conn.h"
#include "util/buf.h"
#include "util/utf8.h"
#include "util/xalloc.h"

#define KEY_TEXT_MAX 512

/* reg* types: output qualified by search_path, "=" compares the OID. */
static bool
compare_by_equality(uint32_t type_oid)
{
	static const uint32_t oids[] = {24, 2202, 2203, 2204, 2205, 2206, 3734, 3769, 4089, 4096,
									4191};

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
	if (n == 0) {
		buf_reset(sql);
		buf_printf(sql, "INSERT INTO %s DEFAULT VALUES", qname);
		return 0;
	}
	buf_puts(sql, ") OVERRIDING SYSTEM VALUE VALUES (");
	for (int p = 1; p <= n; p++)
		buf_printf(sql, "%s$%d", p > 1 ? ", " : "", p);
	buf_putc(sql, ')');
	return n;
}

/*
 * The builtin type of a FULL identity column whose "=" holds for any two
 * values with the same text, whatever the session's settings: its name, or
 * NULL. Rows whose column is not even equal are passed over with that cheap
 * comparison before format() is called on them: the text match alone cost
 * a key-less table's seq scan 0.34 ms per applied change at 1,400 rows
 * (0.07 ms with it), and a single psql session writing to such a table
 * outran the applier.
 */
static const char *
prefilter_type(uint32_t type_oid)
{
	static const struct { uint32_t oid; const char *name; } types[] = {
		{16, "bool"}, {17, "bytea"}, {18, "char"}, {19, "name"}, {20, "int8"}, {21, "int2"},
		{23, "int4"}, {25, "text"}, {26, "oid"}, {1042, "bpchar"}, {1043, "varchar"},
		{2950, "uuid"},
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].oid == type_oid)
			return types[i].name;
	return NULL;
}

/* One FULL identity column against its parameter: the exact text, or NULL. */
static void
full_match_sql(struct buf *sql, PGconn *conn, const struct pgo_column *col, int p)
{
	const char *pre = prefilter_type(col->type_oid);

	if (compare_by_equality(col->type_oid)) {
		put_ident(sql, conn, col->name);
		buf_printf(sql, " IS NOT DISTINCT FROM $%d", p);
		return;
	}
	if (pre) {
		put_ident(sql, conn, col->name);
		buf_printf(sql, " IS NOT DISTINCT FROM $%d::pg_catalog.text::pg_catalog.%s AND ", p,
				   pre);
	}
	buf_puts(sql, "pg_catalog.format('%L', ");
	put_ident(sql, conn, col->name);
	buf_printf(sql, ") COLLATE pg_catalog.\"C\" = pg_catalog.format('%%L', $%d::pg_catalog.text)",
			   p);
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
		if (full) {
			full_match_sql(sql, conn, &rel->cols[i], ++*p);
			continue;
		}
		put_ident(sql, conn, rel->cols[i].name);
		buf_printf(sql, " = $%d", ++*p);
	}
	/* a table without columns: every row is the same row */
	if (n == 0)
		buf_puts(sql, full && rel->ncols == 0 ? "true" : "false");
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
count_set(const struct pgo_relation *rel, const char *shape)
{
	int n = 0;

	for (uint16_t i = 0; i < rel->ncols; i++)
		n += shape[2 + 2 * i] == 's';
	return n;
}

/* Does this UPDATE give a GENERATED ALWAYS identity column a new value? */
static bool
sets_always(const struct apply_rel *r, const struct pgo_relation *rel, const char *shape)
{
	for (uint16_t i = 0; r->always && i < rel->ncols; i++)
		if (r->always[i] && shape[2 + 2 * i] == 's')
			return true;
	return false;
}

/* The row again, with the new identity value: see the header. */
static int
reinsert_sql(struct buf *sql, PGconn *conn, const char *qname, const struct pgo_relation *rel,
			 const char *shape)
{
	int p = count_set(rel, shape), set = 0;

	buf_printf(sql, "WITH d AS (DELETE FROM ONLY %s", qname);
	target_row_sql(sql, conn, qname, rel, shape, &p);
	buf_printf(sql, " RETURNING *) INSERT INTO %s (", qname);
	for (uint16_t i = 0; i < rel->ncols; i++) {
		buf_puts(sql, i ? ", " : "");
		put_ident(sql, conn, rel->cols[i].name);
	}
	buf_puts(sql, ") OVERRIDING SYSTEM VALUE SELECT ");
	for (uint16_t i = 0; i < rel->ncols; i++) {
		buf_puts(sql, i ? ", " : "");
		if (shape[2 + 2 * i] == 's') {
			buf_printf(sql, "$%d", ++set);
			continue;
		}
		buf_puts(sql, "d.");
		put_ident(sql, conn, rel->cols[i].name);
	}
	buf_puts(sql, " FROM d");
	return p;
}

static int
update_sql(struct buf *sql, PGconn *conn, const struct apply_rel *r,
		   const struct pgo_relation *rel, const char *shape)
{
	int p = 0;

	if (sets_always(r, rel, shape))
		return reinsert_sql(sql, conn, r->qname, rel, shape);
	if (count_set(rel, shape) == 0) {
		buf_printf(sql, "SELECT 1 FROM ONLY %s", r->qname);
		target_row_sql(sql, conn, r->qname, rel, shape, &p);
		return p;
	}
	buf_printf(sql, "UPDATE ONLY %s SET ", r->qname);
	for (uint16_t i = 0; i < rel->ncols; i++) {
		if (shape[2 + 2 * i] != 's')
			continue;
		if (p)
			buf_puts(sql, ", ");
		put_ident(sql, conn, rel->cols[i].name);
		buf_printf(sql, " = $%d", ++p);
	}
	target_row_sql(sql, conn, r->qname, rel, shape, &p);
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
		n = update_sql(&sql, a->tgt.conn, r, rel, shape);
	else
		n = delete_sql(&sql, a->tgt.conn, r->qname, rel, shape);
	s = xcalloc(1, sizeof(*s));
	s->shape = shape;
	snprintf(s->name, sizeof(s->name), "pgs_apply_%u", a->tgt.next_stmt++);
	ok = apply_target_prepare(&a->tgt, s->name, sql.data, n, NULL, &what, err);
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
			buf_printf(&vals, "%.*s%s", (int) utf8_cut((const char *) v->data, v->len, 64),
					   (const char *) v->data, v->len > 64 ? "..." : "");
	}
	buf_printf(&names, ")=%s)", vals.data);
	buf_free(&vals);
	if (names.len > KEY_TEXT_MAX)
		names.data[utf8_cut(names.data, names.len, KEY_TEXT_MAX)] = '\0';
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
	if (c->old_kind != 'O' && rel->replident == 'n') {
		pgs_fail(err, "the table has REPLICA IDENTITY NOTHING: rows cannot be identified");
		pgs_error_hint(err, "give the source table a primary key or REPLICA IDENTITY FULL,"
					   " then start the migration over");
		return false;
	}
	for (uint16_t i = 0; c->old_kind != 'O' && i < rel->ncols; i++)
		if ((rel->cols[i].flags & PGO_COLUMN_KEY) && id->cols[i].kind == PGO_VALUE_UNCHANGED) {
			pgs_fail(err, "key column \"%s\" (type oid %u) was not sent (unchanged TOAST)",
					 rel->cols[i].name, rel->cols[i].type_oid);
			pgs_error_hint(err, "use a replica identity whose columns are not TOASTed, or"
						   " REPLICA IDENTITY FULL, on the source table");
			return false;
		}
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

/*
 * A TRUNCATE that also emptied a table a resume copied again after it (its
 * copy holds what was inserted since): CASCADE would empty that copy too,
 * through the foreign keys built since. The other tables are emptied with
 * DELETE instead, which in the replica role fires no foreign key action.
 */
static bool
truncate_sparing(struct cdc_applier *a, const struct pgo_truncate *t, struct apply_pending *p,
				 struct pgs_error *err)
{
	bool ok = true;

	for (uint32_t i = 0; i < t->nrelids && ok; i++) {
		struct apply_rel *r = apply_rel_get(a, t->relids[i]);
		char *sql;

		if (!r->applied || apply_rel_in_resync_copy(a, t->relids[i], p->lsn))
			continue;
		sql = xasprintf("DELETE FROM ONLY %s", r->qname);
		p->table = r->display;
		ok = apply_target_send_sql(&a->tgt, sql, p, err);
		free(sql);
	}
	return ok;
}

/*
 * TRUNCATE ONLY the listed tables that are migrated (partitions come as
 * leaves), always with CASCADE: the source could only empty a table when
 * every table referencing it by foreign key was emptied too (listed, or by
 * its CASCADE), so the target's referencing tables go as well. Those the
 * publication does not carry are the ones in exclude_table_data, whose
 * schema is on the target and whose rows the source just removed.
 */
bool
apply_truncate(struct cdc_applier *a, const struct pgo_truncate *t, const struct apply_ctx *ctx,
			   struct pgs_error *err)
{
	struct apply_pending p = {'T', false, NULL, ctx->xid, ctx->commit_lsn, NULL};
	struct buf sql;
	int n = 0;
	bool ok = true, spared = false;

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
		if (apply_rel_in_resync_copy(a, t->relids[i], ctx->commit_lsn)) {
			spared = true;
			continue;
		}
		buf_printf(&sql, "%s%s", n++ ? ", " : "", r->qname);
		p.table = r->display;
	}
	if (t->options & PGO_TRUNCATE_RESTART_IDENTITY)
		buf_puts(&sql, " RESTART IDENTITY");
	buf_puts(&sql, " CASCADE");
	if (n > 0 && spared)
		ok = truncate_sparing(a, t, &p, err);
	else if (n > 0)
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
