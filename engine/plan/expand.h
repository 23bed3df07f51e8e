/*
 * ${VAR} and ${VAR:-default} expansion from the environment, without a shell.
 * "$$" stands for a literal "$".
 */
#ifndef PGSHIFT_PLAN_EXPAND_H
#define PGSHIFT_PLAN_EXPAND_H

#include <stdbool.h>

/*
 * On success *out is a new string. On failure *out is NULL and *err a new
 * message naming the variable or the malformed reference.
 */
bool expand_env(const char *in, char **out, char **err);

#endif
