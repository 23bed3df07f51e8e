/*
 * The pgoutput decoder on bytes captured from a real PostgreSQL 15 server
 * (tests/lib/capture_pgoutput.sh -> pgoutput_fixtures.h): every captured
 * message decodes, chosen ones field by field, values byte for byte (NULL,
 * 'null', 'NULL', '' and unchanged TOAST told apart), and broken input --
 * every truncation of real messages, unknown types, negative lengths --
 * fails with a message that names the type, the offset and the problem.
 * Every message is decoded from a heap copy of exactly its size, so `make
 * asan` catches any read past the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/pgoutput.h"
#include "cdc/relcache.h"
#include "util/error.h"
#include "util/xalloc.h"
#include "pgoutput_fixtures.h"
#include "tap.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A heap copy of exactly the message's bytes. */
static uint8_t *
unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *out = xmalloc(n ? n : 1);

	for (size_t i = 0; i < n; i++) {
		unsigned byte;

		sscanf(hex + 2 * i, "%2x", &byte);
		out[i] = (uint8_t) byte;
	}
	*len = n;
	return out;
}

static const char *
lsn(uint64_t v)
{
	static char ring[8][PGO_LSN_TEXT_SIZE];
	static int next;
	char *out = ring[next++ % 8];

	pgo_lsn_text(v, out);
	return out;
}

/* Decodes fixture f; the caller frees *buf after pgo_msg_free. */
static bool
decode_fixture(const struct pgoutput_fixture *f, bool in_stream, struct pgo_msg *m, uint8_t **buf,
			   struct pgs_error *err)
{
	size_t len;

	*buf = unhex(f->hex, &len);
	pgs_error_clear(err);
	return pgo_decode(*buf, len, in_stream, m, err);
}

/* ---- whole captures ------------------------------------------------- */

/*
 * Decodes a capture in order, tracking Stream Start/Stop as a receiver
 * would, and cross-checks what the server's own peek columns say: a
 * Begin's xid, a Commit's end LSN, a Stream Commit's xid.
 */
static void
walk_capture(const char *name, const struct pgoutput_fixture *fx, size_t n,
			 struct pgo_relcache *rc)
{
	bool in_stream = false, all_ok = true, cross_ok = true, refs_ok = true;
	char what[128];

	for (size_t i = 0; i < n; i++) {
		struct pgs_error err;
		struct pgo_msg m;
		uint8_t *buf;

		if (!decode_fixture(&fx[i], in_stream, &m, &buf, &err)) {
			printf("# %s[%zu]: %s\n", name, i, err.message);
			all_ok = false;
			free(buf);
			continue;
		}
		if (m.kind != buf[0])
			all_ok = false;
		switch (m.kind) {
			case PGO_BEGIN:
				cross_ok &= m.u.begin.xid == fx[i].xid;
				break;
			case PGO_COMMIT:
				cross_ok &= strcmp(lsn(m.u.commit.end_lsn), fx[i].lsn) == 0;
				break;
			case PGO_STREAM_COMMIT:
				cross_ok &= m.u.stream_commit.xid == fx[i].xid &&
					strcmp(lsn(m.u.stream_commit.end_lsn), fx[i].lsn) == 0;
				break;
			case PGO_STREAM_START:
				in_stream = true;
				break;
			case PGO_STREAM_STOP:
				in_stream = false;
				break;
			case PGO_RELATION:
				pgo_relcache_put(rc, &m.u.relation, NULL);
				break;
			case PGO_INSERT:
			case PGO_UPDATE:
			case PGO_DELETE:
				/* pgoutput sends a Relation before a table's first change */
				refs_ok &= pgo_relcache_get(rc, m.u.change.relid) != NULL;
				break;
			default:
				break;
		}
		pgo_msg_free(&m);
		free(buf);
	}
	snprintf(what, sizeof(what), "%s: all %zu captured messages decode", name, n);
	ok(all_ok, what);
	snprintf(what, sizeof(what), "%s: xids and end LSNs agree with the server's peek columns", name);
	ok(cross_ok, what);
	snprintf(what, sizeof(what), "%s: every change names a relation already described", name);
	ok(refs_ok, what);
	snprintf(what, sizeof(what), "%s: ends outside a stream", name);
	ok(!in_stream, what);
}

