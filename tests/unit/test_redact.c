/* Connection strings printed anywhere have their password masked. */
#include <stdlib.h>

#include "tap.h"
#include "util/redact.h"

static const struct {
	const char *in, *out, *password;
} cases[] = {
	{"postgres://app:s3cret@db1:5432/app", "postgres://app:***@db1:5432/app", "s3cret"},
	{"postgresql://app:p%40ss@db1/app?sslmode=require", "postgresql://app:***@db1/app?sslmode=require", "p%40ss"},
	{"postgres://app@db1/app", "postgres://app@db1/app", NULL},
	{"postgres://db1/app?user=x&password=hunter2&sslmode=verify-full",
	 "postgres://db1/app?user=x&password=***&sslmode=verify-full", "hunter2"},
	{"postgres://u:pw@h1:5432,h2:5433/db", "postgres://u:***@h1:5432,h2:5433/db", "pw"},
	{"host=db1 user=app password=s3cret dbname=app", "host=db1 user=app password=*** dbname=app", "s3cret"},
	{"host=db1 password = 'it\\'s a secret' dbname=app", "host=db1 password = *** dbname=app", "'it\\'s a secret'"},
	{"host=db1 password='a b c'", "host=db1 password=***", "'a b c'"},
	{"host=db1 dbname=app", "host=db1 dbname=app", NULL},
	{"", "", NULL},
};

int
main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = redact_conninfo(cases[i].in);
		char *pw = conninfo_password(cases[i].in);

		is_str(got, cases[i].out, cases[i].in);
		if (cases[i].password)
			is_str(pw, cases[i].password, "password found");
		else
			ok(pw == NULL, "no password");
		free(got);
		free(pw);
	}
	return done_testing();
}
