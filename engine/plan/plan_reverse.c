/* The reverse plan of rollback.enabled; see plan_reverse.h. */
#include "plan/plan_reverse.h"

void
plan_reverse(const struct plan *plan, struct plan *rev)
{
	*rev = *plan;
	rev->name = plan->rollback.slot;
	rev->source_uri = plan->target_uri;
	rev->target_uri = plan->source_uri;
	rev->source_conn = plan->target_conn;
	rev->target_conn = plan->source_conn;
	rev->cdc.slot = plan->rollback.slot;
	rev->cdc.publication = plan->rollback.publication;
	rev->cdc.spool_dir = plan->rollback.spool_dir;
}
