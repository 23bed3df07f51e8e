#!/usr/bin/env bash
# Captures real pgoutput messages from a throwaway PostgreSQL 15 server and
# writes them to tests/unit/pgoutput_fixtures.h, so that the decoder's unit
# test runs on bytes a server produced, without a server.
#
#   tests/lib/capture_pgoutput.sh            (starts clusters via pg_clusters.sh)
#
# One slot 'cap' sees everything; three publications split the workload so
# that each peek returns only its own transactions (PostgreSQL 15 sends no
# BEGIN/COMMIT for a transaction without published changes):
#   pub   protocol 1, text values, logical messages: the nasty-values workload
#   pubb  protocol 1, binary 't'->'b' values
#   pubs  protocol 2, streaming on: transactions larger than
#         logical_decoding_work_mem (64kB) arrive as Stream Start/Stop
#         segments, with an xid before every change.
# logical_decoding_work_mem is a user-settable GUC read by the backend that
# decodes, and with the SQL functions that is the session running the peek:
# a plain SET in that session is enough (no ALTER SYSTEM needed).
#
# Every cluster is a copy of one initdb template, so a rerun gives the same
# LSNs, xids and relids and only new commit timestamps; another PostgreSQL
# build changes them all. test_pgoutput.c asserts those values exactly and
# must be updated with a regenerated fixture.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${PGOUTPUT_FIXTURES:-$ROOT/tests/unit/pgoutput_fixtures.h}

if [ -z "${SOURCE_URI:-}" ]; then
  exec "$HERE/pg_clusters.sh" run "$0" "$@"
fi

psql_src() { psql "$SOURCE_URI" -X -q -v ON_ERROR_STOP=1 "$@"; }
# the workload's SELECTs print their results; only errors matter here
run_sql() { psql_src -o /dev/null "$@"; }

run_sql <<'SQL'
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE t_vals (id int PRIMARY KEY, v text, b bytea, m mood);
CREATE TABLE t_toast (id int PRIMARY KEY, big text, small int);
-- EXTERNAL: stored out of line uncompressed, so 8200 bytes are surely TOASTed
ALTER TABLE t_toast ALTER big SET STORAGE EXTERNAL;
CREATE TABLE t_full (id int, v text);
ALTER TABLE t_full REPLICA IDENTITY FULL;
CREATE TABLE t_tr1 (id serial PRIMARY KEY);
CREATE TABLE t_tr2 (id int PRIMARY KEY REFERENCES t_tr1);
CREATE TABLE t_bin (id int PRIMARY KEY, v text, b bytea, f float8, ok bool);
CREATE TABLE t_stream (id int PRIMARY KEY, m mood, pad text);
CREATE PUBLICATION pub FOR TABLE t_vals, t_toast, t_full, t_tr1, t_tr2;
CREATE PUBLICATION pubb FOR TABLE t_bin;
CREATE PUBLICATION pubs FOR TABLE t_stream;
INSERT INTO t_full VALUES (1, 'a'), (2, NULL);
INSERT INTO t_tr1 DEFAULT VALUES;
INSERT INTO t_tr2 VALUES (1);
SELECT pg_create_logical_replication_slot('cap', 'pgoutput');
SELECT pg_replication_origin_create('upstream');
SQL

