/*
 * Sizes and durations as plan files write them, and their human forms:
 * powers of 1024 like PostgreSQL, case-sensitive units, no silent overflow.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "util/units.h"
#include "tap.h"

#define SIZE_WHY "expected a size such as 512MB or 10GB (units: B, kB, MB, GB, TB)"
#define DURATION_WHY "expected a duration such as 500ms, 30s, 5m or 2h (units: ms, s, m, h)"

static const struct {
	const char *text;
	int64_t bytes;              /* when why is NULL */
	const char *why;            /* NULL: valid */
} sizes[] = {
	{"0", 0, NULL},
	{"512", 512, NULL},
	{"512B", 512, NULL},
	{"8kB", 8192, NULL},
	{"512MB", INT64_C(536870912), NULL},
	{"10GB", INT64_C(10737418240), NULL},
	{"2TB", INT64_C(2199023255552), NULL},
	{"  10 GB  ", INT64_C(10737418240), NULL},
	{"8388607TB", INT64_C(9223370937343148032), NULL},
	{"8388608TB", 0, "size is too large"},
	{"99999999999999999999", 0, SIZE_WHY},
	{"10gb", 0, SIZE_WHY},
	{"10KB", 0, SIZE_WHY},
	{"10 G", 0, SIZE_WHY},
	{"1.5GB", 0, SIZE_WHY},
	{"-1GB", 0, SIZE_WHY},
	{"GB", 0, SIZE_WHY},
	{"", 0, SIZE_WHY},
	{"10GB extra", 0, SIZE_WHY},
};

static const struct {
	const char *text;
	int64_t ms;
	const char *why;
} durations[] = {
	{"0s", 0, NULL},
	{"250ms", 250, NULL},
	{"1s", 1000, NULL},
	{"30s", 30000, NULL},
	{"5m", 300000, NULL},
	{"2h", 7200000, NULL},
	{" 90 s ", 90000, NULL},
	{"10", 0, DURATION_WHY},
	{"1d", 0, DURATION_WHY},
	{"5M", 0, DURATION_WHY},
	{"1.5s", 0, DURATION_WHY},
	{"-5m", 0, DURATION_WHY},
	{"", 0, DURATION_WHY},
	{"s", 0, DURATION_WHY},
	{"9223372036854775807h", 0, "duration is too large"},
	{"9223372036854775807ms", INT64_MAX, NULL},
};

static const struct {
	const char *text;
	int64_t min, max;
	bool valid;
	int64_t value;
} ints[] = {
	{"4", 1, 256, true, 4},
	{"1", 1, 256, true, 1},
	{"256", 1, 256, true, 256},
	{"0", 1, 256, false, 0},
	{"257", 1, 256, false, 0},
	{"-1", 0, 10, false, 0},
	{"+7", 0, 10, true, 7},
	{"four", 1, 256, false, 0},
	{"4x", 1, 256, false, 0},
	{"4 ", 1, 256, false, 0},
	{" 4", 1, 256, false, 0},
	{"0x10", 0, 100, false, 0},
	{"", 0, 10, false, 0},
	{"99999999999999999999", 0, INT64_MAX, false, 0},
	{"9223372036854775807", 0, INT64_MAX, true, INT64_MAX},
};

static const struct {
	int64_t bytes;
	const char *text;
} size_forms[] = {
	{0, "0 B"},
	{1023, "1023 B"},
	{1024, "1.0 kB"},
	{1536, "1.5 kB"},
	{INT64_C(536870912), "512.0 MB"},
	{INT64_C(10737418240), "10.0 GB"},
	{INT64_C(2199023255552), "2.0 TB"},
	{INT64_C(2251799813685248), "2048.0 TB"},
};

static const struct {
	int64_t ms;
	const char *text;
} duration_forms[] = {
	{0, "0s"},
	{250, "250ms"},
	{1000, "1s"},
	{1500, "1500ms"},
	{90000, "90s"},
	{300000, "5m"},
	{5400000, "90m"},
	{7200000, "2h"},
};

int
main(void)
{
	char label[128], out[32];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int64_t bytes = -1;
		const char *why = NULL;
		bool okay = parse_size(sizes[i].text, &bytes, &why);

		snprintf(label, sizeof(label), "parse_size(\"%s\")", sizes[i].text);
		if (sizes[i].why == NULL) {
			ok(okay, label);
			is_int(bytes, sizes[i].bytes, label);
		} else {
			ok(!okay, label);
			is_str(why, sizes[i].why, label);
		}
	}
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		int64_t ms = -1;
		const char *why = NULL;
		bool okay = parse_duration(durations[i].text, &ms, &why);

		snprintf(label, sizeof(label), "parse_duration(\"%s\")", durations[i].text);
		if (durations[i].why == NULL) {
			ok(okay, label);
			is_int(ms, durations[i].ms, label);
		} else {
			ok(!okay, label);
			is_str(why, durations[i].why, label);
		}
	}
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		int64_t v = -1;
		bool okay = parse_int(ints[i].text, ints[i].min, ints[i].max, &v);

		snprintf(label, sizeof(label), "parse_int(\"%s\", %" PRId64 ", %" PRId64 ")", ints[i].text,
				 ints[i].min, ints[i].max);
		is_int(okay, ints[i].valid, label);
		if (ints[i].valid)
			is_int(v, ints[i].value, label);
		else
			is_int(v, -1, "a refused number leaves the output alone");
	}
	for (size_t i = 0; i < sizeof(size_forms) / sizeof(size_forms[0]); i++) {
		format_size(size_forms[i].bytes, out, sizeof(out));
		snprintf(label, sizeof(label), "format_size(%" PRId64 ")", size_forms[i].bytes);
		is_str(out, size_forms[i].text, label);
	}
	for (size_t i = 0; i < sizeof(duration_forms) / sizeof(duration_forms[0]); i++) {
		format_duration(duration_forms[i].ms, out, sizeof(out));
		snprintf(label, sizeof(label), "format_duration(%" PRId64 ")", duration_forms[i].ms);
		is_str(out, duration_forms[i].text, label);
	}
	format_size(INT64_C(10737418240), out, 5);
	is_str(out, "10.0", "format_size truncates to the caller's buffer");
	return done_testing();
}
