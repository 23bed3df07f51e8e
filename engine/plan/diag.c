/* Collecting and printing plan diagnostics; see diag.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "plan/diag.h"
#include "util/buf.h"
#include "util/xalloc.h"

void
diag_init(struct diag_list *dl, const char *file)
{
	dl->file = xstrdup(file);
	dl->items = NULL;
	dl->n = dl->cap = dl->nerrors = 0;
}

void
diag_free(struct diag_list *dl)
{
	for (size_t i = 0; i < dl->n; i++)
		free(dl->items[i].message);
	free(dl->items);
	free(dl->file);
	dl->items = NULL;
	dl->file = NULL;
	dl->n = dl->cap = dl->nerrors = 0;
}

void
diag_add(struct diag_list *dl, enum diag_severity sev, int line, int col,
		 const char *fmt, ...)
{
	struct buf msg;
	va_list ap;
	int saved_errno = errno;

	if (dl->n == dl->cap) {
		dl->cap = dl->cap ? dl->cap * 2 : 8;
		dl->items = xrealloc(dl->items, dl->cap * sizeof(*dl->items));
	}
	buf_init(&msg);
	/* for %m: the allocation above may have changed errno */
	errno = saved_errno;
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	dl->items[dl->n] = (struct diag) {sev, line, col, buf_steal(&msg), dl->n};
	dl->n++;
	if (sev == DIAG_ERROR)
		dl->nerrors++;
}

static int
diag_cmp(const void *a, const void *b)
{
	const struct diag *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void
diag_print(struct diag_list *dl, void *stream)
{
	FILE *out = stream;

	/* in file order, as an editor shows them, not in the order checks ran */
	if (dl->n > 1)
		qsort(dl->items, dl->n, sizeof(*dl->items), diag_cmp);
	for (size_t i = 0; i < dl->n; i++) {
		const struct diag *d = &dl->items[i];
		const char *sev = d->severity == DIAG_ERROR ? "error" : "warning";

		if (d->line > 0)
			fprintf(out, "%s:%d:%d: %s: %s\n", dl->file, d->line, d->col, sev, d->message);
		else
			fprintf(out, "%s: %s: %s\n", dl->file, sev, d->message);
	}
}