/* ---- changes, value by value ---------------------------------------- */

struct col {
	char kind;
	const char *bytes;
	size_t len;
};

#define N {'n', NULL, 0}
#define U {'u', NULL, 0}
#define T(s) {'t', s, sizeof(s) - 1}
#define B(s) {'b', s, sizeof(s) - 1}
#define X10 "xxxxxxxxxx"
#define X X10 X10 X10 X10 X10   /* 50 */

static const struct change_case {
	const char *what;
	const struct pgoutput_fixture *fx;
	int index;
	bool in_stream;
	char kind;
	uint32_t stream_xid;
	const char *relname;
	char old_kind;
	int nold;
	struct col old[5];
	int nnew;
	struct col new[5];
} changes[] = {
	{"insert of NULLs", pgoutput_v1, 3, false, 'I', 0, "t_vals", 0, 0, {{0}},
	 4, {T("1"), N, N, N}},
	{"insert of the text 'null', a bytea, an enum", pgoutput_v1, 4, false, 'I', 0, "t_vals", 0, 0,
	 {{0}}, 4, {T("2"), T("null"), T("\\x00ff27"), T("happy")}},
	{"insert of 'NULL' and an empty bytea", pgoutput_v1, 5, false, 'I', 0, "t_vals", 0, 0, {{0}},
	 4, {T("3"), T("NULL"), T("\\x"), T("sad")}},
	{"insert of a quote", pgoutput_v1, 6, false, 'I', 0, "t_vals", 0, 0, {{0}},
	 4, {T("4"), T("it's"), N, T("ok")}},
	{"insert of the empty string", pgoutput_v1, 7, false, 'I', 0, "t_vals", 0, 0, {{0}},
	 4, {T("5"), T(""), N, N}},
	{"insert of unicode, backslash, double quotes", pgoutput_v1, 8, false, 'I', 0, "t_vals", 0, 0,
	 {{0}}, 4, {T("6"), T("h\xc3\xa9llo \xe2\x98\x83 \xe6\x97\xa5\xe6\x9c\xac \\ \"q\""), N, N}},
	{"update of another column: TOASTed value unchanged ('u')", pgoutput_v1, 15, false, 'U', 0,
	 "t_toast", 0, 0, {{0}}, 3, {T("1"), U, T("1")}},
	{"update of the key: old key (K)", pgoutput_v1, 18, false, 'U', 0, "t_vals", 'K',
	 4, {T("1"), N, N, N}, 4, {T("10"), N, N, N}},
	{"update keeping the key: no old tuple", pgoutput_v1, 21, false, 'U', 0, "t_vals", 0, 0, {{0}},
	 4, {T("2"), T("still null?"), T("\\x00ff27"), T("happy")}},
	{"delete: old key (K)", pgoutput_v1, 24, false, 'D', 0, "t_vals", 'K',
	 4, {T("3"), N, N, N}, 0, {{0}}},
	{"update with REPLICA IDENTITY FULL: old row (O)", pgoutput_v1, 28, false, 'U', 0, "t_full",
	 'O', 2, {T("1"), T("a")}, 2, {T("1"), T("b")}},
	{"delete with REPLICA IDENTITY FULL: old row (O) with a NULL", pgoutput_v1, 31, false, 'D', 0,
	 "t_full", 'O', 2, {T("2"), N}, 0, {{0}}},
	{"insert from a replication origin", pgoutput_v1, 48, false, 'I', 0, "t_vals", 0, 0, {{0}},
	 4, {T("7"), T("from upstream"), N, N}},
	{"binary insert: int4, text, bytea, float8, bool", pgoutput_v1_binary, 2, false, 'I', 0,
	 "t_bin", 0, 0, {{0}}, 5,
	 {B("\x00\x00\x00\x01"), B("null"), B("\xde\xad\xbe\xef"),
	  B("\x3f\xf8\x00\x00\x00\x00\x00\x00"), B("\x01")}},
	{"binary insert of NULLs", pgoutput_v1_binary, 3, false, 'I', 0, "t_bin", 0, 0, {{0}},
	 5, {B("\x00\x00\x00\x02"), N, N, N, N}},
	{"streamed insert", pgoutput_v2_stream, 7, true, 'I', 754, "t_stream", 0, 0, {{0}},
	 3, {T("1"), T("ok"), T(X X)}},
	{"streamed update, by a subtransaction", pgoutput_v2_stream, 59, true, 'U', 756, "t_stream",
	 0, 0, {{0}}, 3, {T("1"), T("happy"), T(X X)}},
	{"streamed delete: old key (K)", pgoutput_v2_stream, 60, true, 'D', 756, "t_stream", 'K',
	 3, {T("2"), N, N}, 0, {{0}}},
	{"streamed insert after a truncate", pgoutput_v2_stream, 64, true, 'I', 756, "t_stream",
	 0, 0, {{0}}, 3, {T("9"), N, T("last")}},
	{"insert after a streamed abort, not streamed", pgoutput_v2_stream, 73, false, 'I', 0,
	 "t_stream", 0, 0, {{0}}, 3, {T("10"), T("ok"), T("after abort")}},
};

