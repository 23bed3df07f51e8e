/*
 * The preflight runner (DESIGN.md §3): runs every group of checks in a fixed
 * order so reports of two runs line up, and renders the report as text or
 * JSON. It never stops at the first FAIL: an operator fixing a source wants
 * the whole list in one dry run, not one problem per attempt.
 */
#include <stdlib.h>
#include <string.h>

#include "preflight/preflight_int.h"
#include "util/json.h"
#include "util/xalloc.h"

const char *
check_status_name(enum check_status s)
{
	switch (s) {
	case CHECK_PASS: return "PASS";
	case CHECK_WARN: return "WARN";
	case CHECK_FAIL: return "FAIL";
	}
	return "?";
}

static bool
connection_lost(PGconn *conn, const char *role, struct pgs_error *err)
{
	if (!conn || PQstatus(conn) == CONNECTION_OK)
		return false;
	pgs_fail(err, "lost the connection to the %s during preflight: %s", role,
			 PQerrorMessage(conn));
	pgs_error_hint(err, "check that the %s server is up and run the preflight again", role);
	return true;
}

bool
preflight_run(const struct plan *plan, PGconn *src, PGconn *dst,
			  const char *target_error, const struct catalog *cat, bool resuming,
			  struct preflight_report *report, struct pgs_error *err)
{
	struct pf_ctx c = {
		.plan = plan, .src = src, .dst = dst, .target_error = target_error,
		.cat = cat, .resuming = resuming, .report = report,
	};

	memset(report, 0, sizeof(*report));
	pf_tools_start(&c);
	pf_checks_server(&c);
	pf_checks_replication(&c);
	pf_checks_rollback(&c);
	pf_checks_privileges(&c);
	pf_checks_target_privileges(&c);
	pf_checks_row_security(&c);
	pf_checks_tables(&c);
	pf_checks_globals(&c);
	pf_checks_tools(&c);
	pf_check_disk(&c);
	pf_compare_params(&c);
	if (connection_lost(src, "source", err) || connection_lost(dst, "target", err))
		return false;
	return true;
}

void
preflight_report_free(struct preflight_report *report)
{
	for (size_t i = 0; i < report->nchecks; i++) {
		free(report->checks[i].name);
		free(report->checks[i].observed);
		free(report->checks[i].hint);
	}
	for (size_t i = 0; i < report->nparams; i++) {
		free(report->params[i].name);
		free(report->params[i].source_value);
		free(report->params[i].target_value);
	}
	free(report->checks);
	free(report->params);
	memset(report, 0, sizeof(*report));
}

const struct check_result *
preflight_find(const struct preflight_report *report, const char *name)
{
	for (size_t i = 0; i < report->nchecks; i++)
		if (strcmp(report->checks[i].name, name) == 0)
			return &report->checks[i];
	return NULL;
}

void
preflight_report_text(const struct preflight_report *report, struct buf *out)
{
	for (size_t i = 0; i < report->nchecks; i++) {
		const struct check_result *cr = &report->checks[i];

		buf_printf(out, "%s  %-24s %s\n", check_status_name(cr->status), cr->name,
				   cr->observed);
		if (cr->hint)
			buf_printf(out, "      %-24s hint: %s\n", "", cr->hint);
	}
	if (report->nparams > 0)
		buf_puts(out, "\ncompare-params (source -> target):\n");
	for (size_t i = 0; i < report->nparams; i++) {
		const struct param_diff *pd = &report->params[i];

		buf_printf(out, "  %s %-30s %s -> %s\n", pd->changes_behaviour ? "!" : " ", pd->name,
				   pd->source_value, pd->target_value);
	}
	buf_printf(out, "\npreflight: %zu failed, %zu warnings, %zu passed\n", report->nfail,
			   report->nwarn, report->nchecks - report->nfail - report->nwarn);
}

static void
json_check(struct buf *out, const struct check_result *cr)
{
	buf_puts(out, "{\"name\":");
	json_put_string(out, cr->name);
	buf_puts(out, ",\"status\":");
	json_put_string(out, check_status_name(cr->status));
	buf_puts(out, ",\"observed\":");
	json_put_string(out, cr->observed);
	buf_puts(out, ",\"hint\":");
	json_put_string(out, cr->hint);
	buf_putc(out, '}');
}

static void
json_param(struct buf *out, const struct param_diff *pd)
{
	buf_puts(out, "{\"name\":");
	json_put_string(out, pd->name);
	buf_puts(out, ",\"source\":");
	json_put_string(out, pd->source_value);
	buf_puts(out, ",\"target\":");
	json_put_string(out, pd->target_value);
	buf_printf(out, ",\"changes_behaviour\":%s}", pd->changes_behaviour ? "true" : "false");
}

void
preflight_report_json(const struct preflight_report *report, struct buf *out)
{
	buf_puts(out, "{\"verdict\":");
	json_put_string(out, report->nfail ? "fail" : report->nwarn ? "warn" : "pass");
	buf_puts(out, ",\"checks\":[");
	for (size_t i = 0; i < report->nchecks; i++) {
		if (i > 0)
			buf_putc(out, ',');
		json_check(out, &report->checks[i]);
	}
	buf_puts(out, "],\"compare_params\":[");
	for (size_t i = 0; i < report->nparams; i++) {
		if (i > 0)
			buf_putc(out, ',');
		json_param(out, &report->params[i]);
	}
	buf_printf(out, "],\"fail\":%zu,\"warn\":%zu}", report->nfail, report->nwarn);
}
