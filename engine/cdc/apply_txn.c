/*
 * Spool records, one by one, into source transactions applied in commit
 * order (the record rules are in cdc_receive.h):
 *
 *   - A plain transaction's change records are copied into memory from
 *     Begin to Commit and applied at Commit. pgoutput sends a transaction
 *     larger than logical_decoding_work_mem as a stream instead, so this
 *     copy stays bounded; and a receiver restart ('x') in the middle simply
 *     drops it, as nothing of it went to the target yet.
 *   - A streamed transaction is NOT held: its chunks stay in the spool and
 *     only the place of its first Stream Start (LSN and how many records of
 *     that LSN precede it) and its rolled-back subtransactions are kept. At
 *     Stream Commit a second reader reads the chunks back from there and
 *     applies the changes of that xid, except those of aborted
 *     subtransactions (changes carry their subxid). Stream Abort of the
 *     whole xid forgets it.
 *   - Already applied (a restart re-reads the spool from its oldest
 *     segment): a transaction whose commit record starts before the applied
 *     LSN is skipped, because the applied LSN commits with the data.
 *   - Changes go through apply_batch.c, which coalesces them per row key
 *     within the target transaction.
 *   - The target transaction is committed (with the applied LSN) at a
 *     source commit once it holds batch_changes changes or is batch_ms old,
 *     and whenever the spool has nothing more: only whole source
 *     transactions are ever committed.
 */
#include <stdlib.h>
#include <string.h>

#include "cdc/apply_int.h"
#include "cdc/cdc_receive.h"
#include "util/test_crash.h"
#include "util/xalloc.h"

static struct apply_stream *
find_stream(struct cdc_applier *a, uint32_t xid)
{
	for (size_t i = 0; i < a->nstreams; i++)
		if (a->streams[i].xid == xid)
			return &a->streams[i];
	return NULL;
}

static void
drop_stream(struct cdc_applier *a, uint32_t xid)
{
	struct apply_stream *s = find_stream(a, xid);

	if (!s)
		return;
	free(s->aborted);
	*s = a->streams[--a->nstreams];
}

static void
txn_reset(struct apply_txn *t)
{
	t->open = false;
	t->skip = false;
	buf_reset(&t->data);
	t->n = 0;
}

/* A receiver restart: what is open will be sent again from its start. */
static void
restart(struct cdc_applier *a)
{
	txn_reset(&a->txn);
	while (a->nstreams > 0)
		drop_stream(a, a->streams[0].xid);
	a->in_stream = false;
	a->synced = true;
}

bool
apply_fail_ctx(struct pgs_error *err, const char *table, const struct apply_ctx *ctx)
{
	char lsn[PGO_LSN_TEXT_SIZE];

	apply_lsn_text(ctx->commit_lsn, lsn);
	if (table)
		pgs_error_prefix(err, "could not apply a change to table \"%s\" (source transaction %u,"
						 " commit %s)", table, ctx->xid, lsn);
	else
		pgs_error_prefix(err, "could not apply source transaction %u (commit %s)", ctx->xid, lsn);
	return false;
}

/* Relation messages, changes and DDL messages; Type and Origin need nothing. */
static bool
apply_msg(struct cdc_applier *a, const struct pgo_msg *m, const struct apply_ctx *ctx,
		  struct pgs_error *err)
{
	switch (m->kind) {
		case PGO_INSERT:
		case PGO_UPDATE:
		case PGO_DELETE:
			if (apply_rel_in_resync_copy(a, m->u.change.relid, ctx->commit_lsn))
				return true;
			return apply_target_begin(&a->tgt, err) && apply_batch_change(a, m, ctx, err);
		case PGO_TRUNCATE:
			return apply_target_begin(&a->tgt, err) && apply_batch_send(a, err) &&
				apply_truncate(a, &m->u.truncate, ctx, err);
		case PGO_MESSAGE:
			return apply_ddl_message(a, &m->u.message, ctx, err);
		default:
			return true;
	}
}

static bool
decode_at(const uint8_t *buf, size_t len, bool in_stream, uint64_t lsn, struct pgo_msg *m,
		  struct pgs_error *err)
{
	char at[PGO_LSN_TEXT_SIZE];

	if (pgo_decode(buf, len, in_stream, m, err))
		return true;
	apply_lsn_text(lsn, at);
	pgs_error_prefix(err, "could not decode the spool record at %s", at);
	return false;
}