static bool
same_value(const struct pgo_value *v, const struct col *want)
{
	if ((char) v->kind != want->kind)
		return false;
	if (want->bytes == NULL)
		return v->data == NULL && v->len == 0;
	return v->len == want->len && v->data != NULL && memcmp(v->data, want->bytes, want->len) == 0;
}

static void
is_tuple(const struct pgo_tuple *t, int n, const struct col *want, const char *what,
		 const char *which)
{
	char name[256];
	bool same = t->ncols == n;

	for (int i = 0; same && i < n; i++) {
		if (!same_value(&t->cols[i], &want[i])) {
			printf("# column %d: kind '%c' len %u\n", i + 1, t->cols[i].kind, t->cols[i].len);
			same = false;
		}
	}
	snprintf(name, sizeof(name), "%s: %s tuple", what, which);
	ok(same, name);
}

static void
check_change(const struct change_case *c, const struct pgo_relcache *rc)
{
	const struct pgo_relation *rel;
	struct pgs_error err;
	struct pgo_msg m;
	uint8_t *buf;
	char name[256];

	if (!ok(decode_fixture(&c->fx[c->index], c->in_stream, &m, &buf, &err), c->what)) {
		printf("# %s\n", err.message);
		free(buf);
		return;
	}
	snprintf(name, sizeof(name), "%s: kind %c, streamed xid %u", c->what, c->kind,
			 (unsigned) c->stream_xid);
	ok((char) m.kind == c->kind && m.stream_xid == c->stream_xid, name);
	rel = pgo_relcache_get(rc, m.u.change.relid);
	snprintf(name, sizeof(name), "%s: relation", c->what);
	is_str(rel ? rel->relname : NULL, c->relname, name);
	snprintf(name, sizeof(name), "%s: old tuple kind", c->what);
	is_int(m.u.change.old_kind, c->old_kind, name);
	is_tuple(&m.u.change.old, c->nold, c->old, c->what, "old");
	is_tuple(&m.u.change.new, c->nnew, c->new, c->what, "new");
	pgo_msg_free(&m);
	free(buf);
}

