/*
 * Large objects at cutover (DESIGN.md §4a). Logical decoding does not carry
 * them (pg_largeobject is a catalog), so those created, written or unlinked
 * on the source after the blobs step copied them are made identical on the
 * target here, inside the write fence, once wait_for_catchup has applied
 * everything before the stop position.
 *
 * "Changed" is decided by content, not by a timestamp the source does not
 * keep: each server computes an md5 of every large object's bytes
 * (lo_get, so the source user needs only SELECT on them, not on the
 * superuser-only pg_largeobject) and only the 16-byte digests cross the
 * network. That reads every large object once on each side, inside the
 * fence; what differs is then copied in chunks of CHUNK bytes with bound
 * binary parameters, one target transaction per object. A large object of
 * 1 GB or more cannot be digested by lo_get and fails the step by name.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "steps/steps.h"
#include "util/log.h"
#include "util/xalloc.h"

#define CHUNK (1024 * 1024)

static const char digests_sql[] =
	"SELECT m.oid, pg_catalog.md5(pg_catalog.lo_get(m.oid))"
	" FROM pg_catalog.pg_largeobject_metadata m ORDER BY m.oid";

struct lo_list {
	PGresult *res;              /* owned: (oid, md5) sorted by oid */
	int n, at;
};

static bool
read_digests(PGconn *conn, const char *side, struct lo_list *l, struct pgs_error *err)
{
	l->res = pg_query(conn, digests_sql, 0, NULL, err);
	if (!l->res) {
		pgs_error_prefix(err, "could not read the large objects of the %s", side);
		pgs_error_hint(err, "the %s user needs SELECT on every large object; one of 1 GB or "
					   "more must be moved by hand", side);
		return false;
	}
	l->n = PQntuples(l->res);
	l->at = 0;
	return true;
}

static uint32_t
oid_at(const struct lo_list *l)
{
	return (uint32_t) strtoul(PQgetvalue(l->res, l->at, 0), NULL, 10);
}

static bool
exec_oid(PGconn *dst, const char *sql, const char *oid, struct pgs_error *err)
{
	const char *params[] = {oid};
	PGresult *res = pg_query(dst, sql, 1, params, err);

	PQclear(res);
	return res != NULL;
}

static bool
put_chunk(PGconn *dst, const char *oid, const char *off, const char *data, int len,
		  struct pgs_error *err)
{
	const char *params[] = {oid, off, data};
	const int lengths[] = {0, 0, len};
	const int formats[] = {0, 0, 1};
	PGresult *res = PQexecParams(dst, "SELECT pg_catalog.lo_put($1::oid, $2::bigint, $3::bytea)",
								 3, NULL, params, lengths, formats, 0);
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		pg_fail_result(err, res, "could not write a large object on the target");
	PQclear(res);
	return ok;
}

/* One chunk from the source into the target at offset; *got: its length. */
static bool
copy_chunk(PGconn *src, PGconn *dst, const char *oid, int64_t offset, int *got,
		   struct pgs_error *err)
{
	char off[32], len[16];
	const char *params[] = {oid, off, len};
	PGresult *res;
	bool ok;

	snprintf(off, sizeof(off), "%" PRId64, offset);
	snprintf(len, sizeof(len), "%d", CHUNK);
	res = PQexecParams(src, "SELECT pg_catalog.lo_get($1::oid, $2::bigint, $3::integer)", 3, NULL,
					   params, NULL, NULL, 1);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	if (!ok)
		pg_fail_result(err, res, "could not read a large object of the source");
	*got = ok ? PQgetlength(res, 0, 0) : 0;
	ok = ok && (*got == 0 || put_chunk(dst, oid, off, PQgetvalue(res, 0, 0), *got, err));
	PQclear(res);
	return ok;
}

/* The source's large object oid, whole, replacing the target's when it has one. */
static bool
copy_one(PGconn *src, PGconn *dst, const char *oid, bool replace, struct pgs_error *err)
{
	int64_t offset = 0;
	int got = CHUNK;
	bool ok = pg_exec(dst, "BEGIN", 0, NULL, err) &&
		(!replace || exec_oid(dst, "SELECT pg_catalog.lo_unlink($1::oid)", oid, err)) &&
		exec_oid(dst, "SELECT pg_catalog.lo_create($1::oid)", oid, err);

	while (ok && got == CHUNK) {
		ok = copy_chunk(src, dst, oid, offset, &got, err);
		offset += got;
	}
	ok = ok && pg_exec(dst, "COMMIT", 0, NULL, err);
	if (!ok) {
		if (PQtransactionStatus(dst) != PQTRANS_IDLE)
			PQclear(PQexec(dst, "ROLLBACK"));
		pgs_error_prefix(err, "could not copy large object %s to the target", oid);
	}
	return ok;
}

struct lo_counts {
	long created, changed, unlinked;
};

/* Walks both sorted lists at once: source only, both but different, target only. */
static bool
sync_lists(PGconn *src, PGconn *dst, struct lo_list *s, struct lo_list *d, struct lo_counts *c,
		   struct pgs_error *err)
{
	while (s->at < s->n || d->at < d->n) {
		bool in_s = s->at < s->n, in_d = d->at < d->n;
		uint32_t so = in_s ? oid_at(s) : 0, doid = in_d ? oid_at(d) : 0;

		if (in_s && (!in_d || so < doid)) {
			if (!copy_one(src, dst, PQgetvalue(s->res, s->at, 0), false, err))
				return false;
			c->created++;
			s->at++;
		} else if (in_d && (!in_s || doid < so)) {
			if (!exec_oid(dst, "SELECT pg_catalog.lo_unlink($1::oid)",
						  PQgetvalue(d->res, d->at, 0), err)) {
				pgs_error_prefix(err, "could not unlink large object %s on the target",
								 PQgetvalue(d->res, d->at, 0));
				return false;
			}
			c->unlinked++;
			d->at++;
		} else {
			if (strcmp(PQgetvalue(s->res, s->at, 1), PQgetvalue(d->res, d->at, 1)) != 0) {
				if (!copy_one(src, dst, PQgetvalue(s->res, s->at, 0), true, err))
					return false;
				c->changed++;
			}
			s->at++;
			d->at++;
		}
	}
	return true;
}

bool
cutover_sync_blobs(struct run *run, struct pgs_error *err)
{
	PGconn *src = run_connect_source(run, "wait_for_catchup", err);
	PGconn *dst = src ? run_connect_target(run, "wait_for_catchup", err) : NULL;
	struct lo_list s = {0}, d = {0};
	struct lo_counts c = {0};
	bool ok = dst && read_digests(src, "source", &s, err) && read_digests(dst, "target", &d, err) &&
		sync_lists(src, dst, &s, &d, &c, err);

	if (ok && (c.created || c.changed || c.unlinked))
		log_info("large objects: %ld created, %ld changed, %ld unlinked on the target since the "
				 "copy, as on the source", c.created, c.changed, c.unlinked);
	PQclear(s.res);
	PQclear(d.res);
	PQfinish(src);
	PQfinish(dst);
	return ok;
}