/*
 * A Relation message, in its place among the changes: the rows coalesced
 * before it were read with the relation's old columns, the changes after it
 * have the new ones (a DDL of the same transaction).
 */
static bool
on_relation(struct cdc_applier *a, const struct pgo_msg *m, const uint8_t *raw, size_t len,
			struct pgs_error *err)
{
	if (!apply_batch_send(a, err))
		return false;
	apply_rel_message(a, &m->u.relation, raw, (uint32_t) len, m->stream_xid != 0);
	return true;
}

/* A source transaction is done: count it, and commit the batch when it is big or old. */
static bool
source_committed(struct cdc_applier *a, uint64_t end_lsn, int64_t commit_time,
				 struct pgs_error *err)
{
	if (end_lsn > a->next_applied)
		a->next_applied = end_lsn;
	a->next_commit_time = commit_time;
	a->batch_txns++;
	/* a DDL commits at once: the next change is decoded for the catalog it made */
	if (a->tgt.in_txn && (a->ddl_in_txn || a->tgt.changes >= a->batch_changes ||
						  apply_now_us() - a->tgt.started_us >= (int64_t) a->batch_ms * 1000))
		return apply_flush(a, err);
	return true;
}

/* ---- plain transactions ---- */

static bool
on_begin(struct cdc_applier *a, const struct pgo_begin *b, struct pgs_error *err)
{
	char at[PGO_LSN_TEXT_SIZE];

	if (a->txn.open) {
		apply_lsn_text(a->pos.lsn, at);
		return pgs_fail(err, "the spool has a Begin inside transaction %u at %s", a->txn.xid, at);
	}
	a->synced = true;
	a->txn.open = true;
	a->txn.xid = b->xid;
	a->txn.final_lsn = b->final_lsn;
	a->txn.skip = b->final_lsn < a->next_applied;
	return true;
}

static void
hold(struct apply_txn *t, const struct spool_record *rec)
{
	if (t->skip)
		return;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 256;
		t->ends = xrealloc(t->ends, t->cap * sizeof(size_t));
	}
	buf_append(&t->data, rec->payload, rec->len);
	t->ends[t->n++] = t->data.len;
}

static bool
on_commit(struct cdc_applier *a, const struct pgo_commit *c, struct pgs_error *err)
{
	struct apply_ctx ctx = {a->txn.xid, c->commit_lsn};
	size_t start = 0;
	bool ok = true;

	if (!a->txn.open)
		return a->synced ? pgs_fail(err, "the spool has a Commit without its Begin") : true;
	a->synced = true;
	if (a->txn.skip) {
		txn_reset(&a->txn);
		return true;
	}
	for (size_t i = 0; i < a->txn.n && ok; i++) {
		struct pgo_msg m;

		const uint8_t *raw = (const uint8_t *) a->txn.data.data + start;

		ok = decode_at(raw, a->txn.ends[i] - start, false, c->commit_lsn, &m, err);
		if (ok && m.kind == PGO_RELATION)
			ok = on_relation(a, &m, raw, a->txn.ends[i] - start, err);
		else
			ok = ok && apply_msg(a, &m, &ctx, err);
		pgo_msg_free(&m);
		start = a->txn.ends[i];
	}
	txn_reset(&a->txn);
	return ok && source_committed(a, c->end_lsn, c->commit_time, err);
}

/* ---- streamed transactions ---- */

static bool
on_stream_start(struct cdc_applier *a, const struct pgo_stream_start *s)
{
	struct apply_stream *st = find_stream(a, s->xid);

	a->synced = true;
	a->in_stream = true;
	a->stream_xid = s->xid;
	if (st && !s->first_segment)
		return true;
	if (!st) {
		a->streams = xrealloc(a->streams, (a->nstreams + 1) * sizeof(*a->streams));
		st = &a->streams[a->nstreams++];
	} else {
		free(st->aborted);
	}
	*st = (struct apply_stream) {s->xid, a->pos, !s->first_segment, NULL, 0};
	return true;
}

static void
on_stream_abort(struct cdc_applier *a, const struct pgo_stream_abort *s)
{
	struct apply_stream *st = find_stream(a, s->xid);

	if (s->xid == s->subxid) {
		drop_stream(a, s->xid);
		return;
	}
	if (!st)
		return;
	st->aborted = xrealloc(st->aborted, (st->naborted + 1) * sizeof(uint32_t));
	st->aborted[st->naborted++] = s->subxid;
}