/* The > 8kB value stored out of line arrives whole in the insert. */
static void
check_toast_insert(void)
{
	struct pgs_error err;
	struct pgo_msg m;
	uint8_t *buf;
	const struct pgo_value *big;
	bool pattern = true;

	ok(decode_fixture(&pgoutput_v1[12], false, &m, &buf, &err), "TOASTed insert decodes");
	big = &m.u.change.new.cols[1];
	is_int(big->kind, 't', "TOASTed insert: text value");
	is_int(big->len, 8200, "TOASTed insert: all 8200 bytes");
	for (uint32_t i = 0; i < big->len; i++)
		pattern &= big->data[i] == "abcdefghij"[i % 10];
	ok(pattern, "TOASTed insert: the bytes of repeat('abcdefghij', 820)");
	pgo_msg_free(&m);
	free(buf);
}

/* ---- the other message types, field by field ------------------------ */

static struct pgo_msg msg;
static uint8_t *msgbuf;

static bool
load(const struct pgoutput_fixture *fx, int index, bool in_stream, const char *what)
{
	struct pgs_error err;

	pgo_msg_free(&msg);
	free(msgbuf);
	if (decode_fixture(&fx[index], in_stream, &msg, &msgbuf, &err))
		return ok(1, what);
	printf("# %s\n", err.message);
	return ok(0, what);
}

static void
check_transaction_messages(void)
{
	if (load(pgoutput_v1, 0, false, "Begin")) {
		is_int(msg.kind, PGO_BEGIN, "Begin: kind");
		is_str(lsn(msg.u.begin.final_lsn), "0/1533C20", "Begin: final LSN");
		is_int(msg.u.begin.xid, 741, "Begin: xid");
		is_int(msg.u.begin.commit_time, INT64_C(0x000303bc0e9bfcf5), "Begin: commit time");
	}
	if (load(pgoutput_v1, 9, false, "Commit")) {
		is_int(msg.u.commit.flags, 0, "Commit: flags");
		is_str(lsn(msg.u.commit.commit_lsn), "0/1533C20", "Commit: commit LSN is Begin's final LSN");
		is_str(lsn(msg.u.commit.end_lsn), "0/1533C50", "Commit: end LSN");
		is_int(msg.u.commit.commit_time, INT64_C(0x000303bc0e9bfcf5), "Commit: Begin's commit time");
	}
	if (load(pgoutput_v1, 46, false, "Begin of a transaction from an origin"))
		is_int(msg.u.begin.commit_time, INT64_C(757479845000000),
			   "Begin: commit time set by pg_replication_origin_xact_setup, 2024-01-02 03:04:05 UTC");
	if (load(pgoutput_v1, 47, false, "Origin")) {
		is_int(msg.kind, PGO_ORIGIN, "Origin: kind");
		is_str(lsn(msg.u.origin.lsn), "0/ABCDEF", "Origin: LSN on the origin");
		is_str(msg.u.origin.name, "upstream", "Origin: name");
	}
}

