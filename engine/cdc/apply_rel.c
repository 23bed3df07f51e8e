/*
 * The applier's side of the relation cache (worker.c's LogicalRepRelMap):
 * per source relid, the target table's quoted name, whether the plan
 * migrates it (DESIGN §4: filters hold for CDC too), and the statements
 * prepared for it. The columns themselves stay in the decoder's pgo_relcache.
 *
 * With the plan's catalog, each Relation message is compared with the
 * columns the copy read (apply_expect.c): a difference marks the relation,
 * and its first change stops the applier. Without one (tests), a message
 * that changes a known relation's columns stops it at once. A change of
 * only the replica identity (key flags) is fine: the relation's statements
 * are rebuilt with the new key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/apply_int.h"
#include "pg/conn.h"
#include "util/xalloc.h"

static size_t
slot_of(size_t cap, uint32_t relid)
{
	return (size_t) (relid * 2654435761u) & (cap - 1);
}

static struct apply_rel *
find(struct cdc_applier *a, uint32_t relid, bool create)
{
	size_t i;

	if (a->rels_cap == 0 || (create && (a->nrels + 1) * 2 > a->rels_cap)) {
		struct apply_rel *old = a->rels;
		size_t old_cap = a->rels_cap;

		a->rels_cap = old_cap ? old_cap * 2 : 64;
		a->rels = xcalloc(a->rels_cap, sizeof(*a->rels));
		for (size_t j = 0; j < old_cap; j++) {
			if (!old[j].relid)
				continue;
			for (i = slot_of(a->rels_cap, old[j].relid); a->rels[i].relid; i = (i + 1) & (a->rels_cap - 1))
				;
			a->rels[i] = old[j];
		}
		free(old);
	}
	for (i = slot_of(a->rels_cap, relid); a->rels[i].relid; i = (i + 1) & (a->rels_cap - 1))
		if (a->rels[i].relid == relid)
			return &a->rels[i];
	if (!create)
		return NULL;
	a->rels[i].relid = relid;
	a->nrels++;
	return &a->rels[i];
}

static int
cmp_table(const void *x, const void *y)
{
	return strcmp(*(char *const *) x, *(char *const *) y);
}

/* Migrated: named by the catalog (after the plan's filters) and its data copied. */
static bool
is_migrated(const struct cdc_applier *a, const char *schema, const char *name)
{
	char *key;
	bool found;

	if (!a->filtered)
		return true;
	key = xasprintf("%s\n%s", schema, name);
	found = bsearch(&key, a->tables, a->ntables, sizeof(char *), cmp_table) != NULL;
	free(key);
	return found;
}

/* Per column of rel: GENERATED ALWAYS AS IDENTITY in the catalog (NULL: none known). */
static bool *
always_columns(const struct cdc_applier *a, const char *schema, const struct pgo_relation *rel)
{
	bool *always = NULL;

	for (uint16_t i = 0; i < rel->ncols && a->nalways; i++) {
		char *key = xasprintf("%s\n%s\n%s", schema, rel->relname, rel->cols[i].name);

		if (bsearch(&key, a->always, a->nalways, sizeof(char *), cmp_table)) {
			if (!always)
				always = xcalloc(rel->ncols, sizeof(bool));
			always[i] = true;
		}
		free(key);
	}
	return always;
}

/* Builtin types keep their OIDs on every server: multi-row statements declare them. */
#define FIRST_NORMAL_OID 16384

static int
cmp_prefix(const void *x, const void *y)
{
	const char *key = *(char *const *) x, *entry = *(char *const *) y;
	size_t n = strlen(key);
	int c = strncmp(key, entry, n);

	return c ? c : entry[n] == '\n' ? 0 : -1;
}

/*
 * How apply_batch.c may coalesce its changes: per key ('k') when its target
 * table has only the replica identity's unique index, the key is a key (not
 * FULL), no column is GENERATED ALWAYS (an UPDATE may not set it) and every
 * type is builtin; else runs of INSERTs ('a'), when nothing on the target
 * fires in replica mode; else not at all (0).
 */
static char
coalesces(const struct cdc_applier *a, const char *schema, const struct apply_rel *r,
		  const struct pgo_relation *rel)
{
	char *key, *const *found;
	char mode;
	bool has_key = false, builtin = true;

	/* a DDL in the open target transaction: what was read of the target may be stale */
	if (!r->applied || a->nplain == 0 || rel->ncols == 0 || a->ddl_in_txn)
		return 0;
	key = xasprintf("%s\n%s", schema, rel->relname);
	found = bsearch(&key, a->plain, a->nplain, sizeof(char *), cmp_prefix);
	free(key);
	if (!found)
		return 0;
	mode = (*found)[strlen(*found) - 1];
	for (uint16_t i = 0; i < rel->ncols; i++) {
		builtin &= rel->cols[i].type_oid < FIRST_NORMAL_OID;
		has_key |= (rel->cols[i].flags & PGO_COLUMN_KEY) != 0;
	}
	if (mode == 'k' && (r->always || !builtin || !has_key ||
						(rel->replident != 'd' && rel->replident != 'i')))
		mode = 'a';
	return mode;
}

