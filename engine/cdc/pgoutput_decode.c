/*
 * One decoder per pgoutput message type, in the order and widths of
 * PostgreSQL 15's src/backend/replication/logical/proto.c. Each reads its
 * fields through the bounds-checked cursor; arrays it allocates are stored in
 * the message at once, so pgo_msg_free releases them even when a later read
 * fails.
 */
#include "cdc/pgoutput_int.h"
#include "util/xalloc.h"

bool
pgo_decode_begin(struct pgo_cursor *c, struct pgo_msg *m)
{
	struct pgo_begin *b = &m->u.begin;

	return pgo_read_u64(c, "final LSN", &b->final_lsn) &&
		pgo_read_i64(c, "commit timestamp", &b->commit_time) &&
		pgo_read_u32(c, "transaction id", &b->xid);
}

bool
pgo_decode_commit(struct pgo_cursor *c, struct pgo_msg *m)
{
	struct pgo_commit *k = &m->u.commit;

	return pgo_read_u8(c, "flags", &k->flags) &&
		pgo_read_u64(c, "commit LSN", &k->commit_lsn) &&
		pgo_read_u64(c, "end LSN", &k->end_lsn) &&
		pgo_read_i64(c, "commit timestamp", &k->commit_time);
}

bool
pgo_decode_origin(struct pgo_cursor *c, struct pgo_msg *m)
{
	struct pgo_origin *o = &m->u.origin;

	return pgo_read_u64(c, "origin LSN", &o->lsn) &&
		pgo_read_string(c, "origin name", &o->name);
}

static bool
read_replident(struct pgo_cursor *c, char *out)
{
	size_t at = c->pos;
	uint8_t r;

	if (!pgo_read_u8(c, "replica identity", &r))
		return false;
	if (r != 'd' && r != 'n' && r != 'f' && r != 'i')
		return pgs_fail(c->err, "invalid %s message: unknown replica identity 0x%02x at offset %zu",
						c->msgname, r, at);
	*out = (char) r;
	return true;
}

static bool
read_column(struct pgo_cursor *c, struct pgo_column *col)
{
	return pgo_read_u8(c, "column flags", &col->flags) &&
		pgo_read_string(c, "column name", &col->name) &&
		pgo_read_u32(c, "column type oid", &col->type_oid) &&
		pgo_read_i32(c, "column type modifier", &col->typmod);
}

bool
pgo_decode_relation(struct pgo_cursor *c, struct pgo_msg *m)
{
	struct pgo_relation *r = &m->u.relation;
	uint16_t n;

	if (!pgo_read_u32(c, "relation id", &r->relid) ||
		!pgo_read_string(c, "namespace name", &r->nspname) ||
		!pgo_read_string(c, "relation name", &r->relname) ||
		!read_replident(c, &r->replident) ||
		!pgo_read_count16(c, "number of columns", &n))
		return false;
	/* a column takes at least 10 bytes: refuse a count the message cannot
	 * hold before allocating for it */
	if (!pgo_need(c, "columns", (size_t) n * 10))
		return false;
	r->cols = n ? xcalloc(n, sizeof(*r->cols)) : NULL;
	r->ncols = n;
	for (uint16_t i = 0; i < n; i++) {
		if (!read_column(c, &r->cols[i])) {
			pgs_error_detail(c->err, "in column %u of %u", i + 1u, (unsigned) n);
			return false;
		}
	}
	return true;
}

bool
pgo_decode_type(struct pgo_cursor *c, struct pgo_msg *m)
{
	struct pgo_type *t = &m->u.type;

	return pgo_read_u32(c, "type oid", &t->oid) &&
		pgo_read_string(c, "namespace name", &t->nspname) &&
		pgo_read_string(c, "type name", &t->name);
}

static bool
read_value(struct pgo_cursor *c, struct pgo_value *v)
{
	uint8_t kind;

	if (!pgo_read_u8(c, "column kind", &kind))
		return false;
	switch (kind) {
		case PGO_VALUE_NULL:
		case PGO_VALUE_UNCHANGED:
			v->kind = (enum pgo_value_kind) kind;
			return true;
		case PGO_VALUE_TEXT:
		case PGO_VALUE_BINARY:
			v->kind = (enum pgo_value_kind) kind;
			return pgo_read_len(c, "column length", &v->len) &&
				pgo_read_bytes(c, "column value", v->len, &v->data);
		default:
			return pgs_fail(c->err, "invalid %s message: unknown column kind 0x%02x at offset %zu",
							c->msgname, kind, c->pos - 1);
	}
}

static bool
read_tuple(struct pgo_cursor *c, struct pgo_tuple *t)
{
	uint16_t n;

	if (!pgo_read_count16(c, "number of columns", &n))
		return false;
	/* every column takes at least its kind byte */
	if (!pgo_need(c, "column data", n))
		return false;
	t->cols = n ? xcalloc(n, sizeof(*t->cols)) : NULL;
	t->ncols = n;
	for (uint16_t i = 0; i < n; i++) {
		if (!read_value(c, &t->cols[i])) {
			pgs_error_detail(c->err, "in column %u of %u", i + 1u, (unsigned) n);
			return false;
		}
	}
	return true;
}