static void
check_relation_messages(void)
{
	static const struct {
		const char *name;
		uint8_t flags;
		uint32_t type_oid;
	} t_vals[] = {{"id", 1, 23}, {"v", 0, 25}, {"b", 0, 17}, {"m", 0, 16385}};
	bool cols_ok = true;

	if (load(pgoutput_v1, 1, false, "Type")) {
		is_int(msg.u.type.oid, 16385, "Type: oid");
		is_str(msg.u.type.nspname, "public", "Type: namespace");
		is_str(msg.u.type.name, "mood", "Type: name");
	}
	if (load(pgoutput_v1, 2, false, "Relation")) {
		is_int(msg.u.relation.relid, 16391, "Relation: relid");
		is_str(msg.u.relation.nspname, "public", "Relation: namespace");
		is_str(msg.u.relation.relname, "t_vals", "Relation: name");
		is_int(msg.u.relation.replident, 'd', "Relation: replica identity default");
		is_int(msg.u.relation.ncols, 4, "Relation: 4 columns");
		for (size_t i = 0; i < COUNT(t_vals) && msg.u.relation.ncols == 4; i++) {
			const struct pgo_column *c = &msg.u.relation.cols[i];

			cols_ok &= strcmp(c->name, t_vals[i].name) == 0 && c->flags == t_vals[i].flags &&
				c->type_oid == t_vals[i].type_oid && c->typmod == -1;
		}
		ok(cols_ok, "Relation: names, key flag on id only, type oids, typmod -1");
	}
	if (load(pgoutput_v1, 27, false, "Relation with REPLICA IDENTITY FULL")) {
		is_int(msg.u.relation.replident, 'f', "Relation: replica identity full");
		ok(msg.u.relation.cols[0].flags == PGO_COLUMN_KEY &&
		   msg.u.relation.cols[1].flags == PGO_COLUMN_KEY,
		   "Relation: with FULL every column is in the key");
	}
	if (load(pgoutput_v2_stream, 6, true, "streamed Relation")) {
		is_int(msg.stream_xid, 754, "streamed Relation: xid");
		is_str(msg.u.relation.relname, "t_stream", "streamed Relation: name");
	}
	if (load(pgoutput_v2_stream, 5, true, "streamed Type")) {
		is_int(msg.stream_xid, 754, "streamed Type: xid");
		is_str(msg.u.type.name, "mood", "streamed Type: name");
	}
}

static void
check_truncate_and_messages(void)
{
	if (load(pgoutput_v1, 36, false, "Truncate CASCADE RESTART IDENTITY of two tables")) {
		is_int(msg.u.truncate.options, PGO_TRUNCATE_CASCADE | PGO_TRUNCATE_RESTART_IDENTITY,
			   "Truncate: cascade and restart identity");
		is_int(msg.u.truncate.nrelids, 2, "Truncate: two relations");
		ok(msg.u.truncate.relids[0] == 16411 && msg.u.truncate.relids[1] == 16417,
		   "Truncate: relids of t_tr1, t_tr2");
	}
	if (load(pgoutput_v1, 40, false, "plain Truncate")) {
		is_int(msg.u.truncate.options, 0, "Truncate: no options");
		ok(msg.u.truncate.nrelids == 1 && msg.u.truncate.relids[0] == 16405, "Truncate: t_full");
	}
	if (load(pgoutput_v2_stream, 63, true, "streamed Truncate")) {
		is_int(msg.stream_xid, 756, "streamed Truncate: xid");
		ok(msg.u.truncate.nrelids == 1 && msg.u.truncate.relids[0] == 16434, "streamed Truncate: t_stream");
	}
	if (load(pgoutput_v1, 43, false, "transactional Message")) {
		is_int(msg.u.message.flags, PGO_MESSAGE_TRANSACTIONAL, "Message: transactional");
		is_str(lsn(msg.u.message.lsn), "0/1537E00", "Message: LSN");
		is_str(msg.u.message.prefix, "pfx", "Message: prefix");
		ok(msg.u.message.len == 7 && memcmp(msg.u.message.content, "content", 7) == 0,
		   "Message: content bytes");
	}
	if (load(pgoutput_v1, 45, false, "non-transactional Message")) {
		is_int(msg.u.message.flags, 0, "Message: not transactional");
		ok(msg.u.message.len == 17 && memcmp(msg.u.message.content, "non-transactional", 17) == 0,
		   "Message: content bytes");
	}
	if (load(pgoutput_v2_stream, 53, true, "streamed Message")) {
		is_int(msg.stream_xid, 754, "streamed Message: xid");
		ok(msg.u.message.len == 9 && memcmp(msg.u.message.content, "in stream", 9) == 0,
		   "streamed Message: content bytes");
	}
}

