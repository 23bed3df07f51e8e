/*
 * Sizes ("10GB", "512MB") and durations ("1s", "5m", "250ms") as the plan
 * file writes them. Units follow PostgreSQL: sizes are powers of 1024.
 */
#ifndef PGSHIFT_UTIL_UNITS_H
#define PGSHIFT_UTIL_UNITS_H

#include <stdbool.h>
#include <stdint.h>

/* On failure returns false and points *why at a static explanation. */
bool parse_size(const char *text, int64_t *bytes, const char **why);
bool parse_duration(const char *text, int64_t *ms, const char **why);
bool parse_int(const char *text, int64_t min, int64_t max, int64_t *out);

/* Human forms for output: "10.0 GB", "5m", ... into a caller's buffer. */
void format_size(int64_t bytes, char *out, int outlen);
void format_duration(int64_t ms, char *out, int outlen);

#endif
