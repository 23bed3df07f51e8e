/*
 * The receiver's pure parts: replication protocol bytes (big-endian, exact
 * offsets), LSN text, and the rule that gives each spool record its LSN.
 */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "cdc/cdc_receive.h"
#include "cdc/cdc_receive_int.h"
#include "cdc/cdc_slot.h"

static void
test_status_update(void)
{
	static const uint8_t want[CDC_STATUS_UPDATE_SIZE] = {
		'r',
		0x00, 0x00, 0x00, 0x16, 0xB3, 0x74, 0xD8, 0x48,   /* write */
		0x00, 0x00, 0x00, 0x16, 0xB3, 0x74, 0xD8, 0x48,   /* flush */
		0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,   /* apply */
		0x00, 0x02, 0xB0, 0x1C, 0x2D, 0xE1, 0x9B, 0x40,   /* time */
		1,
	};
	uint8_t got[CDC_STATUS_UPDATE_SIZE];

	cdc_status_update(got, UINT64_C(0x16B374D848), UINT64_C(0x16B374D848), UINT64_C(0x100000002),
					  INT64_C(0x2B01C2DE19B40), true);
	ok(memcmp(got, want, sizeof(want)) == 0, "status update: 'r', write, flush, apply, time, reply");
}

static void
test_parse(void)
{
	uint8_t w[CDC_XLOGDATA_HEAD + 2] = {'w'};
	uint8_t k[CDC_KEEPALIVE_SIZE] = {'k'};
	struct cdc_copy_msg m;
	struct pgs_error err;

	cdc_put_u64(w + 1, UINT64_C(0x0102030405060708));
	cdc_put_u64(w + 9, UINT64_C(0x1112131415161718));
	w[CDC_XLOGDATA_HEAD] = 'B';
	ok(cdc_parse_copy(w, sizeof(w), &m, &err) && m.kind == 'w' &&
	   m.wal_start == UINT64_C(0x0102030405060708) && m.wal_end == UINT64_C(0x1112131415161718) &&
	   m.len == 2 && m.data[0] == 'B', "XLogData: positions and the message after 25 bytes");
	ok(!cdc_parse_copy(w, CDC_XLOGDATA_HEAD - 1, &m, &err) &&
	   strstr(err.message, "shorter than its header"), "a short XLogData is an error");
	cdc_put_u64(k + 1, 42);
	k[17] = 1;
	ok(cdc_parse_copy(k, sizeof(k), &m, &err) && m.kind == 'k' && m.wal_end == 42 && m.reply_requested,
	   "keepalive: end and reply request");
	ok(!cdc_parse_copy(k, sizeof(k) - 1, &m, &err), "a short keepalive is an error");
	k[0] = 'z';
	ok(!cdc_parse_copy(k, sizeof(k), &m, &err) && strstr(err.message, "0x7a"),
	   "an unknown message type is an error naming the byte");
}

static void
test_lsn_parse(void)
{
	static const struct {
		const char *text;
		bool ok;
		uint64_t lsn;
	} cases[] = {
		{"16/B374D848", true, UINT64_C(0x16B374D848)},
		{"0/0", true, 0},
		{"FFFFFFFF/FFFFFFFF", true, UINT64_MAX},
		{"1/", false, 0}, {"/1", false, 0}, {"1/2/3", false, 0}, {"100000000/0", false, 0},
		{"", false, 0}, {"x/1", false, 0}, {"1/2 ", false, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t lsn = 0;
		char name[64];

		snprintf(name, sizeof(name), "lsn \"%s\"", cases[i].text);
		ok(cdc_lsn_parse(cases[i].text, &lsn) == cases[i].ok && (!cases[i].ok || lsn == cases[i].lsn),
		   name);
	}
}

static void
test_position(void)
{
	struct cdc_position p = {100, false, false};
	struct pgo_msg begin = {.kind = PGO_BEGIN}, ins = {.kind = PGO_INSERT};
	struct pgo_msg rel = {.kind = PGO_RELATION}, commit = {.kind = PGO_COMMIT};
	struct pgo_msg start = {.kind = PGO_STREAM_START}, stop = {.kind = PGO_STREAM_STOP};
	struct pgo_msg scommit = {.kind = PGO_STREAM_COMMIT};

	commit.u.commit.end_lsn = 300;
	scommit.u.stream_commit.end_lsn = 900;
	is_int(cdc_position_message(&p, &begin, 50), 100, "a Begin with a lower first LSN keeps the position");
	ok(!cdc_position_keepalive(&p, 500), "no keepalive record inside a transaction");
	is_int(cdc_position_message(&p, &rel, 0), 100, "a Relation (position 0) keeps it");
	is_int(cdc_position_message(&p, &ins, 250), 250, "a change moves it");
	is_int(cdc_position_message(&p, &commit, 260), 300, "a Commit moves it to its end");
	ok(cdc_position_keepalive(&p, 400) && p.lsn == 400, "a keepalive between transactions moves it");
	ok(!cdc_position_keepalive(&p, 400), "the same keepalive again does not");
	cdc_position_message(&p, &start, 0);
	ok(!cdc_position_keepalive(&p, 500), "no keepalive record inside a stream chunk");
	cdc_position_message(&p, &ins, 450);
	cdc_position_message(&p, &stop, 0);
	ok(cdc_position_keepalive(&p, 600), "between chunks a keepalive counts");
	is_int(cdc_position_message(&p, &scommit, 0), 900, "a Stream Commit moves it to its end");
}

int
main(void)
{
	test_status_update();
	test_parse();
	test_lsn_parse();
	test_position();
	return done_testing();
}
