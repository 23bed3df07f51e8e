/*
 * pg_dump / pg_restore runs and archive lists; see dump.h. The child gets
 * stdout on /dev/null (every run writes to files named in argv) and stderr
 * on a pipe whose first bytes become the error detail when the tool fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pg/dump.h"
#include "util/buf.h"
#include "util/spawn.h"
#include "util/xalloc.h"

#define STDERR_KEEP 4096        /* bytes of a tool's stderr kept for the error */
#define MAX_CHILDREN 64         /* more than the steps that can run tools at once */

static pthread_mutex_t children_lock = PTHREAD_MUTEX_INITIALIZER;    /* guards children */
static pid_t children[MAX_CHILDREN];                                /* 0: free slot */

static void
child_track(pid_t pid, bool running)
{
	pthread_mutex_lock(&children_lock);
	for (size_t i = 0; i < MAX_CHILDREN; i++) {
		if (running ? children[i] == 0 : children[i] == pid) {
			children[i] = running ? pid : 0;
			break;
		}
	}
	pthread_mutex_unlock(&children_lock);
}

void
pgtool_kill_children(int sig)
{
	pthread_mutex_lock(&children_lock);
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (children[i] > 0)
			kill(children[i], sig);
	pthread_mutex_unlock(&children_lock);
}

void
pgtool_init(struct pgtool_cmd *cmd, const char *tool)
{
	memset(cmd, 0, sizeof(*cmd));
	pgtool_arg(cmd, tool);
}

void
pgtool_free(struct pgtool_cmd *cmd)
{
	for (size_t i = 0; i < cmd->argc; i++)
		free(cmd->argv[i]);
	free(cmd->argv);
	free(cmd->password);
	memset(cmd, 0, sizeof(*cmd));
}

void
pgtool_arg(struct pgtool_cmd *cmd, const char *arg)
{
	if (cmd->argc + 2 > cmd->cap) {
		cmd->cap = cmd->cap ? cmd->cap * 2 : 16;
		cmd->argv = xrealloc(cmd->argv, cmd->cap * sizeof(char *));
	}
	cmd->argv[cmd->argc++] = xstrdup(arg);
	cmd->argv[cmd->argc] = NULL;
}

void
pgtool_argf(struct pgtool_cmd *cmd, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	pgtool_arg(cmd, b.data);
	buf_free(&b);
}

/* key='value' with \ and ' escaped, as libpq's conninfo parser reads it. */
static void
put_conn_value(struct buf *b, const char *key, const char *val)
{
	if (b->len > 0)
		buf_putc(b, ' ');
	buf_printf(b, "%s='", key);
	for (const char *p = val; *p; p++) {
		if (*p == '\\' || *p == '\'')
			buf_putc(b, '\\');
		buf_putc(b, *p);
	}
	buf_putc(b, '\'');
}

char *
conninfo_strip_password(const char *conninfo, char **password, struct pgs_error *err)
{
	char *msg = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
	struct buf b;

	*password = NULL;
	if (!opts) {
		pgs_fail(err, "could not parse connection string: %s",
				 msg ? msg : "out of memory");
		PQfreemem(msg);
		return NULL;
	}
	buf_init(&b);
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (strcmp(o->keyword, "password") == 0) {
			free(*password);
			*password = xstrdup(o->val);
			continue;
		}
		put_conn_value(&b, o->keyword, o->val);
	}
	PQconninfoFree(opts);
	return buf_steal(&b);
}

bool
pgtool_dbname(struct pgtool_cmd *cmd, const char *conninfo, struct pgs_error *err)
{
	char *pw = NULL;
	char *clean = conninfo_strip_password(conninfo, &pw, err);

	if (!clean)
		return false;
	free(cmd->password);
	cmd->password = pw;
	pgtool_argf(cmd, "--dbname=%s", clean);
	free(clean);
	return true;
}

