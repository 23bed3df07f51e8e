/*
 * The compare-params section: server defaults that differ between source and
 * target. Read from pg_settings.reset_val — what a new session of the
 * application would get, role and database settings included — because
 * pgshift's own sessions SET TimeZone, DateStyle and search_path, so SHOW
 * would only show pgshift's values. lc_collate/lc_ctype come from pg_database
 * as they belong to the database, not the server.
 */
#include <stdlib.h>
#include <string.h>

#include "preflight/preflight_int.h"
#include "util/xalloc.h"

static const struct {
	const char *name;
	bool changes_behaviour;     /* same query, different result or sort order */
} compared[] = {
	{"server_encoding", true},
	{"lc_collate", true},
	{"lc_ctype", true},
	{"TimeZone", true},
	{"DateStyle", true},
	{"IntervalStyle", true},
	{"standard_conforming_strings", true},
	{"default_text_search_config", true},
	{"search_path", true},
	{"lc_messages", false},
	{"lc_monetary", false},
	{"lc_numeric", false},
	{"lc_time", false},
	{"extra_float_digits", false},
	{"default_transaction_isolation", false},
	{"session_replication_role", false},
	{"max_connections", false},
	{"max_worker_processes", false},
	{"max_wal_size", false},
	{"shared_buffers", false},
};

/* The pg_settings names; lc_collate/lc_ctype are read from pg_database instead. */
static const char settings_sql[] =
	"SELECT name, reset_val FROM pg_settings WHERE name = ANY ($1::text[])"
	" AND name NOT IN ('lc_collate', 'lc_ctype')"
	" UNION ALL SELECT 'lc_collate', datcollate FROM pg_database WHERE datname = current_database()"
	" UNION ALL SELECT 'lc_ctype', datctype FROM pg_database WHERE datname = current_database()";

static char *
names_array(void)
{
	struct buf b;

	buf_init(&b);
	buf_putc(&b, '{');
	for (size_t i = 0; i < sizeof(compared) / sizeof(compared[0]); i++)
		buf_printf(&b, "%s%s", i ? "," : "", compared[i].name);
	buf_putc(&b, '}');
	return buf_steal(&b);
}

static PGresult *
read_settings(PGconn *conn)
{
	char *names = names_array();
	const char *params[1] = {names};
	PGresult *res = pf_query(conn, settings_sql, 1, params);

	free(names);
	return res;
}

static const char *
value_of(const PGresult *res, const char *name)
{
	for (int r = 0; r < PQntuples(res); r++)
		if (strcmp(PQgetvalue(res, r, 0), name) == 0)
			return PQgetvalue(res, r, 1);
	return NULL;
}

static void
add_diff(struct preflight_report *r, const char *name, bool changes, const char *sv,
		 const char *tv)
{
	struct param_diff *pd;

	r->params = xrealloc(r->params, (r->nparams + 1) * sizeof(*r->params));
	pd = &r->params[r->nparams++];
	pd->name = xstrdup(name);
	pd->source_value = xstrdup(sv ? sv : "(absent)");
	pd->target_value = xstrdup(tv ? tv : "(absent)");
	pd->changes_behaviour = changes;
}

/* Fills report->params; returns how many of them change behaviour, listed in names. */
static size_t
diff_settings(struct pf_ctx *c, const PGresult *src, const PGresult *dst, struct buf *names)
{
	size_t nchanging = 0;

	for (size_t i = 0; i < sizeof(compared) / sizeof(compared[0]); i++) {
		const char *sv = value_of(src, compared[i].name);
		const char *tv = value_of(dst, compared[i].name);

		if ((sv == NULL && tv == NULL) || (sv && tv && strcmp(sv, tv) == 0))
			continue;
		add_diff(c->report, compared[i].name, compared[i].changes_behaviour, sv, tv);
		if (compared[i].changes_behaviour)
			buf_printf(names, "%s%s", nchanging++ ? ", " : "", compared[i].name);
	}
	return nchanging;
}

void
pf_compare_params(struct pf_ctx *c)
{
	PGresult *src, *dst;
	struct buf names;
	size_t nchanging;

	if (!c->dst) {
		pf_no_target(c, "compare_params");
		return;
	}
	if (!(src = read_settings(c->src))) {
		pf_query_failed(c, "compare_params", c->src, NULL);
		return;
	}
	if (!(dst = read_settings(c->dst))) {
		PQclear(src);
		pf_query_failed(c, "compare_params", c->dst, NULL);
		return;
	}
	buf_init(&names);
	nchanging = diff_settings(c, src, dst, &names);
	PQclear(src);
	PQclear(dst);
	if (nchanging > 0)
		pf_add_owned(c, "compare_params", CHECK_WARN, xasprintf("differ: %s", names.data),
					 "set them on the target as on the source (ALTER SYSTEM / ALTER DATABASE), "
					 "or confirm the application expects the new values");
	else if (c->report->nparams > 0)
		pf_add_owned(c, "compare_params", CHECK_PASS,
					 xasprintf("%zu differ, none changes results", c->report->nparams), NULL);
	else
		pf_add(c, "compare_params", CHECK_PASS, "none differ", NULL);
	buf_free(&names);
}