# Workload for 'pub': one statement per transaction unless grouped.
run_sql <<'SQL'
BEGIN;
INSERT INTO t_vals VALUES (1, NULL, NULL, NULL);
INSERT INTO t_vals VALUES (2, 'null', '\x00ff27'::bytea, 'happy');
INSERT INTO t_vals VALUES (3, 'NULL', '\x'::bytea, 'sad');
INSERT INTO t_vals VALUES (4, 'it''s', NULL, 'ok');
INSERT INTO t_vals VALUES (5, '', NULL, NULL);
INSERT INTO t_vals VALUES (6, 'héllo ☃ 日本 \ "q"', NULL, NULL);
COMMIT;
INSERT INTO t_toast VALUES (1, repeat('abcdefghij', 820), 0);
UPDATE t_toast SET small = 1 WHERE id = 1;
UPDATE t_vals SET id = 10 WHERE id = 1;
UPDATE t_vals SET v = 'still null?' WHERE id = 2;
DELETE FROM t_vals WHERE id = 3;
UPDATE t_full SET v = 'b' WHERE id = 1;
DELETE FROM t_full WHERE id = 2;
TRUNCATE t_tr1, t_tr2 RESTART IDENTITY CASCADE;
TRUNCATE t_full;
SELECT pg_logical_emit_message(true, 'pfx', 'content');
SELECT pg_logical_emit_message(false, 'pfx', 'non-transactional');
SELECT pg_replication_origin_session_setup('upstream');
BEGIN;
SELECT pg_replication_origin_xact_setup('0/ABCDEF', '2024-01-02 03:04:05+00');
INSERT INTO t_vals VALUES (7, 'from upstream', NULL, NULL);
COMMIT;
SELECT pg_replication_origin_session_reset();
SQL

# Workload for 'pubb': binary values.
run_sql <<'SQL'
INSERT INTO t_bin VALUES (1, 'null', '\xdeadbeef', 1.5, true), (2, NULL, NULL, NULL, NULL);
SQL

# Workload for 'pubs': big transactions (~5000 rows of 100 bytes each).
run_sql <<'SQL'
BEGIN;
INSERT INTO t_stream SELECT i, 'ok', repeat('x', 100) FROM generate_series(1, 3000) i;
SELECT pg_logical_emit_message(true, 'pfx', 'in stream');
SAVEPOINT s1;
INSERT INTO t_stream SELECT i, 'sad', repeat('y', 100) FROM generate_series(3001, 5000) i;
ROLLBACK TO SAVEPOINT s1;
UPDATE t_stream SET m = 'happy' WHERE id = 1;
DELETE FROM t_stream WHERE id = 2;
TRUNCATE t_stream;
INSERT INTO t_stream VALUES (9, NULL, 'last');
COMMIT;
BEGIN;
INSERT INTO t_stream SELECT i, 'ok', repeat('z', 100) FROM generate_series(11, 3010) i;
ROLLBACK;
INSERT INTO t_stream VALUES (10, 'ok', 'after abort');
-- the clusters run with synchronous_commit = off, and decoding reads only
-- flushed WAL: without this the last commits would be missing
CHECKPOINT;
SQL

