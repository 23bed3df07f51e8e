/*
 * What the DDL steps (schema, index, constraint, vacuum, blobs, sequences)
 * share: naming a failure after its step, recording created objects in the
 * state, a sorted set of "schema.name" keys, the pg_dump filter arguments
 * that reproduce the catalog's filters, and catalog lookups. Not public.
 */
#ifndef PGSHIFT_STEPS_STEPS_INT_H
#define PGSHIFT_STEPS_STEPS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "pg/dump.h"
#include "run/run.h"

/* Names the step in err (err->step and a message prefix); returns false. */
bool step_failed(struct run *run, size_t step, struct pgs_error *err);

/*
 * Whether the copy step empties its table in its own transaction and so
 * writes with COPY FREEZE (a whole table not emptied beforehand); the
 * vacuum step reads the same answer.
 */
bool step_copy_freezes(const struct run *run, const struct step *copy);

/* state_record_object when the run has a state; true otherwise. */
bool steps_record(struct run *run, const char *kind, const char *schema, const char *name,
				  struct pgs_error *err);
/* state_manifest_record (what appeared on the target) when the run has a state. */
bool steps_record_created(struct run *run, struct pgs_error *err);

/* A set of (schema, name) pairs, looked up by binary search. */
struct name_set {
	char **keys;                /* owned; "schema\x1fname", sorted */
	size_t n, cap;
};

void name_set_add(struct name_set *s, const char *schema, const char *name);
void name_set_sort(struct name_set *s);
bool name_set_has(const struct name_set *s, const char *schema, const char *name);
void name_set_free(struct name_set *s);
/* Fills s from a query whose first two columns are schema and name. */
bool name_set_query(struct name_set *s, PGconn *conn, const char *sql, struct pgs_error *err);

/*
 * Adds the pg_dump arguments that select exactly the catalog's objects:
 * --exclude-schema for every source schema the filters left out, and
 * --exclude-table for every table, view or sequence of a kept schema the
 * filters left out (read from the source, whose pg_class holds them).
 */
bool dump_filter_args(struct run *run, PGconn *src, struct pgtool_cmd *cmd,
					  struct pgs_error *err);
/*
 * False for an archive entry of an extension the filters left out (or its
 * comment), of a class filters.exclude_object_classes names, of pgshift's
 * own publications, and for a user mapping that holds a password.
 */
bool dump_keep_entry(const struct plan *plan, const struct catalog *cat,
					 const struct toc_entry *e);
/* Adds --dbname and the options every pg_dump of pgshift takes. */
bool dump_common_args(struct run *run, struct pgtool_cmd *cmd, const char *file,
					  struct pgs_error *err);
/* Adds the options that shape every pg_restore's SQL (owners, grants, tablespaces). */
void restore_script_args(struct pgtool_cmd *cmd);
/* Adds the options every pg_restore of pgshift takes, connected to the target. */
bool restore_common_args(struct run *run, struct pgtool_cmd *cmd, struct pgs_error *err);

/*
 * schema.roles: create_missing: creates on tgt the roles the schema names
 * that it lacks (schema_roles.c); a no-op under the other modes.
 */
bool schema_roles_create(struct run *run, PGconn *src, PGconn *tgt, struct pgs_error *err);
/*
 * schema.copy_passwords: gives role target on tgt the password verifier of
 * role source (schema_passwords.c); *copied is false when it has none.
 */
bool schema_role_password(PGconn *src, PGconn *tgt, const char *source, const char *target,
						  bool *copied, struct pgs_error *err);
/*
 * schema_replan.c: marks in keep the pre-data entries of toc that the new
 * tables (missing, per catalog table) need and the target lacks.
 */
bool schema_replan_needs(struct run *run, PGconn *src, PGconn *tgt, const bool *missing,
						 const struct toc *toc, bool *keep, struct pgs_error *err);
/* Sets the source's owners and ACLs, mapped by the plan, on the restored objects (schema_privs.c). */
bool schema_privs_apply(struct run *run, PGconn *src, PGconn *tgt, struct pgs_error *err);

/* run->workdir/name, creating workdir when missing; NULL with err when impossible. */
char *work_file(struct run *run, const char *name, struct pgs_error *err);

/* `pg_restore --list` of dump, parsed. */
bool toc_list(const char *dump, struct toc *toc, struct pgs_error *err);
/* Writes the kept entries (keep[i]) as a list for pg_restore --use-list. */
bool toc_write_kept(const struct toc *toc, const bool *keep, const char *path,
					struct pgs_error *err);

/* The constraint that owns index i (p/u/x), or -1. */
long cat_constraint_of_index(const struct catalog *cat, long i);

/* The target session settings of a DDL step: maintenance_work_mem from the
 * target's memory, shared by index_jobs sessions; computed once per run. */
bool steps_ddl_session(struct run *run, PGconn *conn, struct pgs_error *err);

#endif