static void
describe(struct cdc_applier *a, struct apply_rel *r, const struct pgo_relation *rel)
{
	/* pgoutput sends "" for pg_catalog */
	const char *schema = rel->nspname[0] ? rel->nspname : "pg_catalog";

	free(r->display);
	free(r->qname);
	r->display = xasprintf("%s.%s", schema, rel->relname);
	r->qname = pg_quote_qualified(a->tgt.conn, schema, rel->relname);
	free(r->mismatch);
	r->mismatch = NULL;
	r->epoch = a->ddl_epoch;
	if (!a->filtered) {
		r->applied = true;
	} else if (a->plan && a->plan->cdc.ddl == DDL_REPLICATE) {
		/* the DDL changed both sides: the name and the filters decide, not the copy */
		r->applied = catalog_filter_copies_rows(a->plan, schema, rel->relname);
	} else {
		r->mismatch = apply_expect_check(a, rel, &r->applied);
		/* the name is migrated but the oid is not the one the copy read */
		if (!r->applied && is_migrated(a, schema, rel->relname)) {
			r->applied = true;
			r->mismatch = xstrdup("the table was dropped and created again (it is not the "
								  "table the copy read)");
		}
	}
	free(r->always);
	r->always = always_columns(a, schema, rel);
	r->coalesce = coalesces(a, schema, r, rel);
	apply_stmts_free(r->stmts);
	r->stmts = NULL;
}

/*
 * A Relation message: caches it. With a catalog, describe() compares it
 * with the copy's columns, and a change of the table's shape stops its
 * changes there. Without one (the reverse stream, which has no copy to hold
 * to) the destination judges each change in the new shape: a column or
 * type it lacks fails that change, naming it, and once the operator made
 * the same change there, the rerun applies it.
 */
void
apply_rel_message(struct cdc_applier *a, const struct pgo_relation *rel, const uint8_t *raw,
				  uint32_t raw_len, bool in_stream)
{
	const struct pgo_relation *was = pgo_relcache_get(a->rc, rel->relid);
	struct apply_rel *r;

	r = was ? find(a, rel->relid, false) : NULL;
	if (r && r->epoch == a->ddl_epoch && pgo_relation_columns_equal(was, rel) &&
		was->replident == rel->replident && strcmp(was->nspname, rel->nspname) == 0 &&
		strcmp(was->relname, rel->relname) == 0)
		return;                 /* sent again (a new walsender): nothing changed */
	pgo_relcache_put(a->rc, rel, NULL);
	r = find(a, rel->relid, true);
	describe(a, r, pgo_relcache_get(a->rc, rel->relid));
	free(r->raw);
	r->raw = xmalloc(raw_len ? raw_len : 1);
	memcpy(r->raw, raw, raw_len);
	r->raw_len = raw_len;
	r->raw_stream = in_stream;
	a->rels_dirty = true;
}

bool
apply_rel_changed(const struct cdc_applier *a, const struct apply_rel *r,
				  const struct apply_ctx *ctx, struct pgs_error *err)
{
	const struct apply_expect *e = apply_expect_find(a, r->relid);
	char lsn[PGO_LSN_TEXT_SIZE];

	apply_lsn_text(ctx->commit_lsn, lsn);
	pgs_fail(err, "table \"%s.%s\" changed on the source since the copy: %s (seen at its "
			 "change in source transaction %u, commit %s)", e ? e->schema : "",
			 e ? e->name : r->display, r->mismatch, ctx->xid, lsn);
	pgs_error_detail(err, "no change of the table was applied from this one on: the target "
					 "table still has the columns the copy created (cdc.ddl: stop)");
	pgs_error_hint(err, "make the same change on the target table (the same ALTER TABLE), then "
				   "run pgshift apply PLAN again: the applier resumes at the applied LSN; or "
				   "start over with pgshift reset PLAN --yes, then apply");
	return false;
}

bool
apply_rel_in_resync_copy(const struct cdc_applier *a, uint32_t relid, uint64_t commit_lsn)
{
	size_t lo = 0, hi = a->nsync;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a->sync[mid].relid == relid)
			return commit_lsn < a->sync[mid].lsn;
		if (a->sync[mid].relid < relid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* The relation a change names; NULL when no Relation message came for it. */
struct apply_rel *
apply_rel_get(struct cdc_applier *a, uint32_t relid)
{
	return a->rels_cap ? find(a, relid, false) : NULL;
}

void
apply_rels_free(struct cdc_applier *a)
{
	for (size_t i = 0; i < a->rels_cap; i++) {
		if (!a->rels[i].relid)
			continue;
		free(a->rels[i].display);
		free(a->rels[i].qname);
		free(a->rels[i].always);
		free(a->rels[i].mismatch);
		free(a->rels[i].raw);
		apply_stmts_free(a->rels[i].stmts);
	}
	free(a->rels);
	a->rels = NULL;
	a->rels_cap = a->nrels = 0;
}
