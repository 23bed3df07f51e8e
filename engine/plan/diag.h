/*
 * Diagnostics of a plan file: every error and warning with its place, so all
 * problems of a file are reported in one run as FILE:LINE:COL: message.
 */
#ifndef PGSHIFT_PLAN_DIAG_H
#define PGSHIFT_PLAN_DIAG_H

#include <stdbool.h>
#include <stddef.h>

enum diag_severity { DIAG_ERROR, DIAG_WARNING };

struct diag {
	enum diag_severity severity;
	int line, col;              /* 1-based; 0 when the file itself is meant */
	char *message;              /* owned */
	size_t seq;                 /* order of discovery, to keep sorting stable */
};

struct diag_list {
	char *file;                 /* owned; as the user named it */
	struct diag *items;
	size_t n, cap;
	size_t nerrors;
};

void diag_init(struct diag_list *dl, const char *file);
void diag_free(struct diag_list *dl);
void diag_add(struct diag_list *dl, enum diag_severity sev, int line, int col,
			  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Sorts by place and writes "FILE:LINE:COL: error: message" lines. */
void diag_print(struct diag_list *dl, void *stream);

#endif
