/*
 * pgs_error: context prefixes keep track of where a server's value-bearing
 * text starts, and the public form of a message (what notifications send
 * without include_values) hides every quoted value from there on.
 */
#include <string.h>

#include "util/error.h"
#include "tap.h"

static void
test_public_form(void)
{
	char out[256];
	const char *m = "could not copy \"app\".\"t\": invalid input syntax for type integer: \"alice@x\"";
	size_t from = strlen("could not copy \"app\".\"t\": ");

	pgs_error_public(m, from, out, sizeof(out));
	is_str(out, "could not copy \"app\".\"t\": invalid input syntax for type integer: \"...\"",
		   "quoted values after values_from are hidden, names before it are kept");
	pgs_error_public(m, 0, out, sizeof(out));
	is_str(out, m, "a message without server values is sent as is");
	pgs_error_public("x: value \"123\" is out of range for type \"small\"", 3, out, sizeof(out));
	is_str(out, "x: value \"...\" is out of range for type \"...\"", "every quoted part is hidden");
	pgs_error_public("x: \"unterminated secret", 3, out, sizeof(out));
	is_str(out, "x: \"...", "an unterminated quote hides the rest");
	pgs_error_public(m, from, out, 10);
	ok(strlen(out) < 10, "the output never passes its size");
}

static void
test_prefix_shifts(void)
{
	struct pgs_error err;
	char out[256];

	pgs_error_clear(&err);
	pgs_fail(&err, "server: \"secret\"");
	err.values_from = strlen("server: ");
	pgs_error_prefix(&err, "step %s", "copy:t");
	is_str(err.message, "step copy:t: server: \"secret\"", "the prefix goes before the message");
	is_int(err.values_from, strlen("step copy:t: server: "), "and values_from moves with it");
	pgs_error_public(err.message, err.values_from, out, sizeof(out));
	is_str(out, "step copy:t: server: \"...\"", "so the value stays hidden");
	pgs_fail(&err, "another \"name\"");
	is_int(err.values_from, 0, "a new message forgets the old one's values_from");
}

static void
test_swap_sides(void)
{
	struct pgs_error err;

	pgs_error_clear(&err);
	pgs_fail(&err, "INSERT: the target refused it; table missing on the target, the source's "
			 "\"source_t\" (targets, source_uri)");
	pgs_error_hint(&err, "make the same schema change on the target");
	pgs_error_detail(&err, "target");
	pgs_error_swap_sides(&err);
	is_str(err.message, "INSERT: the source refused it; table missing on the source, the target's "
		   "\"source_t\" (targets, source_uri)", "the sides swap as words, not inside quotes");
	is_str(err.hint, "make the same schema change on the source", "in the hint");
	is_str(err.detail, "source", "and the detail");
}

int
main(void)
{
	test_public_form();
	test_prefix_shifts();
	test_swap_sides();
	return done_testing();
}