static void
check_stream_messages(void)
{
	if (load(pgoutput_v2_stream, 4, false, "Stream Start, first segment")) {
		is_int(msg.kind, PGO_STREAM_START, "Stream Start: kind");
		is_int(msg.u.stream_start.xid, 754, "Stream Start: xid");
		ok(msg.u.stream_start.first_segment, "Stream Start: first segment");
	}
	if (load(pgoutput_v2_stream, 10, false, "Stream Start, later segment"))
		ok(!msg.u.stream_start.first_segment, "Stream Start: not the first segment");
	if (load(pgoutput_v2_stream, 9, true, "Stream Stop"))
		is_int(msg.kind, PGO_STREAM_STOP, "Stream Stop: kind");
	if (load(pgoutput_v2_stream, 55, false, "Stream Abort of a subtransaction")) {
		is_int(msg.u.stream_abort.xid, 754, "Stream Abort: xid");
		is_int(msg.u.stream_abort.subxid, 755, "Stream Abort: subtransaction xid");
	}
	if (load(pgoutput_v2_stream, 69, false, "Stream Abort of a whole transaction"))
		ok(msg.u.stream_abort.xid == 757 && msg.u.stream_abort.subxid == 757,
		   "Stream Abort: xid and subxid are the same");
	if (load(pgoutput_v2_stream, 66, false, "Stream Commit")) {
		is_int(msg.u.stream_commit.xid, 754, "Stream Commit: xid");
		is_int(msg.u.stream_commit.flags, 0, "Stream Commit: flags");
		is_str(lsn(msg.u.stream_commit.commit_lsn), "0/1657738", "Stream Commit: commit LSN");
		is_str(lsn(msg.u.stream_commit.end_lsn), "0/16578B0", "Stream Commit: end LSN");
		is_int(msg.u.stream_commit.commit_time, INT64_C(0x000303bc0e9d1dab), "Stream Commit: time");
	}
	pgo_msg_free(&msg);
	free(msgbuf);
	msgbuf = NULL;
}

/* ---- the relation cache ---------------------------------------------- */

static void
check_relcache(void)
{
	struct pgo_relcache *rc = pgo_relcache_new();
	struct pgo_relation changed_rel;
	struct pgs_error err;
	struct pgo_msg m;
	uint8_t *buf;
	bool changed = true;
	const struct pgo_relation *got;

	ok(decode_fixture(&pgoutput_v1[2], false, &m, &buf, &err), "relcache: decode t_vals");
	got = pgo_relcache_put(rc, &m.u.relation, &changed);
	ok(!changed, "relcache: a first Relation is not a change");
	ok(got != &m.u.relation && got->relname != m.u.relation.relname, "relcache: keeps a copy");
	got = pgo_relcache_put(rc, &m.u.relation, &changed);
	ok(!changed, "relcache: the same Relation again is not a change");
	/* the schema changed: the last column is gone */
	changed_rel = m.u.relation;
	changed_rel.ncols = 3;
	pgo_relcache_put(rc, &changed_rel, &changed);
	ok(changed, "relcache: a dropped column is a change");
	changed_rel.ncols = 4;
	changed_rel.cols[3].typmod = 7;
	pgo_relcache_put(rc, &changed_rel, &changed);
	ok(changed, "relcache: a new typmod is a change");
	changed_rel.cols[3].typmod = -1;
	/* the stored copy outlives the message and its buffer */
	pgo_msg_free(&m);
	memset(buf, 0, 67);
	free(buf);
	got = pgo_relcache_get(rc, 16391);
	ok(got && strcmp(got->relname, "t_vals") == 0 && got->ncols == 4 &&
	   strcmp(got->cols[3].name, "m") == 0 && got->cols[3].typmod == 7,
	   "relcache: the latest entry, whole after its message is freed");
	got = pgo_relcache_put(rc, got, &changed);
	ok(got && !changed && strcmp(got->cols[0].name, "id") == 0,
	   "relcache: putting back the cached entry itself is safe");
	ok(pgo_relcache_get(rc, 1) == NULL, "relcache: an unknown relid is NULL");
	is_int(pgo_relcache_count(rc), 1, "relcache: one entry per relid");
	/* many relations: the table grows and keeps every entry */
	for (uint32_t relid = 20000; relid < 20500; relid++) {
		struct pgo_relation r = {.relid = relid, .nspname = "s", .relname = "r", .replident = 'd'};

		pgo_relcache_put(rc, &r, NULL);
	}
	got = pgo_relcache_get(rc, 20321);
	ok(got && got->relid == 20321 && pgo_relcache_get(rc, 16391) != NULL,
	   "relcache: 501 relations all found after growing");
	is_int(pgo_relcache_count(rc), 501, "relcache: 501 entries");
	pgo_relcache_free(rc);
}

