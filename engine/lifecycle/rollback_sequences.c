/*
 * The source's sequences set from the target's (rollback.h): the rows the
 * reverse stream replays into the source carry keys the target's
 * sequences handed out, which the source's own sequences know nothing of.
 */
#include <inttypes.h>

#include "lifecycle/rollback.h"
#include "steps/steps.h"
#include "util/log.h"

/* The cutover's sync_sequences margin, which the way back keeps too; 0 without that step. */
static int64_t
margin_of(const struct plan *plan)
{
	for (size_t i = 0; i < plan->cutover.nsteps; i++)
		if (plan->cutover.steps[i].kind == CUTOVER_SYNC_SEQUENCES)
			return plan->cutover.steps[i].margin;
	return 0;
}

bool
reverse_sequences_sync(const struct plan *plan, PGconn *tgt, PGconn *src,
					   const struct catalog *cat, const char *who, struct pgs_error *err)
{
	int64_t margin = margin_of(plan);

	if (!sequences_copy(tgt, src, cat, margin, err)) {
		pgs_error_swap_sides(err);
		pgs_error_prefix(err, "%s: sequences from the target to the source", who);
		return false;
	}
	log_info("%s: %zu sequence(s) set on the source from the target (margin %" PRId64 ")", who,
			 cat->nsequences, margin);
	return true;
}
