/*
 * Keeping passwords out of every output: connection strings are printed with
 * the password replaced by "***", in both libpq forms (URI and key=value).
 */
#ifndef PGSHIFT_UTIL_REDACT_H
#define PGSHIFT_UTIL_REDACT_H

#include <stdbool.h>

/* Returns a newly allocated copy of conninfo with every password masked. */
char *redact_conninfo(const char *conninfo);

/*
 * The password conninfo carries (in URI userinfo, a password query parameter
 * or a password key), as a new string, or NULL when it has none.
 */
char *conninfo_password(const char *conninfo);

#endif
