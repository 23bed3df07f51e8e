/*
 * The fingerprint of a catalog that `plan --out` saves and `apply --expect`
 * compares: sha256 over a canonical text of the filtered tables, columns,
 * indexes and constraints. Only what changes the migration's meaning goes
 * in: never oids, sizes or row estimates, which move on a live source
 * without anybody changing the schema. Column positions go in by their
 * order, not attnum, so a dropped column's gap does not count as drift.
 * Every field is length-prefixed so no name can forge another record.
 * An index goes in by its shape (catalog_indexes.c) and its columns' names,
 * not its pg_get_indexdef text, which plan does not read: what the shape
 * leaves out is the names, and those are in the record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "pg/catalog.h"
#include "util/buf.h"
#include "util/xalloc.h"

static void
field(struct buf *b, const char *s)
{
	if (!s)
		buf_puts(b, "-;");
	else
		buf_printf(b, "%zu:%s;", strlen(s), s);
}

static void
flag(struct buf *b, char c)
{
	buf_putc(b, c ? c : '0');
	buf_putc(b, ';');
}

static void
table_text(struct buf *b, const struct cat_table *t)
{
	buf_puts(b, "T;");
	field(b, t->schema);
	field(b, t->name);
	flag(b, t->relkind);
	field(b, t->parent_schema);
	field(b, t->parent_name);
	flag(b, t->replident);
	buf_putc(b, '\n');
	for (size_t i = 0; i < t->ncols; i++) {
		const struct cat_column *c = &t->cols[i];

		buf_puts(b, "C;");
		field(b, c->name);
		field(b, c->type);
		flag(b, c->not_null ? 't' : 'f');
		flag(b, c->generated ? 't' : 'f');
		flag(b, c->identity);
		buf_putc(b, '\n');
	}
}

static const char *
column_name(const struct cat_table *t, long attnum)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (t->cols[i].attnum == attnum)
			return t->cols[i].name;
	return NULL;
}

/* indkey's attnums ("1 3 0") as names, as the column records say them; 0 is an expression. */
static void
index_keys(struct buf *b, const struct cat_table *t, const char *keys)
{
	const char *p = keys ? keys : "";
	char *end;

	buf_puts(b, "(");
	for (long attnum = strtol(p, &end, 10); end != p; attnum = strtol(p, &end, 10)) {
		const char *name = attnum ? column_name(t, attnum) : "";

		if (name)
			field(b, name);
		else
			buf_printf(b, "#%ld;", attnum);
		p = end;
	}
	buf_puts(b, ");");
}

static void
index_text(struct buf *b, const struct catalog *cat, const struct cat_index *ix)
{
	const struct cat_table *t = &cat->tables[ix->table];

	buf_puts(b, "I;");
	field(b, t->schema);
	field(b, t->name);
	field(b, ix->schema);
	field(b, ix->name);
	flag(b, ix->is_unique ? 't' : 'f');
	index_keys(b, t, ix->keys);
	field(b, ix->shape);
	buf_putc(b, '\n');
}

static void
constraint_text(struct buf *b, const struct catalog *cat, const struct cat_constraint *k)
{
	buf_puts(b, "K;");
	field(b, cat->tables[k->table].schema);
	field(b, cat->tables[k->table].name);
	field(b, k->name);
	flag(b, k->type);
	field(b, k->def);
	flag(b, k->validated ? 't' : 'f');
	field(b, k->ref_schema);
	field(b, k->ref_name);
	buf_putc(b, '\n');
}

/*
 * The text is hashed as it is written, a record at a time: at 100,000
 * tables it is 40 MB, which plan held (and doubled while growing) only to
 * hash it.
 */
struct hasher {
	EVP_MD_CTX *md;
	struct buf b;
	bool ok;
};

static void
flush(struct hasher *h)
{
	h->ok = h->ok && EVP_DigestUpdate(h->md, h->b.data, h->b.len);
	buf_reset(&h->b);
}

static void
flush_full(struct hasher *h)
{
	if (h->b.len >= 64 * 1024)
		flush(h);
}

static char *
finish(struct hasher *h)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *hex = NULL;

	flush(h);
	if (h->ok && EVP_DigestFinal_ex(h->md, md, &mdlen)) {
		hex = xmalloc(2 * (size_t) mdlen + 1);
		for (unsigned int i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		hex[2 * mdlen] = '\0';
	}
	EVP_MD_CTX_free(h->md);
	buf_free(&h->b);
	return hex;
}

char *
catalog_fingerprint(const struct catalog *cat)
{
	struct hasher h = {.md = EVP_MD_CTX_new()};

	h.ok = h.md && EVP_DigestInit_ex(h.md, EVP_sha256(), NULL);
	buf_init(&h.b);
	buf_puts(&h.b, "pgshift-catalog-v2\n");
	for (size_t i = 0; i < cat->ntables; i++) {
		table_text(&h.b, &cat->tables[i]);
		flush_full(&h);
	}
	for (size_t i = 0; i < cat->nindexes; i++) {
		index_text(&h.b, cat, &cat->indexes[i]);
		flush_full(&h);
	}
	for (size_t i = 0; i < cat->nconstraints; i++) {
		constraint_text(&h.b, cat, &cat->constraints[i]);
		flush_full(&h);
	}
	return finish(&h);
}
