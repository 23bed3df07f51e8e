/* Size and duration parsing and formatting; see units.h. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/units.h"

struct unit {
	const char *name;
	int64_t factor;
};

static const struct unit size_units[] = {
	{"B", 1}, {"kB", 1024}, {"MB", 1024 * 1024},
	{"GB", INT64_C(1024) * 1024 * 1024}, {"TB", INT64_C(1024) * 1024 * 1024 * 1024},
};

static const struct unit duration_units[] = {
	{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000},
};

/* Splits "  12 GB " into the number 12 and the unit text "GB". */
static bool
split_number(const char *text, int64_t *num, const char **unit)
{
	char *end;
	long long v;

	while (isspace((unsigned char) *text))
		text++;
	if (!isdigit((unsigned char) *text))
		return false;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno == ERANGE)
		return false;
	while (isspace((unsigned char) *end))
		end++;
	*num = v;
	*unit = end;
	return true;
}

static bool
unit_factor(const struct unit *units, size_t n, const char *unit, int64_t *factor)
{
	size_t len = strlen(unit);

	while (len > 0 && isspace((unsigned char) unit[len - 1]))
		len--;
	for (size_t i = 0; i < n; i++) {
		if (strlen(units[i].name) == len && strncmp(units[i].name, unit, len) == 0) {
			*factor = units[i].factor;
			return true;
		}
	}
	return false;
}

bool
parse_size(const char *text, int64_t *bytes, const char **why)
{
	int64_t num, factor;
	const char *unit;

	*why = "expected a size such as 512MB or 10GB (units: B, kB, MB, GB, TB)";
	if (!split_number(text, &num, &unit))
		return false;
	if (*unit == '\0')
		factor = 1;
	else if (!unit_factor(size_units, sizeof(size_units) / sizeof(size_units[0]), unit, &factor))
		return false;
	if (num > INT64_MAX / factor) {
		*why = "size is too large";
		return false;
	}
	*bytes = num * factor;
	return true;
}

bool
parse_duration(const char *text, int64_t *ms, const char **why)
{
	int64_t num, factor;
	const char *unit;

	*why = "expected a duration such as 500ms, 30s, 5m or 2h (units: ms, s, m, h)";
	if (!split_number(text, &num, &unit) || *unit == '\0')
		return false;
	if (!unit_factor(duration_units, sizeof(duration_units) / sizeof(duration_units[0]), unit, &factor))
		return false;
	if (num > INT64_MAX / factor) {
		*why = "duration is too large";
		return false;
	}
	*ms = num * factor;
	return true;
}

bool
parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!*text || isspace((unsigned char) *text))
		return false;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno == ERANGE || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

void
format_size(int64_t bytes, char *out, int outlen)
{
	static const char *const names[] = {"B", "kB", "MB", "GB", "TB"};
	double v = (double) bytes;
	int i = 0;

	while (v >= 1024.0 && i < 4) {
		v /= 1024.0;
		i++;
	}
	if (i == 0)
		snprintf(out, (size_t) outlen, "%" PRId64 " B", bytes);
	else
		snprintf(out, (size_t) outlen, "%.1f %s", v, names[i]);
}

void
format_duration(int64_t ms, char *out, int outlen)
{
	if (ms % (60 * 60 * 1000) == 0 && ms > 0)
		snprintf(out, (size_t) outlen, "%" PRId64 "h", ms / (60 * 60 * 1000));
	else if (ms % (60 * 1000) == 0 && ms > 0)
		snprintf(out, (size_t) outlen, "%" PRId64 "m", ms / (60 * 1000));
	else if (ms % 1000 == 0)
		snprintf(out, (size_t) outlen, "%" PRId64 "s", ms / 1000);
	else
		snprintf(out, (size_t) outlen, "%" PRId64 "ms", ms);
}
