/*
 * The Relation messages the applier has seen, kept in the spool directory
 * as "applier-relations" (the spool ignores files not named like its
 * segments). pgoutput sends a relation's Relation message once per
 * walsender session, before its first change, so once the spool segment
 * that held it is deleted, a restarted applier would meet changes of a
 * relation nobody described. The file is rewritten (temp file, fsync,
 * rename, fsync of the directory) before any segment is deleted, and read
 * back first on start.
 *
 * Format: "PGSREL1\n", then per relation: in_stream u8 | length u32 LE |
 * the raw pgoutput message body.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/apply_int.h"
#include "util/xalloc.h"

#define RELFILE_MAGIC "PGSREL1\n"
#define RELFILE_NAME "applier-relations"

static void
put_record(struct buf *b, const struct apply_rel *r)
{
	uint8_t head[5] = {r->raw_stream ? 1 : 0, (uint8_t) r->raw_len, (uint8_t) (r->raw_len >> 8),
					   (uint8_t) (r->raw_len >> 16), (uint8_t) (r->raw_len >> 24)};

	buf_append(b, head, sizeof(head));
	buf_append(b, r->raw, r->raw_len);
}

static bool
write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		data += n;
		len -= (size_t) n;
	}
	return true;
}

static bool
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	bool ok = fd >= 0 && fsync(fd) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

bool
apply_relfile_write(struct cdc_applier *a, struct pgs_error *err)
{
	char *path = xasprintf("%s/%s", a->spool_dir, RELFILE_NAME);
	char *tmp = xasprintf("%s.tmp", path);
	struct buf b;
	int fd;
	bool ok;

	buf_init(&b);
	buf_puts(&b, RELFILE_MAGIC);
	for (size_t i = 0; i < a->rels_cap; i++)
		if (a->rels[i].relid && a->rels[i].raw)
			put_record(&b, &a->rels[i]);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ok = fd >= 0 && write_all(fd, b.data, b.len) && fsync(fd) == 0;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	ok = ok && rename(tmp, path) == 0 && sync_dir(a->spool_dir);
	if (!ok)
		pgs_fail(err, "could not write file \"%s\": %m", path);
	else
		a->rels_dirty = false;
	buf_free(&b);
	free(tmp);
	free(path);
	return ok;
}

static bool
read_file(const char *path, struct buf *b, bool *missing)
{
	FILE *f = fopen(path, "rb");
	char chunk[65536];
	size_t n;

	*missing = !f && errno == ENOENT;
	if (!f)
		return false;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(b, chunk, n);
	n = (size_t) ferror(f);
	fclose(f);
	return n == 0;
}

static bool
load_records(struct cdc_applier *a, const uint8_t *p, size_t len, const char *path,
			 struct pgs_error *err)
{
	size_t pos = strlen(RELFILE_MAGIC);

	if (len < pos || memcmp(p, RELFILE_MAGIC, pos) != 0)
		return pgs_fail(err, "file \"%s\" is not an applier relation file", path);
	while (pos < len) {
		struct pgo_msg m;
		uint32_t n;

		if (len - pos < 5)
			return pgs_fail(err, "file \"%s\" is cut at offset %zu", path, pos);
		n = (uint32_t) p[pos + 1] | (uint32_t) p[pos + 2] << 8 | (uint32_t) p[pos + 3] << 16 |
			(uint32_t) p[pos + 4] << 24;
		if (len - pos - 5 < n)
			return pgs_fail(err, "file \"%s\" is cut at offset %zu", path, pos);
		if (!pgo_decode(p + pos + 5, n, p[pos] != 0, &m, err)) {
			pgs_error_prefix(err, "file \"%s\" at offset %zu", path, pos);
			return false;
		}
		if (m.kind != PGO_RELATION) {
			pgo_msg_free(&m);
			return pgs_fail(err, "file \"%s\" holds a %s at offset %zu", path,
							pgo_kind_name(m.kind), pos);
		}
		apply_rel_message(a, &m.u.relation, p + pos + 5, n, p[pos] != 0);
		pgo_msg_free(&m);
		pos += 5 + (size_t) n;
	}
	return true;
}

bool
apply_relfile_load(struct cdc_applier *a, struct pgs_error *err)
{
	char *path = xasprintf("%s/%s", a->spool_dir, RELFILE_NAME);
	struct buf b;
	bool missing, ok;

	buf_init(&b);
	ok = read_file(path, &b, &missing);
	if (!ok && !missing)
		pgs_fail(err, "could not read file \"%s\": %m", path);
	else if (ok)
		ok = load_records(a, (const uint8_t *) b.data, b.len, path, err);
	else
		ok = true;
	a->rels_dirty = false;
	buf_free(&b);
	free(path);
	return ok;
}