peek() {
  local pub=$1; shift
  local opts="'publication_names','$pub'"
  while [ $# -gt 0 ]; do opts="$opts,'$1','$2'"; shift 2; done
  psql_src -At -F ' ' <<SQL
SET logical_decoding_work_mem = '64kB';
SELECT lsn, xid, encode(data, 'hex')
  FROM pg_logical_slot_peek_binary_changes('cap', NULL, NULL, $opts);
SQL
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PG_SERVER_VERSION
PG_SERVER_VERSION=$(psql_src -At -c 'SHOW server_version')
peek pub proto_version 1 messages true >"$tmp/v1"
peek pubb proto_version 1 binary true >"$tmp/bin"
peek pubs proto_version 2 streaming on messages true >"$tmp/v2"

# Writes one C array per capture. Comments name each message (and for
# changes the relation, learned from the Relation messages before them). In
# the streaming capture, only the first two Inserts of each segment are kept:
# the thousands in between are alike.
perl -w - "$tmp/v1" "$tmp/bin" "$tmp/v2" >"$OUT.tmp" <<'PERL'
use strict;
my %names = (B => 'Begin', C => 'Commit', O => 'Origin', R => 'Relation',
  Y => 'Type', I => 'Insert', U => 'Update', D => 'Delete', T => 'Truncate',
  M => 'Message', S => 'Stream Start', E => 'Stream Stop',
  c => 'Stream Commit', A => 'Stream Abort');
my @arrays = (['pgoutput_v1', 'protocol 1, text values (publication pub)'],
  ['pgoutput_v1_binary', "protocol 1, binary 'true' (publication pubb)"],
  ['pgoutput_v2_stream', "protocol 2, streaming 'on' (publication pubs)"]);
print "/*\n * Generated by tests/lib/capture_pgoutput.sh from PostgreSQL ",
  "$ENV{PG_SERVER_VERSION}: the\n * rows of pg_logical_slot_peek_binary_changes",
  " (lsn, xid, data as hex).\n * Do not edit; regenerate, then update ",
  "test_pgoutput.c's expected values.\n */\n";
print "#ifndef PGSHIFT_TESTS_PGOUTPUT_FIXTURES_H\n#define PGSHIFT_TESTS_PGOUTPUT_FIXTURES_H\n\n";
print "struct pgoutput_fixture {\n\tconst char *lsn;\t/* the row's lsn column */\n",
  "\tunsigned xid;\t\t/* the row's xid column */\n\tconst char *hex;\t/* the message */\n};\n";
for my $i (0 .. 2) {
  my ($name, $what) = @{$arrays[$i]};
  open(my $fh, '<', $ARGV[$i]) or die "$ARGV[$i]: $!";
  my %rel;
  my ($in_stream, $inserts, $skipped) = (0, 0, 0);
  print "\n/* $what */\nstatic const struct pgoutput_fixture ${name}[] = {\n";
  while (my $line = <$fh>) {
    chomp $line;
    my ($lsn, $xid, $hex) = split / /, $line;
    $xid = 0 if $xid eq '';
    my $bytes = pack('H*', $hex);
    my $t = substr($bytes, 0, 1);
    my $streamed = $in_stream && $t =~ /[RYIUDTM]/;
    my $body = $streamed ? 5 : 1;
    my $note = $names{$t} // sprintf('unknown 0x%02x', ord $t);
    $in_stream = 1 if $t eq 'S';
    $in_stream = 0 if $t eq 'E';
    $inserts = 0 if $t eq 'S';
    if ($t eq 'I' && $in_stream && ++$inserts > 2) { $skipped++; next; }
    if ($skipped && $t ne 'I') {
      print "\t/* ... $skipped more Inserts of the same segment left out */\n";
      $skipped = 0;
    }
    if ($t eq 'R') {
      my ($relid) = unpack('N', substr($bytes, $body, 4));
      my ($nsp, $relname) = split /\0/, substr($bytes, $body + 4);
      $rel{$relid} = $relname;
      $note .= " $nsp.$relname";
    } elsif ($t =~ /[IUD]/) {
      my ($relid) = unpack('N', substr($bytes, $body, 4));
      $note .= ' ' . ($t eq 'I' ? 'into' : 'of') . ' ' . ($rel{$relid} // $relid);
      if ($t ne 'I') {
        my $k = substr($bytes, $body + 4, 1);
        $note .= $k eq 'K' ? ', old key (K)' : $k eq 'O' ? ', old row (O)' : '';
      }
    } elsif ($t eq 'Y') {
      my ($oid) = unpack('N', substr($bytes, $body, 4));
      my ($nsp, $typ) = split /\0/, substr($bytes, $body + 4);
      $note .= " $nsp.$typ";
    } elsif ($t eq 'M') {
      $note .= (ord(substr($bytes, $body, 1)) & 1) ? ', transactional' : ', non-transactional';
    }
    $note .= ', streamed' if $streamed;
    $note .= ' (' . length($bytes) . ' bytes)';
    print "\t/* $note */\n\t{\"$lsn\", $xid,\n";
    # 76 hex digits per line keeps the file readable and diffable
    for (my $o = 0; $o < length $hex; $o += 76) {
      print "\t\t\"", substr($hex, $o, 76), "\"", ($o + 76 < length $hex ? "\n" : "},\n");
    }
  }
  print "\t/* ... $skipped more Inserts of the same segment left out */\n" if $skipped;
  print "};\n";
}
print "\n#endif\n";
PERL
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT"
