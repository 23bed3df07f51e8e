/*
 * Appending check results to the report, and the small formatting helpers the
 * checks share (lists that stay one line, majors, sizes). Every string in the
 * report is owned by it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/conn.h"
#include "preflight/preflight_int.h"
#include "util/xalloc.h"

/* Grown by one each time: a report holds a few dozen checks at most. */
void
pf_add_owned(struct pf_ctx *c, const char *name, enum check_status st, char *observed,
			 const char *hint)
{
	struct preflight_report *r = c->report;
	struct check_result *cr;

	r->checks = xrealloc(r->checks, (r->nchecks + 1) * sizeof(*r->checks));
	cr = &r->checks[r->nchecks++];
	cr->name = xstrdup(name);
	cr->status = st;
	cr->observed = observed ? observed : xstrdup("");
	cr->hint = st != CHECK_PASS && hint ? xstrdup(hint) : NULL;
	if (st == CHECK_FAIL)
		r->nfail++;
	else if (st == CHECK_WARN)
		r->nwarn++;
}

void
pf_add(struct pf_ctx *c, const char *name, enum check_status st, const char *observed,
	   const char *hint)
{
	pf_add_owned(c, name, st, xstrdup(observed ? observed : ""), hint);
}

void
pf_no_target(struct pf_ctx *c, const char *name)
{
	pf_add(c, name, CHECK_FAIL, "not checked: no target connection",
		   "fix target_connect first");
}

static char *
first_line(const char *msg)
{
	size_t len = strcspn(msg, "\n");

	return xasprintf("could not check: %.*s", (int) len, msg);
}

void
pf_query_failed(struct pf_ctx *c, const char *name, PGconn *conn, const char *hint)
{
	pf_add_owned(c, name, CHECK_WARN, first_line(PQerrorMessage(conn)),
				 hint ? hint : "grant the connecting role read access to the system views");
}

void
pf_add_cdc(struct pf_ctx *c, const char *name, enum check_status st, char *observed,
		   const char *hint)
{
	char *noted;

	if (c->plan->cdc.enabled) {
		pf_add_owned(c, name, st, observed, hint);
		return;
	}
	noted = xasprintf("%s (not needed: cdc disabled)", observed);
	free(observed);
	pf_add_owned(c, name, CHECK_PASS, noted, NULL);
}

PGresult *
pf_query(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return NULL;
	}
	return res;
}

enum { LIST_MAX = 10 };

void
pf_list_append(struct buf *b, size_t index, size_t total, const char *item)
{
	if (index < LIST_MAX) {
		if (index > 0)
			buf_puts(b, ", ");
		buf_puts(b, item);
	} else if (index == LIST_MAX) {
		buf_printf(b, " and %zu more", total - LIST_MAX);
	}
}

int
pf_major_of(int version_num)
{
	/* since 10 the major is one number; before, two (9.6) */
	return version_num >= 100000 ? version_num / 10000 * 100 : version_num / 100;
}

void
pf_major_name(int version_num, char *out, size_t outlen)
{
	int m = pf_major_of(version_num);

	if (m >= 1000)
		snprintf(out, outlen, "%d", m / 100);
	else
		snprintf(out, outlen, "%d.%d", m / 100, m % 100);
}

int
pf_parse_tool_major(const char *line)
{
	const char *p = strstr(line, "(PostgreSQL) ");
	char *end;
	long major, minor = 0;

	if (!p)
		return -1;
	p += strlen("(PostgreSQL) ");
	major = strtol(p, &end, 10);
	if (end == p || major <= 0 || major > 999)
		return -1;
	if (major >= 10)
		return (int) major * 100;
	if (*end != '.')
		return -1;
	p = end + 1;
	minor = strtol(p, &end, 10);
	if (end == p || minor < 0 || minor > 99)
		return -1;
	return (int) (major * 100 + minor);
}

void
pf_format_bytes(int64_t bytes, char *out, size_t outlen)
{
	static const char *const units[] = {"bytes", "kB", "MB", "GB", "TB", "PB"};
	double v = (double) bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(out, outlen, "%" PRId64 " bytes", bytes);
		return;
	}
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(out, outlen, "%.1f %s", v, units[u]);
}

char *
pf_setting(PGconn *conn, const char *name)
{
	const char *params[1] = {name};
	PGresult *res = pf_query(conn, "SELECT reset_val FROM pg_settings WHERE name = $1", 1, params);
	char *val = NULL;

	if (res && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		val = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return val;
}

char *
pf_quoted_role(PGconn *conn)
{
	PGresult *res = pf_query(conn, "SELECT current_user", 0, NULL);
	char *q = pg_quote_ident(conn, res ? PQgetvalue(res, 0, 0) : PQuser(conn));

	PQclear(res);
	return q;
}

char *
pf_table_oids(const struct catalog *cat, bool (*keep)(const struct cat_table *))
{
	struct buf b;

	buf_init(&b);
	buf_putc(&b, '{');
	for (size_t i = 0; i < cat->ntables; i++) {
		if (keep && !keep(&cat->tables[i]))
			continue;
		buf_printf(&b, "%s%u", b.len > 1 ? "," : "", cat->tables[i].oid);
	}
	buf_putc(&b, '}');
	return buf_steal(&b);
}
