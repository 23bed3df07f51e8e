/*
 * cutover sync_sequences (DESIGN.md §4): after writes stopped on the source,
 * every sequence of the catalog (free-standing, serial and identity ones)
 * gets the source's position on the target, so the first insert after
 * cutover does not reuse a key. Values are read in batches (one query per
 * SEQUENCE_BATCH sequences) and set with setval and bound parameters; the
 * sequence is named by its quoted qualified name cast to regclass.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "steps/steps.h"
#include "steps/steps_int.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#define SEQUENCE_BATCH 100

struct seq_value {
	int64_t last, increment, min, max;
	bool called;
};

static bool
parse_int64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return false;
	*out = (int64_t) v;
	return true;
}

/*
 * The position to set: the source's, or margin further on. A margin that
 * would leave the sequence no value before its MAXVALUE (MINVALUE when it
 * descends) is not applied: setting the bound would make the target's next
 * nextval fail while the source still had values, or, with CYCLE, hand out
 * values the source already returned. The source's own position is set
 * instead and false returned, for the caller to warn.
 */
static bool
target_position(const struct seq_value *v, int64_t margin, int64_t *value, bool *called)
{
	int64_t pos, next;
	bool fits;

	*value = v->last;
	*called = v->called;
	if (margin <= 0)
		return true;
	if (v->increment > 0)
		fits = !__builtin_add_overflow(v->last, margin, &pos) &&
			!__builtin_add_overflow(pos, v->increment, &next) && next <= v->max;
	else
		fits = !__builtin_sub_overflow(v->last, margin, &pos) &&
			!__builtin_add_overflow(pos, v->increment, &next) && next >= v->min;
	if (!fits)
		return false;
	*value = pos;
	*called = true;
	return true;
}

/* SELECT k, last_value, is_called, increment, min, max for sequences [from, to). */
static PGresult *
read_batch(PGconn *src, const struct catalog *cat, size_t from, size_t to, char **names,
		   struct pgs_error *err)
{
	struct buf sql;
	PGresult *res;

	buf_init(&sql);
	for (size_t i = from; i < to; i++) {
		names[i - from] = pg_quote_qualified(src, cat->sequences[i].schema,
											 cat->sequences[i].name);
		buf_printf(&sql, "%sSELECT %zu, q.last_value, q.is_called, s.seqincrement, s.seqmin,"
				   " s.seqmax FROM %s q, pg_catalog.pg_sequence s"
				   " WHERE s.seqrelid = $%zu::pg_catalog.regclass",
				   i > from ? " UNION ALL " : "", i, names[i - from], i - from + 1);
	}
	res = pg_query(src, sql.data, (int) (to - from), (const char *const *) names, err);
	if (!res)
		pgs_error_prefix(err, "could not read the source's sequences");
	buf_free(&sql);
	return res;
}

static bool
parse_row(const PGresult *res, int r, size_t *seq, struct seq_value *v)
{
	int64_t k;

	v->called = strcmp(PQgetvalue(res, r, 2), "t") == 0;
	if (!parse_int64(PQgetvalue(res, r, 0), &k) || k < 0)
		return false;
	*seq = (size_t) k;
	return parse_int64(PQgetvalue(res, r, 1), &v->last) &&
		parse_int64(PQgetvalue(res, r, 3), &v->increment) &&
		parse_int64(PQgetvalue(res, r, 4), &v->min) &&
		parse_int64(PQgetvalue(res, r, 5), &v->max);
}

static bool
set_one(PGconn *tgt, const struct cat_sequence *s, const struct seq_value *v, int64_t margin,
		struct pgs_error *err)
{
	char *name = pg_quote_qualified(tgt, s->schema, s->name);
	char value[32];
	const char *params[3] = {name, value, NULL};
	int64_t pos;
	bool called, ok;

	if (!target_position(v, margin, &pos, &called))
		log_warning("sync_sequences: sequence \"%s\".\"%s\" is at %" PRId64 ", closer than the"
					" margin of %" PRId64 " to its %s %" PRId64 ": it gets the source's"
					" position, without the margin", s->schema, s->name, v->last, margin,
					v->increment > 0 ? "MAXVALUE" : "MINVALUE",
					v->increment > 0 ? v->max : v->min);
	snprintf(value, sizeof(value), "%" PRId64, pos);
	params[2] = called ? "true" : "false";
	ok = pg_exec(tgt, "SELECT pg_catalog.setval($1::pg_catalog.regclass, $2::bigint,"
				 " $3::boolean)", 3, params, err);
	if (!ok)
		pgs_error_prefix(err, "could not set sequence \"%s\".\"%s\" on the target", s->schema,
						 s->name);
	free(name);
	return ok;
}

static bool
sync_batch(PGconn *src, PGconn *tgt, const struct catalog *cat, size_t from, size_t to,
		   int64_t margin, struct pgs_error *err)
{
	char **names = xcalloc(to - from, sizeof(char *));
	PGresult *res = read_batch(src, cat, from, to, names, err);
	bool ok = res != NULL;

	for (int r = 0; ok && r < PQntuples(res); r++) {
		struct seq_value v;
		size_t seq;

		if (!parse_row(res, r, &seq, &v) || seq < from || seq >= to)
			ok = pgs_fail(err, "unexpected sequence values from the source (row %d)", r);
		else
			ok = set_one(tgt, &cat->sequences[seq], &v, margin, err);
	}
	PQclear(res);
	for (size_t i = 0; i < to - from; i++)
		free(names[i]);
	free(names);
	return ok;
}

bool
sequences_copy(PGconn *src, PGconn *tgt, const struct catalog *cat, int64_t margin,
			   struct pgs_error *err)
{
	bool ok = true;

	for (size_t from = 0; ok && from < cat->nsequences; from += SEQUENCE_BATCH) {
		size_t to = from + SEQUENCE_BATCH < cat->nsequences ? from + SEQUENCE_BATCH
			: cat->nsequences;

		ok = sync_batch(src, tgt, cat, from, to, margin, err);
	}
	return ok;
}

bool
cutover_sync_sequences(struct run *run, const struct cutover_step *cs, struct pgs_error *err)
{
	const struct catalog *cat = run->cat;
	PGconn *src = run_connect_source(run, "sync_sequences", err);
	PGconn *tgt = src ? run_connect_target(run, "sync_sequences", err) : NULL;
	bool ok = tgt != NULL;
	struct catalog now;
	bool replicated = run->plan->cdc.enabled && run->plan->cdc.ddl == DDL_REPLICATE;

	/* replicated DDL created and dropped sequences since the run's catalog was read */
	if (ok && replicated) {
		ok = catalog_load(src, run->plan, &now, err);
		if (ok)
			cat = &now;
	}
	ok = ok && sequences_copy(src, tgt, cat, cs->margin, err);
	PQfinish(src);
	PQfinish(tgt);
	if (cat == &now)
		catalog_free(&now);
	if (!ok) {
		snprintf(err->step, sizeof(err->step), "cutover.%zu:sync_sequences", cs->pos);
		pgs_error_prefix(err, "sync_sequences");
	}
	return ok;
}