static bool
aborted(const struct apply_stream *st, uint32_t subxid)
{
	for (size_t i = 0; i < st->naborted; i++)
		if (st->aborted[i] == subxid)
			return true;
	return false;
}

/* One record read back: applies it when it is a change of st's chunks. */
static bool
replay_one(struct cdc_applier *a, const struct apply_stream *st, const struct spool_record *rec,
		   bool *in, uint32_t *chunk_xid, bool *done, const struct apply_ctx *ctx,
		   struct pgs_error *err)
{
	struct pgo_msg m;
	bool ok = true;

	if (rec->type == CDC_REC_KEEPALIVE)
		return true;
	if (rec->type == CDC_REC_RESTART)
		return pgs_fail(err, "a receiver restart lies inside streamed transaction %u", st->xid);
	if (!decode_at(rec->payload, rec->len, *in, rec->lsn, &m, err))
		return false;
	if (m.kind == PGO_STREAM_START) {
		*in = true;
		*chunk_xid = m.u.stream_start.xid;
	} else if (m.kind == PGO_STREAM_STOP) {
		*in = false;
	} else if (m.kind == PGO_STREAM_COMMIT && m.u.stream_commit.xid == st->xid) {
		*done = true;
	} else if (*in && *chunk_xid == st->xid && !aborted(st, m.stream_xid)) {
		/* read live already; again here, so each change meets the shape it was sent with */
		ok = m.kind == PGO_RELATION ? on_relation(a, &m, rec->payload, rec->len, err)
			: apply_msg(a, &m, ctx, err);
	}
	pgo_msg_free(&m);
	return ok;
}

/* Reads st's chunks back from the spool, from its first Stream Start to its commit. */
static bool
replay_stream(struct cdc_applier *a, const struct apply_stream *st, const struct apply_ctx *ctx,
			  struct pgs_error *err)
{
	struct spool_reader *r;
	struct spool_record rec;
	uint32_t chunk_xid = 0, skip = st->first.eq;
	bool in = false, done = false, ok = true;
	int got = 1;

	if (!spool_open_reader(a->spool_dir, st->first.lsn, &r, err))
		return false;
	while (ok && !done && (got = spool_next(r, &rec, err)) == 1) {
		if (skip > 0 && rec.lsn == st->first.lsn) {
			skip--;
			continue;
		}
		ok = replay_one(a, st, &rec, &in, &chunk_xid, &done, ctx, err);
	}
	spool_close_reader(r);
	if (ok && got == 0 && !done)
		ok = pgs_fail(err, "the spool ended before the commit of streamed transaction %u",
					  st->xid);
	return ok && got >= 0;
}

static bool
on_stream_commit(struct cdc_applier *a, const struct pgo_stream_commit *c, struct pgs_error *err)
{
	struct apply_stream *st = find_stream(a, c->xid);
	struct apply_ctx ctx = {c->xid, c->commit_lsn};
	bool ok;

	a->synced = true;
	if (c->commit_lsn < a->next_applied) {
		drop_stream(a, c->xid);
		return true;            /* applied before a restart */
	}
	if (!st || st->incomplete) {
		pgs_fail(err, "the first chunk of streamed transaction %u is not in the spool", c->xid);
		pgs_error_detail(err, "the spool was read from a later position than the transaction"
						 " began at");
		return apply_fail_ctx(err, NULL, &ctx);
	}
	ok = replay_stream(a, st, &ctx, err);
	drop_stream(a, c->xid);
	return ok && source_committed(a, c->end_lsn, c->commit_time, err);
}

/* ---- records ---- */

static bool
change_outside(struct cdc_applier *a, const struct spool_record *rec, const struct pgo_msg *m,
			   struct pgs_error *err)
{
	char at[PGO_LSN_TEXT_SIZE];

	if (a->in_stream)
		return true;            /* read back at its Stream Commit */
	if (a->txn.open) {
		hold(&a->txn, rec);
		return true;
	}
	if (!a->synced)
		return true;            /* the tail of a transaction applied before the spool we read */
	apply_lsn_text(rec->lsn, at);
	return pgs_fail(err, "the spool has a %s outside any transaction at %s",
					pgo_kind_name(m->kind), at);
}

