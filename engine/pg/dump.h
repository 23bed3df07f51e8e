/*
 * Running PostgreSQL's own pg_dump and pg_restore (schema DDL never comes
 * from anywhere else) and reading their archives' tables of contents.
 * The tools run with fork + execvp and a fixed argv, never through a shell.
 * A password never goes on their command line, where `ps` shows it to every
 * user of the machine: the connection string passed with --dbname has it
 * removed, and the child alone gets it in PGPASSWORD.
 */
#ifndef PGSHIFT_PG_DUMP_H
#define PGSHIFT_PG_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* A growable argv for one tool run; every string owned. */
struct pgtool_cmd {
	char **argv;                /* NULL-terminated once run */
	size_t argc, cap;
	char *password;             /* owned; given to the child as PGPASSWORD, or NULL */
};

void pgtool_init(struct pgtool_cmd *cmd, const char *tool);
void pgtool_free(struct pgtool_cmd *cmd);
void pgtool_arg(struct pgtool_cmd *cmd, const char *arg);
void pgtool_argf(struct pgtool_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Adds --dbname=CONNINFO without its password, which goes to cmd->password. */
bool pgtool_dbname(struct pgtool_cmd *cmd, const char *conninfo, struct pgs_error *err);

/*
 * Runs the tool (the one preflight chose, else found in PATH, unwrapped, else the
 * newest /usr/lib/postgresql/N/bin)
 * and waits for it. On a non-zero exit, fails with `what` and an excerpt of
 * the tool's stderr in err->detail.
 */
bool pgtool_run(struct pgtool_cmd *cmd, const char *what, struct pgs_error *err);

/*
 * The program preflight's tool check found new enough for the source (path,
 * unwrapped): every later pgtool_run of tool starts it, not the first in
 * PATH, which may be an older major that refuses the server.
 */
void pgtool_choose(const char *tool, const char *path);

/*
 * The program that really runs for the tool at path: Debian's pg_wrapper
 * resolved to /usr/lib/postgresql/N/bin/TOOL of the version it picks (asked
 * once per path, tool_unwrap.c); path itself otherwise. malloc'd.
 */
char *pgtool_unwrap(const char *path);

/* `path --version`'s output (malloc'd), or NULL when it cannot be run or fails. */
char *pgtool_version(const char *path);

/* Sends sig to every tool pgtool_run is waiting for (apply stopping on a signal). */
void pgtool_kill_children(int sig);

/*
 * conninfo (URI or key=value) as key=value without any password; the
 * password, if there was one, in *password (malloc'd). NULL when libpq
 * cannot parse conninfo, with its message in err.
 */
char *conninfo_strip_password(const char *conninfo, char **password, struct pgs_error *err);

/*
 * A pg_dump name pattern that matches exactly this object: each part in
 * double quotes with embedded quotes doubled, so *, ? and . are literal and
 * case is kept. name may be NULL (a schema pattern).
 */
char *pgtool_exact_pattern(const char *schema, const char *name);

/* One line of `pg_restore --list`: "ID; CLASSOID OID DESC SCHEMA TAG OWNER". */
struct toc_entry {
	char *line;                 /* owned; the whole line, written back as is */
	uint32_t classoid, oid;     /* the object's catalog and oid on the source; 0 0 when none */
	const char *desc;           /* static: "INDEX", "FK CONSTRAINT", ...; NULL if not known */
	const char *rest;           /* into line: "SCHEMA TAG OWNER" after desc */
};

struct toc {
	struct toc_entry *items;    /* owned */
	size_t n, cap;
};

/* Parses `pg_restore --list` output; comment lines (';') are skipped. */
void toc_parse(struct toc *toc, const char *text);
void toc_free(struct toc *toc);
/* True when e->rest starts with "SCHEMA NAME " (or "- NAME " for schema NULL). */
bool toc_names(const struct toc_entry *e, const char *schema, const char *name);

/*
 * Of an entry outside any schema ("- TAG OWNER"), the first word of its tag
 * after prefix (e.g. "EXTENSION " of a comment), malloc'd; NULL when the
 * entry has a schema or its tag does not start with prefix.
 */
char *toc_tag(const struct toc_entry *e, const char *prefix);
/* The same for a tag that names the object as an SQL identifier ("EXTENSION \"my ext\""), unquoted. */
char *toc_tag_ident(const struct toc_entry *e, const char *prefix);

/* Reads a whole file into a malloc'd string; NULL with err filled. */
char *read_file_text(const char *path, struct pgs_error *err);
bool write_file_text(const char *path, const char *text, struct pgs_error *err);

#endif