static void
put_quoted_part(struct buf *b, const char *part)
{
	buf_putc(b, '"');
	for (const char *p = part; *p; p++) {
		if (*p == '"')
			buf_putc(b, '"');
		buf_putc(b, *p);
	}
	buf_putc(b, '"');
}

char *
pgtool_exact_pattern(const char *schema, const char *name)
{
	struct buf b;

	buf_init(&b);
	put_quoted_part(&b, schema);
	if (name) {
		buf_putc(&b, '.');
		put_quoted_part(&b, name);
	}
	return buf_steal(&b);
}

static int
version_of_dir(const char *path)
{
	/* /usr/lib/postgresql/N/bin/tool */
	const char *p = path + strlen("/usr/lib/postgresql/");

	return (int) strtol(p, NULL, 10);
}

#define CHOSEN_SLOTS 4

struct chosen_tool {
	char *tool, *path;          /* owned */
};

static pthread_mutex_t chosen_lock = PTHREAD_MUTEX_INITIALIZER;    /* guards chosen */
static struct chosen_tool chosen[CHOSEN_SLOTS];

void
pgtool_choose(const char *tool, const char *path)
{
	char *real = pgtool_unwrap(path);
	size_t i;

	pthread_mutex_lock(&chosen_lock);
	for (i = 0; i < CHOSEN_SLOTS && chosen[i].tool && strcmp(chosen[i].tool, tool) != 0; i++)
		;
	if (i < CHOSEN_SLOTS) {
		if (!chosen[i].tool)
			chosen[i].tool = xstrdup(tool);
		free(chosen[i].path);
		chosen[i].path = real;
		real = NULL;
	}
	pthread_mutex_unlock(&chosen_lock);
	free(real);
}

static char *
chosen_path(const char *tool)
{
	char *path = NULL;

	pthread_mutex_lock(&chosen_lock);
	for (size_t i = 0; i < CHOSEN_SLOTS && chosen[i].tool && !path; i++)
		if (strcmp(chosen[i].tool, tool) == 0)
			path = xstrdup(chosen[i].path);
	pthread_mutex_unlock(&chosen_lock);
	return path;
}

/*
 * The tool's path: the one preflight picked (pgtool_choose); without a
 * preflight, the first in PATH (the program behind it when that is Debian's
 * wrapper), else the newest Debian-style install.
 */
