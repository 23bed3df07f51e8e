/* The event catalogue; see event_names.h. */
#include "events/event_names.h"
#include "util/glob.h"

#define STAGE(s) s ".started", s ".finished", s ".failed"

const char *const event_names[] = {
	STAGE("run"),
	STAGE("preflight"),
	STAGE("schema"),
	STAGE("copy"),
	"copy.table.finished",
	STAGE("index"),
	STAGE("constraint"),
	STAGE("vacuum"),
	STAGE("cdc"),
	"cdc.lag",
	STAGE("cutover"),
	"cutover.gate",
	STAGE("sequences"),
	STAGE("verify"),
	STAGE("cleanup"),
	STAGE("rollback"),
	"rollback.gate",
};

const size_t event_names_count = sizeof(event_names) / sizeof(event_names[0]);

bool
event_glob_matches_any(const char *glob)
{
	for (size_t i = 0; i < event_names_count; i++)
		if (glob_match(glob, event_names[i]))
			return true;
	return false;
}