/* ---- broken input ----------------------------------------------------- */

/* Every proper prefix of a real message is an error, never a read past it. */
static void
check_truncations(const char *what, const struct pgoutput_fixture *f, bool in_stream)
{
	size_t len;
	uint8_t *full = unhex(f->hex, &len);
	bool all_fail = true;
	char name[160];

	for (size_t n = 0; n < len; n++) {
		uint8_t *prefix = xmalloc(n ? n : 1);
		struct pgs_error err;
		struct pgo_msg m;

		memcpy(prefix, full, n);
		pgs_error_clear(&err);
		if (pgo_decode(prefix, n, in_stream, &m, &err) || err.message[0] == '\0' ||
			m.kind != 0) {
			printf("# prefix of %zu bytes: decoded or no message\n", n);
			all_fail = false;
		}
		free(prefix);
	}
	snprintf(name, sizeof(name), "%s: all %zu truncations fail", what, len);
	ok(all_fail, name);
	free(full);
}

/* Decodes hex (edited from a real message) and expects exactly this error. */
static void
is_error(const char *hex, bool in_stream, const char *want, const char *what)
{
	size_t len;
	uint8_t *buf = unhex(hex, &len);
	struct pgs_error err;
	struct pgo_msg m;

	pgs_error_clear(&err);
	ok(!pgo_decode(buf, len, in_stream, &m, &err) && m.kind == 0, what);
	is_str(err.message, want, what);
	free(buf);
}