/* Reads the byte that names the next tuple and checks it is one of want. */
static bool
read_tuple_tag(struct pgo_cursor *c, const char *want, char *out)
{
	size_t at = c->pos;
	uint8_t tag;

	if (!pgo_read_u8(c, "tuple type", &tag))
		return false;
	for (const char *w = want; *w; w++) {
		if (tag == (uint8_t) *w) {
			*out = (char) tag;
			return true;
		}
	}
	return pgs_fail(c->err, "invalid %s message: expected tuple type %s at offset %zu, found 0x%02x",
					c->msgname, want[1] ? (want[2] ? "'K', 'O' or 'N'" : "'K' or 'O'") : "'N'",
					at, tag);
}

bool
pgo_decode_insert(struct pgo_cursor *c, struct pgo_msg *m)
{
	struct pgo_change *ch = &m->u.change;
	char tag;

	return pgo_read_u32(c, "relation id", &ch->relid) &&
		read_tuple_tag(c, "N", &tag) &&
		read_tuple(c, &ch->new);
}

bool
pgo_decode_update(struct pgo_cursor *c, struct pgo_msg *m)
{
	struct pgo_change *ch = &m->u.change;
	char tag;

	if (!pgo_read_u32(c, "relation id", &ch->relid) ||
		!read_tuple_tag(c, "KON", &tag))
		return false;
	if (tag != 'N') {
		/* the old key or row comes first, only when the server sent one */
		ch->old_kind = tag;
		if (!read_tuple(c, &ch->old) || !read_tuple_tag(c, "N", &tag))
			return false;
	}
	return read_tuple(c, &ch->new);
}

bool
pgo_decode_delete(struct pgo_cursor *c, struct pgo_msg *m)
{
	struct pgo_change *ch = &m->u.change;

	return pgo_read_u32(c, "relation id", &ch->relid) &&
		read_tuple_tag(c, "KO", &ch->old_kind) &&
		read_tuple(c, &ch->old);
}

bool
pgo_decode_truncate(struct pgo_cursor *c, struct pgo_msg *m)
{
	struct pgo_truncate *t = &m->u.truncate;

	if (!pgo_read_len(c, "number of relations", &t->nrelids) ||
		!pgo_read_u8(c, "options", &t->options) ||
		!pgo_need(c, "relation ids", (size_t) t->nrelids * 4))
		return false;
	t->relids = t->nrelids ? xcalloc(t->nrelids, sizeof(*t->relids)) : NULL;
	for (uint32_t i = 0; i < t->nrelids; i++) {
		if (!pgo_read_u32(c, "relation id", &t->relids[i]))
			return false;
	}
	return true;
}

bool
pgo_decode_message(struct pgo_cursor *c, struct pgo_msg *m)
{
	struct pgo_message *x = &m->u.message;

	return pgo_read_u8(c, "flags", &x->flags) &&
		pgo_read_u64(c, "message LSN", &x->lsn) &&
		pgo_read_string(c, "prefix", &x->prefix) &&
		pgo_read_len(c, "content length", &x->len) &&
		pgo_read_bytes(c, "content", x->len, &x->content);
}

bool
pgo_decode_stream_start(struct pgo_cursor *c, struct pgo_msg *m)
{
	struct pgo_stream_start *s = &m->u.stream_start;
	size_t at;
	uint8_t first;

	if (!pgo_read_u32(c, "transaction id", &s->xid))
		return false;
	at = c->pos;
	if (!pgo_read_u8(c, "first segment flag", &first))
		return false;
	if (first > 1)
		return pgs_fail(c->err, "invalid %s message: first segment flag is 0x%02x at offset %zu, expected 0 or 1",
						c->msgname, first, at);
	s->first_segment = first == 1;
	return true;
}

bool
pgo_decode_stream_commit(struct pgo_cursor *c, struct pgo_msg *m)
{
	struct pgo_stream_commit *s = &m->u.stream_commit;

	return pgo_read_u32(c, "transaction id", &s->xid) &&
		pgo_read_u8(c, "flags", &s->flags) &&
		pgo_read_u64(c, "commit LSN", &s->commit_lsn) &&
		pgo_read_u64(c, "end LSN", &s->end_lsn) &&
		pgo_read_i64(c, "commit timestamp", &s->commit_time);
}

bool
pgo_decode_stream_abort(struct pgo_cursor *c, struct pgo_msg *m)
{
	struct pgo_stream_abort *s = &m->u.stream_abort;

	return pgo_read_u32(c, "transaction id", &s->xid) &&
		pgo_read_u32(c, "subtransaction id", &s->subxid);
}
