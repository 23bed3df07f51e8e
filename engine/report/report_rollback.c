/*
 * The reverse steps of rollback.enabled in `pgshift plan` (README
 * "Rollback"): apply runs only rollback.slot (listed with the DAG); the
 * rest runs later, in `pgshift rollback --follow` and `pgshift rollback`,
 * and is listed here so the reviewed plan shows the way back too.
 */
#include <inttypes.h>

#include "report/report.h"
#include "util/json.h"
#include "util/units.h"

static const char *const phases[] = {
	"rollback.stream: pgshift rollback --follow replays the target's changes into the fenced source",
	"rollback.gate: pgshift rollback asks for confirmation (--yes)",
	"rollback.fence: the target is fenced (the fence_writes roles)",
	"rollback.catchup: every change the target committed before its WAL position is applied",
	"rollback.sequences: the source's sequences are set from the target's (+ sync_sequences margin)",
	"rollback.verify: checksum of every row, target against source",
	"rollback.unfence: the source is writable again",
};
#define NPHASES (sizeof(phases) / sizeof(phases[0]))

void
report_rollback_text(FILE *out, const struct plan *plan)
{
	char keep[32];

	if (!plan->rollback.enabled)
		return;
	format_duration(plan->rollback.keep_for_ms, keep, sizeof(keep));
	fprintf(out, "Rollback (after the cutover, outside apply; kept %s, then cleanup ends it)\n", keep);
	for (size_t i = 0; i < NPHASES; i++)
		fprintf(out, "    %s\n", phases[i]);
	fputc('\n', out);
}

void
report_rollback_markdown(FILE *out, const struct plan *plan)
{
	char keep[32];

	if (!plan->rollback.enabled)
		return;
	format_duration(plan->rollback.keep_for_ms, keep, sizeof(keep));
	fprintf(out, "\n### Rollback\n\nAfter the cutover, outside apply (kept %s, then `pgshift "
			"cleanup` ends it):\n\n", keep);
	for (size_t i = 0; i < NPHASES; i++)
		fprintf(out, "%zu. %s\n", i + 1, phases[i]);
}

void
report_rollback_json(struct buf *b, const struct plan *plan)
{
	if (!plan->rollback.enabled)
		return;
	buf_printf(b, ",\"rollback\":{\"keep_for_ms\":%" PRId64 ",\"slot\":", plan->rollback.keep_for_ms);
	json_put_string(b, plan->rollback.slot);
	buf_puts(b, ",\"steps\":[");
	for (size_t i = 0; i < NPHASES; i++) {
		if (i)
			buf_putc(b, ',');
		json_put_string(b, phases[i]);
	}
	buf_puts(b, "]}");
}