static void
check_errors(void)
{
	static const struct {
		const char *what;
		const struct pgoutput_fixture *f;
		bool in_stream;
	} truncated[] = {
		{"Begin", &pgoutput_v1[0], false},
		{"Type", &pgoutput_v1[1], false},
		{"Relation", &pgoutput_v1[2], false},
		{"Insert", &pgoutput_v1[4], false},
		{"Update with old key", &pgoutput_v1[18], false},
		{"Update with old row", &pgoutput_v1[28], false},
		{"Update with unchanged TOAST", &pgoutput_v1[15], false},
		{"Delete", &pgoutput_v1[24], false},
		{"Truncate", &pgoutput_v1[36], false},
		{"Message", &pgoutput_v1[43], false},
		{"Origin", &pgoutput_v1[47], false},
		{"Commit", &pgoutput_v1[9], false},
		{"binary Insert", &pgoutput_v1_binary[2], false},
		{"Stream Start", &pgoutput_v2_stream[4], false},
		{"streamed Relation", &pgoutput_v2_stream[6], true},
		{"streamed Insert", &pgoutput_v2_stream[7], true},
		{"streamed Message", &pgoutput_v2_stream[53], true},
		{"Stream Abort", &pgoutput_v2_stream[55], false},
		{"Stream Commit", &pgoutput_v2_stream[66], false},
	};

	for (size_t i = 0; i < COUNT(truncated); i++)
		check_truncations(truncated[i].what, truncated[i].f, truncated[i].in_stream);

	is_error("", false, "empty pgoutput message: expected a message type byte at offset 0",
			 "empty message");
	is_error("5a000000", false, "unknown pgoutput message type 0x5a at offset 0",
			 "unknown message type");
	is_error("62", false, "unknown pgoutput message type 0x62 at offset 0",
			 "two-phase Begin Prepare is not decoded");
	/* the Insert of 'null' (pgoutput_v1[4]) cut inside its second column */
	is_error("49000040074e0004740000000132740000", false,
			 "truncated Insert message: expected 4 bytes of column length at offset 15, 2 left",
			 "truncated column length");
	is_error("49000040074e00047400000001327400000004", false,
			 "truncated Insert message: expected 4 bytes of column value at offset 19, 0 left",
			 "truncated column value");
	is_error("49000040074e000474000000013274ffffffff6e756c6c", false,
			 "invalid Insert message: negative column length -1 at offset 15",
			 "negative column length");
	is_error("49000040074e80007400000001", false,
			 "invalid Insert message: negative number of columns -32768 at offset 6",
			 "negative number of columns");
	is_error("49000040074e00047800000001316e6e6e", false,
			 "invalid Insert message: unknown column kind 0x78 at offset 8",
			 "unknown column kind");
	is_error("49000040074f00047400000001316e6e6e", false,
			 "invalid Insert message: expected tuple type 'N' at offset 5, found 0x4f",
			 "Insert with an old tuple");
	is_error("44000040154e00027400000001326e", false,
			 "invalid Delete message: expected tuple type 'K' or 'O' at offset 5, found 0x4e",
			 "Delete without an old tuple");
	is_error("55000040154f00027400000001317400000001614f0002740000000131740000000162", false,
			 "invalid Update message: expected tuple type 'N' at offset 20, found 0x4f",
			 "Update with two old tuples");
	is_error("420000000001533c20000303bc0e9bfcf5000002e500", false,
			 "invalid Begin message: 1 unexpected byte after the last field at offset 21",
			 "trailing byte");
	is_error("52000040077075626c", false,
			 "truncated Relation message: no NUL byte ends the namespace name that starts at offset 5",
			 "string without its NUL");
	is_error("52000040077075626c696300745f76616c73007a0000", false,
			 "invalid Relation message: unknown replica identity 0x7a at offset 19",
			 "unknown replica identity");
	is_error("547fffffff030000401b", false,
			 "truncated Truncate message: expected 8589934588 bytes of relation ids at offset 6, 4 left",
			 "a huge relation count is refused before allocating");
	is_error("4d0100000000015e4070706678000000000a696e2073747265616d", false,
			 "truncated Message message: expected 10 bytes of content at offset 18, 9 left",
			 "content longer than the message");
	is_error("53000002f202", false,
			 "invalid Stream Start message: first segment flag is 0x02 at offset 5, expected 0 or 1",
			 "bad first segment flag");
	/* a streamed change read as if outside a stream: the xid shifts every field */
	is_error(pgoutput_v2_stream[7].hex, false,
			 "invalid Insert message: expected tuple type 'N' at offset 5, found 0x00",
			 "streamed Insert decoded without in_stream");
	is_error("45ff", true,
			 "invalid Stream Stop message: 1 unexpected byte after the last field at offset 1",
			 "Stream Stop with a body");
}

int
main(void)
{
	struct pgo_relcache *rc = pgo_relcache_new();

	walk_capture("protocol 1", pgoutput_v1, COUNT(pgoutput_v1), rc);
	walk_capture("protocol 1 binary", pgoutput_v1_binary, COUNT(pgoutput_v1_binary), rc);
	walk_capture("protocol 2 streaming", pgoutput_v2_stream, COUNT(pgoutput_v2_stream), rc);
	for (size_t i = 0; i < COUNT(changes); i++)
		check_change(&changes[i], rc);
	pgo_relcache_free(rc);
	check_toast_insert();
	check_transaction_messages();
	check_relation_messages();
	check_truncate_and_messages();
	check_stream_messages();
	check_relcache();
	check_errors();
	return done_testing();
}
