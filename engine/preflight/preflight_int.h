/*
 * What the preflight check files share: the run's context, the helpers that
 * append results to the report, and the few pure functions the tests call
 * directly. Not for use outside engine/preflight/.
 */
#ifndef PGSHIFT_PREFLIGHT_PREFLIGHT_INT_H
#define PGSHIFT_PREFLIGHT_PREFLIGHT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "pg/catalog.h"
#include "plan/plan.h"
#include "preflight/preflight.h"
#include "util/buf.h"

#define PF_NTOOLS 2                 /* pg_dump, pg_restore */

struct pf_tool_probe;

struct pf_ctx {
	const struct plan *plan;
	PGconn *src;                /* never NULL */
	PGconn *dst;                /* NULL when the target could not be reached */
	const char *target_error;
	const struct catalog *cat;
	bool resuming;
	bool own_slot_exists;       /* found by leftover_objects; replication_slots needs no new one */
	struct preflight_report *report;
	struct pf_tool_probe *tools[PF_NTOOLS];    /* owned; from pf_tools_start to pf_checks_tools */
};

/* Appends a check; observed and hint are copied (hint dropped on PASS). */
void pf_add(struct pf_ctx *c, const char *name, enum check_status st, const char *observed,
			const char *hint);
/* Takes ownership of observed (a malloc'd string, e.g. from buf_steal). */
void pf_add_owned(struct pf_ctx *c, const char *name, enum check_status st, char *observed,
				  const char *hint);
/* A check that needs the target when there is none: FAIL, pointing at target_connect. */
void pf_no_target(struct pf_ctx *c, const char *name);
/* A check whose query failed: WARN with the server's message as observed. */
void pf_check_prepared(struct pf_ctx *c, PGconn *conn, const char *name, const char *where,
					   const char *hint);
void pf_query_failed(struct pf_ctx *c, const char *name, PGconn *conn, const char *hint);
/*
 * A CDC-only check when cdc.enabled is false: PASS, with the value seen and a
 * note, so the report still shows what a later switch to CDC would meet.
 */
void pf_add_cdc(struct pf_ctx *c, const char *name, enum check_status st, char *observed,
				const char *hint);

/* Runs a read-only query with bound text params; NULL on error (message left in conn). */
PGresult *pf_query(PGconn *conn, const char *sql, int nparams, const char *const *params);

/*
 * A server default as a new session sees it: pg_settings.reset_val, not SHOW,
 * because pgshift's own sessions SET TimeZone, DateStyle and others. NULL
 * when the query fails or the setting is hidden from this role.
 */
char *pf_setting(PGconn *conn, const char *name);

/*
 * Appends "a, b, c" naming at most 10 items, then "and N more", so a report
 * about 5,000 tables stays one line.
 */
void pf_list_append(struct buf *b, size_t index, size_t total, const char *item);

/*
 * current_user of the session as a quoted identifier (malloc'd), for hints
 * that must be SQL one can paste: the login name as libpq sent it when the
 * query fails.
 */
char *pf_quoted_role(PGconn *conn);

/*
 * "{1,2,3}": the source oids of the catalog's tables that keep accepts (all
 * when keep is NULL), malloc'd, to bind as one oid[] parameter.
 */
char *pf_table_oids(const struct catalog *cat, bool (*keep)(const struct cat_table *));

/* "15" for 150004, "9.6" for 90624: the major as PostgreSQL itself prints it. */
void pf_major_name(int version_num, char *out, size_t outlen);
/* Major of a version_num on one scale: 1500 for 15.x, 906 for 9.6.x. */
int pf_major_of(int version_num);
/* Major from `pg_dump --version` output ("pg_dump (PostgreSQL) 15.20 ..."), -1 if unreadable. */
int pf_parse_tool_major(const char *line);
/* "1.2 GB" style size for messages. */
void pf_format_bytes(int64_t bytes, char *out, size_t outlen);

/* The groups of checks, in report order. */
void pf_checks_server(struct pf_ctx *c);
void pf_checks_replication(struct pf_ctx *c);
/* rollback.enabled: the target as the reverse stream's publisher (checks_rollback.c). */
void pf_checks_rollback(struct pf_ctx *c);
void pf_checks_privileges(struct pf_ctx *c);
void pf_checks_target_privileges(struct pf_ctx *c);
/* target_roles, owner_roles, role_passwords, owner_membership (checks_roles.c). */
void pf_checks_roles(struct pf_ctx *c);
void pf_checks_row_security(struct pf_ctx *c);
void pf_checks_tables(struct pf_ctx *c);
void pf_checks_globals(struct pf_ctx *c);
/* Starts looking for pg_dump and pg_restore; pf_checks_tools reports what was found. */
void pf_tools_start(struct pf_ctx *c);
void pf_checks_tools(struct pf_ctx *c);
void pf_check_disk(struct pf_ctx *c);
void pf_compare_params(struct pf_ctx *c);

#endif