static bool
dispatch(struct cdc_applier *a, const struct spool_record *rec, const struct pgo_msg *m,
		 struct pgs_error *err)
{
	switch (m->kind) {
		case PGO_BEGIN:
			return on_begin(a, &m->u.begin, err);
		case PGO_COMMIT:
			return on_commit(a, &m->u.commit, err);
		case PGO_RELATION:
			return on_relation(a, m, rec->payload, rec->len, err);
		case PGO_INSERT:
		case PGO_UPDATE:
		case PGO_DELETE:
		case PGO_TRUNCATE:
			return change_outside(a, rec, m, err);
		case PGO_STREAM_START:
			return on_stream_start(a, &m->u.stream_start);
		case PGO_STREAM_STOP:
			a->in_stream = false;
			return true;
		case PGO_STREAM_ABORT:
			on_stream_abort(a, &m->u.stream_abort);
			return true;
		case PGO_STREAM_COMMIT:
			return on_stream_commit(a, &m->u.stream_commit, err);
		default:
			return true;        /* Type, Origin, Message */
	}
}

/* Keepalive: nothing is open on the source before lsn, so every commit before it is here. */
static void
on_keepalive(struct cdc_applier *a, uint64_t lsn)
{
	a->synced = true;
	if (!a->txn.open && lsn > a->next_applied)
		a->next_applied = lsn;
}

bool
apply_record(struct cdc_applier *a, const struct spool_record *rec, struct pgs_error *err)
{
	struct pgo_msg m;
	bool ok;

	if (rec->lsn != a->pos.lsn)
		a->eq_next = 0;
	a->pos = (struct apply_pos) {rec->lsn, a->eq_next++};
	if (rec->type == CDC_REC_RESTART) {
		restart(a);
		return true;
	}
	if (rec->type == CDC_REC_KEEPALIVE) {
		on_keepalive(a, rec->lsn);
		return true;
	}
	/*
	 * Before the first transaction boundary, the oldest segment may start in
	 * the middle of a stream chunk, whose records cannot even be decoded
	 * without knowing that. They belong to transactions applied (or aborted)
	 * before the spool was collected, and their Relation messages are in the
	 * relation file: skip them unread.
	 */
	if (!a->synced && rec->type && strchr("IUDTRYOM", rec->type))
		return true;
	/*
	 * A plain transaction's change, message or Relation is decoded once, at
	 * its Commit, in order; a skipped one's Relation still counts for later
	 * transactions.
	 */
	if (a->txn.open && !a->in_stream && rec->type &&
		(strchr("IUDTM", rec->type) || (rec->type == 'R' && !a->txn.skip))) {
		hold(&a->txn, rec);
		return true;
	}
	if (!decode_at(rec->payload, rec->len, a->in_stream, rec->lsn, &m, err))
		return false;
	ok = dispatch(a, rec, &m, err);
	pgo_msg_free(&m);
	return ok;
}

bool
apply_flush(struct cdc_applier *a, struct pgs_error *err)
{
	if (!a->tgt.in_txn && a->next_applied <= a->applied)
		return true;
	if (!apply_batch_send(a, err) ||
		!apply_target_commit(&a->tgt, a->plan_name, a->next_applied, a->next_commit_time, err))
		return false;
	if (a->tgt.changes > 0)
		test_crash_point("cdc.applied", NULL);
	apply_batch_reset(&a->batch);
	a->applied = a->next_applied;
	atomic_store(&a->applied_lsn, a->applied);
	if (a->next_commit_time)
		atomic_store(&a->commit_time, a->next_commit_time);
	atomic_fetch_add(&a->changes, (unsigned long long) a->tgt.changes);
	atomic_fetch_add(&a->transactions, (unsigned long long) a->batch_txns);
	atomic_fetch_add(&a->batches, 1);
	a->tgt.changes = 0;
	a->batch_txns = 0;
	return apply_ddl_committed(a, err);
}

uint64_t
apply_keep_lsn(const struct cdc_applier *a)
{
	uint64_t keep = a->applied;

	for (size_t i = 0; i < a->nstreams; i++)
		if (!a->streams[i].incomplete && a->streams[i].first.lsn < keep)
			keep = a->streams[i].first.lsn;
	return keep;
}

void
apply_txn_state_reset(struct cdc_applier *a)
{
	restart(a);
	a->synced = false;
	a->pos = (struct apply_pos) {0};
	a->eq_next = 0;
	a->batch_txns = 0;
	a->next_commit_time = 0;
}

void
apply_txn_state_free(struct cdc_applier *a)
{
	restart(a);
	buf_free(&a->txn.data);
	free(a->txn.ends);
	a->txn.ends = NULL;
	a->txn.cap = 0;
	free(a->streams);
	a->streams = NULL;
}
