/*
 * The roles the restored schema names on the target (DESIGN.md §4c): the
 * owners and grantees of privs.h's objects, through the plan's role map,
 * and the roles policies apply to (pg_restore writes those by their source
 * name). Preflight checks them, schema.pre creates the missing ones under
 * schema.roles: create_missing.
 */
#ifndef PGSHIFT_PG_ROLES_NEEDED_H
#define PGSHIFT_PG_ROLES_NEEDED_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "pg/privs.h"

struct needed_role {
	char *source;               /* the source role it stands for */
	char *target;               /* its name on the target */
	char *named_by;             /* "owner of TABLE public.t", "a GRANT on ...", "policy p on ..." */
	bool owns;                  /* owns objects: the target login must be a member */
	bool policy_only;           /* named by policies only (kept by name, never mapped) */
	bool on_target;             /* exists on the target */
};

struct roles_needed {
	struct needed_role *roles;  /* sorted by target name */
	size_t n;
};

/* Reads them from src (pv: privs_load of the catalog on src) and looks each up on dst. */
bool roles_needed_load(PGconn *src, PGconn *dst, const struct plan *plan,
					   const struct catalog *cat, const struct privs *pv,
					   struct roles_needed *out, struct pgs_error *err);
void roles_needed_free(struct roles_needed *r);
size_t roles_needed_missing(const struct roles_needed *r);

#endif
