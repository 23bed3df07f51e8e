/*
 * Sequence positions (levels count and checksum): the next value the
 * target's sequence hands out must not come before the source's, or the
 * first insert after cutover reuses a key. Ahead (sync_sequences' margin)
 * is fine; behind is a FAIL naming both positions.
 */
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "util/xalloc.h"
#include "verify/verify.h"

struct seq_pos {
	long long next;             /* the value nextval() would return */
	long long increment;
};

static bool
read_pos(PGconn *conn, const struct cat_sequence *s, struct seq_pos *p, struct pgs_error *err)
{
	char *q = pg_quote_qualified(conn, s->schema, s->name);
	char *sql = xasprintf("SELECT q.last_value, q.is_called, p.seqincrement FROM %s q,"
						  " pg_catalog.pg_sequence p WHERE p.seqrelid = $1::pg_catalog.regclass",
						  q);
	const char *params[1] = {q};
	PGresult *res = pg_query(conn, sql, 1, params, err);
	bool ok = res && PQntuples(res) == 1;

	if (ok) {
		long long last = strtoll(PQgetvalue(res, 0, 0), NULL, 10);

		p->increment = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
		p->next = PQgetvalue(res, 0, 1)[0] == 't' ? last + p->increment : last;
	} else if (res)
		pgs_fail(err, "sequence %s not found", q);
	if (!ok)
		pgs_error_prefix(err, "could not read sequence %s", q);
	PQclear(res);
	free(sql);
	free(q);
	return ok;
}

static size_t
entry_of(struct verify_report *r, const struct cat_sequence *s)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->entries[i].kind, "sequence") == 0) {
			const char *n = r->entries[i].name;
			size_t ls = strlen(s->schema);

			if (strncmp(n, s->schema, ls) == 0 && n[ls] == '.' && strcmp(n + ls + 1, s->name) == 0)
				return i;
		}
	return verify_report_add(r, "sequence", s->schema, s->name);
}

bool
verify_sequences(const struct catalog *cat, PGconn *src, PGconn *dst, struct verify_report *r,
				 struct pgs_error *err)
{
	for (size_t i = 0; i < cat->nsequences; i++) {
		const struct cat_sequence *s = &cat->sequences[i];
		struct seq_pos a, b;
		size_t e = entry_of(r, s);
		bool behind;

		if (r->entries[e].status == VS_FAIL)
			continue;               /* missing on the target, said so already */
		if (!read_pos(src, s, &a, err) || !read_pos(dst, s, &b, err))
			return false;
		behind = a.increment > 0 ? b.next < a.next : b.next > a.next;
		if (behind)
			verify_note(r, e, VS_FAIL, "behind the %s: next value %lld on the %s, %lld on the %s",
						r->src_side, b.next, r->dst_side, a.next, r->src_side);
	}
	return true;
}
