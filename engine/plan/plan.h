/*
 * The checked plan: what a plan file (DESIGN.md §2) says, with defaults filled
 * in, ${VAR}s expanded and relative paths made absolute. Every string is
 * owned by the plan and freed by plan_free.
 */
#ifndef PGSHIFT_PLAN_PLAN_H
#define PGSHIFT_PLAN_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan/diag.h"

struct strlist {
	char **items;
	size_t n;
};

enum copy_format { COPY_FORMAT_TEXT, COPY_FORMAT_BINARY, COPY_FORMAT_AUTO };
enum replica_identity_mode { REPLICA_IDENTITY_FAIL, REPLICA_IDENTITY_FULL };
/*
 * cdc.ddl: what a schema change on the source during CDC does: stop the run,
 * or replicate it (event triggers on the source, run on the target in commit order).
 */
enum ddl_mode { DDL_STOP, DDL_REPLICATE };
enum approval_mode { APPROVAL_MANUAL, APPROVAL_AUTO };
enum cleanup_when { CLEANUP_AFTER_CUTOVER, CLEANUP_MANUAL };
enum verify_level { VERIFY_SCHEMA, VERIFY_COUNT, VERIFY_CHECKSUM };
enum notify_kind { NOTIFY_SLACK, NOTIFY_WEBHOOK };
/* schema.owners, schema.privileges, schema.roles (README "Owners, privileges and roles"). */
enum owners_mode { OWNERS_KEEP, OWNERS_TARGET_ROLE, OWNERS_MAP };
enum privileges_mode { PRIVILEGES_KEEP, PRIVILEGES_DROP };
enum roles_mode { ROLES_REQUIRE, ROLES_CREATE_MISSING, ROLES_IGNORE };

enum cutover_kind {
	CUTOVER_LUA,
	CUTOVER_FENCE_WRITES,
	CUTOVER_WAIT_FOR_CATCHUP,
	CUTOVER_SYNC_SEQUENCES,
	CUTOVER_VERIFY,
};

struct cutover_step {
	enum cutover_kind kind;
	int line;                   /* 1-based line in the plan file */
	size_t pos;                 /* 1-based place in cutover.steps; 0 for a default step */
	char *lua_file;             /* CUTOVER_LUA: absolute path */
	struct strlist roles;       /* CUTOVER_FENCE_WRITES */
	int64_t timeout_ms;         /* CUTOVER_WAIT_FOR_CATCHUP */
	int64_t margin;             /* CUTOVER_SYNC_SEQUENCES */
	enum verify_level level;    /* CUTOVER_VERIFY */
};

/* One entry of schema.owners.map: a source role and the target role that takes its place. */
struct role_pair {
	char *source, *target;
};

struct lua_hook {
	char *file;                 /* absolute path */
	struct strlist on;          /* event globs */
};

struct notify_target {
	enum notify_kind kind;
	char *url;
	char *secret;               /* NULL when unsigned */
	struct strlist on;
	bool include_values;        /* send row values (error detail, quoted values) */
};

struct plan {
	char *file;                 /* path as given */
	char *dir;                  /* absolute directory of the plan file */
	char *sha256;               /* hex digest of the file's bytes */
	int version;
	char *name;
	char *source_uri;
	char *target_uri;
	/* source./target.connect_timeout and keepalives_idle, in ms (pg/conn.c applies them) */
	struct conn_settings {
		int64_t connect_timeout_ms, keepalives_idle_ms;
	} source_conn, target_conn;

	struct {
		struct strlist include_schemas, exclude_schemas;
		struct strlist include_tables, exclude_tables;
		struct strlist exclude_table_data, exclude_extensions;
		struct strlist exclude_object_classes;  /* plan/object_class.h names, checked */
	} filters;

	struct {
		enum owners_mode owners;
		struct role_pair *map;              /* OWNERS_MAP: owned, nmap entries */
		size_t nmap;
		enum privileges_mode privileges;
		enum roles_mode roles;
		bool copy_passwords;                /* create_missing copies rolpassword */
	} schema;

	struct {
		int table_jobs, index_jobs;
		int64_t split_tables_larger_than;   /* bytes */
		int split_max_parts;
		enum copy_format format;
		bool vacuum_analyze, require_empty_target;
	} copy;

	struct {
		bool enabled;
		char *slot, *publication;
		enum replica_identity_mode replica_identity;
		char *spool_dir;                    /* absolute */
		int64_t max_lag_ms;
		enum ddl_mode ddl;
		int64_t reconnect_for_ms;           /* how long a lost CDC-phase connection is retried */
	} cdc;

	struct {
		enum approval_mode approval;
		struct cutover_step *steps;
		size_t nsteps;
	} cutover;

	struct {
		enum cleanup_when when;
		bool drop_slot, drop_publication, keep_state;
	} cleanup;

	/*
	 * rollback (README "Rollback"): reverse replication target -> source from
	 * the cutover on, kept keep_for_ms before cleanup ends it. slot and
	 * publication (on the TARGET) and spool_dir are derived from name and
	 * cdc.spool_dir, not plan keys.
	 */
	struct {
		bool enabled;
		int64_t keep_for_ms;
		char *slot, *publication;
		char *spool_dir;                    /* absolute */
	} rollback;

	struct {
		bool allow_shell;
		int64_t timeout_ms;
		struct lua_hook *lua;
		size_t nlua;
	} hooks;

	struct notify_target *notify;
	size_t nnotify;
};

/*
 * Reads and checks the plan file at path. Every problem found goes to diags
 * (errors and warnings, with line and column); returns NULL when there was
 * any error, so a caller never sees a half-checked plan.
 */
struct plan *plan_load(const char *path, struct diag_list *diags);
void plan_free(struct plan *plan);

/*
 * cdc.spool_dir when the plan leaves it out: .pgshift/<name>/spool next to
 * the plan file, one per plan, so two plans in one directory never share a
 * spool. Older versions used PLAN_OLD_SPOOL_DIR for every plan.
 */
#define PLAN_OLD_SPOOL_DIR ".pgshift/spool"
char *plan_default_spool_dir(const struct plan *plan);
void strlist_free(struct strlist *l);

const char *cutover_kind_name(enum cutover_kind kind);
const char *verify_level_name(enum verify_level level);
const char *copy_format_name(enum copy_format format);
/*
 * The target role that stands for source role src under schema.owners.map:
 * the mapped name, or src itself when the map does not name it.
 */
const char *plan_map_role(const struct plan *plan, const char *src);

#endif
