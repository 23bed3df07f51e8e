/*
 * The compact view of `status --watch` on a terminal (status_view.h): the
 * full view lists every step, thousands on a big schema, which a redraw
 * every few seconds cannot show. Rendered into memory first, then cut to
 * the terminal line by line.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/status_view.h"
#include "util/utf8.h"

static bool
shown(const struct status_row *r)
{
	return r->st && (r->st->status == STEP_RUNNING || r->st->status == STEP_FAILED);
}

/* One item per stage, wrapped under the title so no item is cut by the width. */
static void
stage_totals(FILE *out, const struct status_view *v, int cols)
{
	int col = fprintf(out, "stages    ");

	for (size_t i = 0; i < v->nstages; i++) {
		const struct status_stage *s = &v->stages[i];
		int total = s->done + s->running + s->failed + s->pending;
		char item[160];
		int n;

		if (s->failed)
			n = snprintf(item, sizeof(item), "%s %d/%d (%d running, %d failed)", s->name, s->done,
						 total, s->running, s->failed);
		else if (s->running)
			n = snprintf(item, sizeof(item), "%s %d/%d (%d running)", s->name, s->done, total,
						 s->running);
		else
			n = snprintf(item, sizeof(item), "%s %d/%d", s->name, s->done, total);
		if (i > 0 && col + 2 + n >= cols)
			col = fprintf(out, ",\n          ") - 2;
		else if (i > 0)
			col += fprintf(out, ", ");
		col += fprintf(out, "%s", item);
	}
	fputc('\n', out);
}

/* Copies text to out, each line cut to cols - 1 characters, at most rows lines. */
static void
put_cut(FILE *out, const char *text, int cols, int rows)
{
	int lines = 0;

	while (*text && lines < rows) {
		const char *end = strchr(text, '\n');
		size_t len = end ? (size_t) (end - text) : strlen(text);

		fwrite(text, 1, utf8_prefix(text, len, (size_t) (cols > 1 ? cols - 1 : 1)), out);
		fputc('\n', out);
		lines++;
		text += len + (end ? 1 : 0);
	}
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

void
status_render_compact(FILE *out, const struct status_view *v, const char *target_shown,
					  int cols, int rows)
{
	char *text = NULL;
	size_t size = 0, more = 0;
	FILE *mem = open_memstream(&text, &size);

	if (!mem) {
		status_render_text(out, v, target_shown);
		return;
	}
	status_render_header(mem, v, target_shown);
	stage_totals(mem, v, cols);
	fputc('\n', mem);
	status_render_step_titles(mem);
	fflush(mem);
	for (size_t i = 0; i < v->nrows; i++) {
		const struct status_row *r = &v->rows[i];
		int needs = 1 + (r->st && r->st->error);

		if (!shown(r))
			continue;
		/* the last line is kept for "... and N more" */
		if (more == 0 && count_lines(text) + needs <= rows - 1) {
			status_render_step(mem, r, v->rs->read_at);
			fflush(mem);
		} else
			more++;
	}
	if (more > 0)
		fprintf(mem, "  ... and %zu more running or failed (pgshift status %s lists every step)\n",
				more, v->plan->file);
	fclose(mem);
	put_cut(out, text, cols, rows);
	free(text);
}
