/*
 * The one way errors travel in pgshift: a function returns false and fills a
 * pgs_error that callers may annotate (step, table, LSN) but never copy into
 * a second message. Only main.c turns an error into an exit code.
 */
#ifndef PGSHIFT_UTIL_ERROR_H
#define PGSHIFT_UTIL_ERROR_H

#include <stdbool.h>
#include <stddef.h>

struct pgs_error {
	char message[2048];
	char detail[1024];
	char hint[512];
	char sqlstate[6];   /* empty when the error did not come from a server */
	char step[256];     /* step id, when one is known */
	/*
	 * Where in message a server's text begins that may quote row values (a
	 * data exception or a RAISE); 0 when none does. Notifications leave
	 * such values out (error_public), as they leave out detail, which is
	 * where keys of changed rows go.
	 */
	size_t values_from;
};

void pgs_error_clear(struct pgs_error *err);

/* Sets message (printf-style). Always returns false, so `return pgs_fail(...)`. */
bool pgs_fail(struct pgs_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void pgs_error_hint(struct pgs_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void pgs_error_detail(struct pgs_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefixes the message with context, "what we were doing: original". */
void pgs_error_prefix(struct pgs_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * message, with every "quoted" part from values_from on replaced by "...":
 * what a third party (a webhook) may see. Writes at most size bytes.
 */
void pgs_error_public(const char *message, size_t values_from, char *out, size_t size);

/*
 * Swaps the words "source" and "target" outside double quotes in message,
 * detail and hint: the reverse stream runs the forward code on a swapped
 * plan, whose messages would name the servers the wrong way round.
 */
void pgs_error_swap_sides(struct pgs_error *err);

#endif