static char *
resolve_tool(const char *tool)
{
	const char *path = getenv("PATH");
	char *pattern, *best = chosen_path(tool);
	int best_v = -1;
	glob_t g;

	if (best)
		return best;
	while (path && *path) {
		size_t len = strcspn(path, ":");
		char *cand = xasprintf("%.*s/%s", (int) len, len ? path : ".", tool);
		char *found = access(cand, X_OK) == 0 ? pgtool_unwrap(cand) : NULL;

		free(cand);
		if (found)
			return found;
		path += len + (path[len] == ':');
	}
	pattern = xasprintf("/usr/lib/postgresql/*/bin/%s", tool);
	if (glob(pattern, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			if (version_of_dir(g.gl_pathv[i]) > best_v) {
				best_v = version_of_dir(g.gl_pathv[i]);
				free(best);
				best = xstrdup(g.gl_pathv[i]);
			}
		globfree(&g);
	}
	free(pattern);
	return best ? best : xstrdup(tool);
}

/* Reads the child's stderr to the end, keeping the first STDERR_KEEP bytes. */
static void
drain(int fd, struct buf *out)
{
	char chunk[1024];
	ssize_t got;

	while ((got = read(fd, chunk, sizeof(chunk))) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (out->len < STDERR_KEEP)
			buf_append(out, chunk, (size_t) got);
	}
}

static bool
tool_failed(struct pgs_error *err, const char *what, const char *tool, int status,
			const struct buf *errout)
{
	size_t len = errout->len;

	while (len > 0 && (errout->data[len - 1] == '\n' || errout->data[len - 1] == ' '))
		len--;
	if (WIFEXITED(status))
		pgs_fail(err, "%s: %s exited with status %d", what, tool, WEXITSTATUS(status));
	else
		pgs_fail(err, "%s: %s was terminated by signal %d", what, tool,
				 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	if (len > 0)
		pgs_error_detail(err, "%.*s", (int) len, errout->data);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		pgs_error_hint(err, "install postgresql-client (pg_dump and pg_restore) on this machine");
	return false;
}

bool
pgtool_run(struct pgtool_cmd *cmd, const char *what, struct pgs_error *err)
{
	char *path = resolve_tool(cmd->argv[0]);
	char *tool = cmd->argv[0];
	char *env = cmd->password ? xasprintf("PGPASSWORD=%s", cmd->password) : NULL;
	struct spawn_cmd sc = {path, cmd->argv, env, SPAWN_STDERR, false};
	struct buf errout;
	int fd, status = 0;
	pid_t pid;
	bool ok;

	/* the program finds its own files (translations) from argv[0] */
	cmd->argv[0] = path;
	ok = spawn_piped(&sc, &pid, &fd, err);
	cmd->argv[0] = tool;
	free(env);
	if (!ok) {
		pgs_error_prefix(err, "%s", what);
		pgs_error_hint(err, "install postgresql-client (pg_dump and pg_restore) on this machine");
		free(path);
		return false;
	}
	buf_init(&errout);
	child_track(pid, true);
	drain(fd, &errout);
	close(fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	child_track(pid, false);
	ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!ok)
		tool_failed(err, what, cmd->argv[0], status, &errout);
	buf_free(&errout);
	free(path);
	return ok;
}

/* Every desc pg_dump 15 writes; longer ones first so "INDEX ATTACH" wins over "INDEX". */
static const char *const toc_descs[] = {
	"MATERIALIZED VIEW DATA", "PUBLICATION TABLES IN SCHEMA", "TEXT SEARCH CONFIGURATION",
	"TEXT SEARCH DICTIONARY", "TEXT SEARCH TEMPLATE", "TEXT SEARCH PARSER",
	"FOREIGN DATA WRAPPER", "DATABASE PROPERTIES", "PROCEDURAL LANGUAGE",
	"SEQUENCE OWNED BY", "PUBLICATION TABLE", "MATERIALIZED VIEW", "CHECK CONSTRAINT",
	"OPERATOR FAMILY", "OPERATOR CLASS", "SECURITY LABEL", "FK CONSTRAINT",
	"EVENT TRIGGER", "ACCESS METHOD", "FOREIGN TABLE", "SEQUENCE SET", "INDEX ATTACH",
	"TABLE ATTACH", "USER MAPPING", "ROW SECURITY", "DEFAULT ACL", "SUBSCRIPTION",
	"PUBLICATION", "TABLE DATA", "SHELL TYPE", "STATISTICS", "CONVERSION", "CONSTRAINT",
	"COLLATION", "PROCEDURE", "EXTENSION", "AGGREGATE", "TRANSFORM", "SEQUENCE",
	"OPERATOR", "FUNCTION", "DATABASE", "ENCODING", "STDSTRINGS", "SEARCHPATH",
	"COMMENT", "TRIGGER", "DEFAULT", "DOMAIN", "SCHEMA", "SERVER", "POLICY", "BLOBS",
	"INDEX", "TABLE", "VIEW", "TYPE", "CAST", "RULE", "BLOB", "ACL",
};

static void
toc_parse_line(struct toc_entry *e, char *line)
{
	char *p = strchr(line, ';');
	unsigned long cls, oid;
	int used = 0;

	e->line = line;
	e->desc = NULL;
	e->rest = "";
	e->classoid = e->oid = 0;
	if (!p || sscanf(p + 1, " %lu %lu %n", &cls, &oid, &used) < 2 || used == 0)
		return;
	e->classoid = (uint32_t) cls;
	e->oid = (uint32_t) oid;
	p += 1 + used;
	for (size_t i = 0; i < sizeof(toc_descs) / sizeof(toc_descs[0]); i++) {
		size_t len = strlen(toc_descs[i]);

		if (strncmp(p, toc_descs[i], len) == 0 && p[len] == ' ') {
			e->desc = toc_descs[i];
			e->rest = p + len + 1;
			return;
		}
	}
}

void
toc_parse(struct toc *toc, const char *text)
{
	memset(toc, 0, sizeof(*toc));
	while (*text) {
		size_t len = strcspn(text, "\n");

		if (len > 0 && text[0] != ';') {
			if (toc->n == toc->cap) {
				toc->cap = toc->cap ? toc->cap * 2 : 64;
				toc->items = xrealloc(toc->items, toc->cap * sizeof(*toc->items));
			}
			toc_parse_line(&toc->items[toc->n++], xstrndup(text, len));
		}
		text += len + (text[len] == '\n');
	}
}

void
toc_free(struct toc *toc)
{
	for (size_t i = 0; i < toc->n; i++)
		free(toc->items[i].line);
	free(toc->items);
	memset(toc, 0, sizeof(*toc));
}

bool
toc_names(const struct toc_entry *e, const char *schema, const char *name)
{
	const char *s = schema ? schema : "-";
	size_t ls = strlen(s), ln = strlen(name);

	return strncmp(e->rest, s, ls) == 0 && e->rest[ls] == ' ' &&
		strncmp(e->rest + ls + 1, name, ln) == 0 &&
		(e->rest[ls + 1 + ln] == ' ' || e->rest[ls + 1 + ln] == '\0');
}

char *
toc_tag(const struct toc_entry *e, const char *prefix)
{
	size_t lp = strlen(prefix);

	if (strncmp(e->rest, "- ", 2) != 0 || strncmp(e->rest + 2, prefix, lp) != 0)
		return NULL;
	return xstrndup(e->rest + 2 + lp, strcspn(e->rest + 2 + lp, " "));
}

/*
 * pg_dump writes the tag of a comment, security label or grant with the
 * object's name as an SQL identifier (quoted when it needs to be), so a
 * quoted name with spaces reads whole.
 */
char *
toc_tag_ident(const struct toc_entry *e, const char *prefix)
{
	size_t lp = strlen(prefix);
	const char *p = e->rest + 2 + lp;
	struct buf b;

	if (strncmp(e->rest, "- ", 2) != 0 || strncmp(e->rest + 2, prefix, lp) != 0)
		return NULL;
	if (*p != '"')
		return xstrndup(p, strcspn(p, " "));
	buf_init(&b);
	for (p++; *p && !(p[0] == '"' && p[1] != '"'); p++) {
		buf_append(&b, p, 1);
		p += p[0] == '"';
	}
	return buf_steal(&b);
}

char *
read_file_text(const char *path, struct pgs_error *err)
{
	FILE *f = fopen(path, "r");
	struct buf b;
	char chunk[8192];
	size_t got;

	if (!f) {
		pgs_fail(err, "could not open file \"%s\": %m", path);
		return NULL;
	}
	buf_init(&b);
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, got);
	if (ferror(f)) {
		pgs_fail(err, "could not read file \"%s\": %m", path);
		fclose(f);
		buf_free(&b);
		return NULL;
	}
	fclose(f);
	return buf_steal(&b);
}

bool
write_file_text(const char *path, const char *text, struct pgs_error *err)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return pgs_fail(err, "could not create file \"%s\": %m", path);
	if (fputs(text, f) == EOF) {
		fclose(f);
		return pgs_fail(err, "could not write file \"%s\": %m", path);
	}
	if (fclose(f) != 0)
		return pgs_fail(err, "could not write file \"%s\": %m", path);
	return true;
}
