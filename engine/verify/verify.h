/*
 * Comparing source and target (DESIGN.md §4 "Verify"), for `pgshift verify`
 * and the cutover step verify, which run the same code. Levels add up:
 * schema compares the catalogs by name (tables, columns and types, indexes,
 * constraints, sequences, views, extensions); count adds exact row counts
 * and sequence positions; checksum adds an order-independent digest of
 * every row's text form, per table or per primary-key range, in parallel.
 * The result is a report with one entry per table, sequence, view or
 * extension, each PASS, WARN or FAIL with the differences it found.
 */
#ifndef PGSHIFT_VERIFY_VERIFY_H
#define PGSHIFT_VERIFY_VERIFY_H

#include <pthread.h>
#include <stdbool.h>

#include <libpq-fe.h>

#include "pg/catalog.h"
#include "plan/plan.h"
#include "run/run.h"
#include "util/buf.h"

/* WARN: differs without changing the data (an extra index, an extension's version). */
enum verify_status { VS_PASS, VS_WARN, VS_FAIL };

struct verify_entry {
	const char *kind;           /* static: "table", "sequence", "view", "extension" */
	char *name;                 /* owned: "schema.name" (extensions: the name) */
	enum verify_status status;
	struct buf notes;           /* owned: the differences, "; "-separated */
	long long src_rows, dst_rows;   /* -1 until counted */
	bool missing;               /* not on the target: no data checks */
};

struct verify_report {
	enum verify_level level;
	/* the sides' names in the notes: "source", "target" unless a rollback swapped them */
	const char *src_side, *dst_side;
	/*
	 * A table or column only on the compared side is a FAIL, not a WARN:
	 * the rollback's reference is the target, and the source keeping one
	 * the target dropped is a difference the application would meet.
	 */
	bool extra_fails;
	/*
	 * The sessions' application_name, so a stopping run or rollback finds
	 * and cancels them (run_app_name); "pgshift verify" when NULL.
	 */
	const char *app_name;
	struct verify_entry *entries;   /* owned; the catalog's tables first, by index */
	size_t n, cap;
	pthread_mutex_t lock;       /* guards entries while checksum workers note differences */
};

/* One entry per table of cat (entry t is cat->tables[t]). */
void verify_report_init(struct verify_report *r, const struct catalog *cat,
						enum verify_level level);
void verify_report_free(struct verify_report *r);
size_t verify_report_add(struct verify_report *r, const char *kind, const char *schema,
						 const char *name);
/* Raises entry i to status (never lowers it) and appends the note. Thread-safe. */
void verify_note(struct verify_report *r, size_t i, enum verify_status status,
				 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
size_t verify_count_status(const struct verify_report *r, enum verify_status s);
void verify_print_text(const struct verify_report *r, const char *plan_name, struct buf *out);
void verify_print_json(const struct verify_report *r, const char *plan_name, struct buf *out);
/* "FAIL table public.t: ...; FAIL sequence ..." of every FAIL entry. */
void verify_failures(const struct verify_report *r, struct buf *out);

/*
 * Runs the level (and the levels below it) against cat, the source's
 * filtered catalog. False only when a comparison could not be made (a
 * server unreachable, a query failing); differences go to the report.
 */
bool verify_plan(const struct plan *plan, const struct catalog *cat, enum verify_level level,
				 struct verify_report *r, struct pgs_error *err);

/* The parts of verify_plan, one file each. */
bool verify_schema(const struct plan *plan, const struct catalog *cat, PGconn *dst,
				   struct verify_report *r, struct pgs_error *err);
/* Owners and ACLs, when the plan keeps them (verify_privs.c). */
bool verify_privs(const struct plan *plan, const struct catalog *cat, PGconn *src, PGconn *dst,
				  struct verify_report *r, struct pgs_error *err);
bool verify_counts(const struct catalog *cat, PGconn *src, PGconn *dst, struct verify_report *r,
				   struct pgs_error *err);
bool verify_sequences(const struct catalog *cat, PGconn *src, PGconn *dst,
					  struct verify_report *r, struct pgs_error *err);
bool verify_checksums(const struct plan *plan, const struct catalog *cat, PGconn *src,
					  struct verify_report *r, struct pgs_error *err);

/* The cutover kind verify: fails naming every difference. */
bool cutover_verify(struct run *run, const struct cutover_step *cs, struct pgs_error *err);

/* Exact row count of ONLY schema.table; false with err on failure. */
bool verify_count_table(PGconn *conn, const char *schema, const char *table, long long *count,
						struct pgs_error *err);

/* Connections verify opens: read-only, normalised settings (pg_connect); app_name may be NULL. */
PGconn *verify_connect(const char *conninfo, const char *role, const char *app_name,
					   struct pgs_error *err);

#endif
