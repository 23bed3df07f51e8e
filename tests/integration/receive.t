# CDC publication, slot and receiver on a real source (engine/cdc/cdc_slot.c,
# cdc_receive.c; DESIGN.md §4 CDC): tests/pg/test_receive.c creates the
# publication and the slot, proves the exported snapshot, streams DML of
# every kind (a 200k-row transaction streamed in chunks, thousands of small
# ones) into the spool and decodes it back, kills a receiver with SIGKILL in
# the middle of a streamed transaction and restarts it, and drops everything
# twice. This file prepares the source and checks what is left afterwards.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use PgShift::Cluster;
use PgShift::CTest;

my $bin = "$FindBin::Bin/../../build/pgtest/test_receive";
plan skip_all => "$bin not built (make check builds it)" unless -x $bin;

my $c = start_clusters();
my $src = $c->{source_uri};
psql($src, <<'SQL');
CREATE TABLE t (id integer PRIMARY KEY, v text);
CREATE TABLE big (id integer PRIMARY KEY, v text);
CREATE TABLE crash (id integer PRIMARY KEY);
CREATE TABLE events (id integer NOT NULL, at date NOT NULL, v text) PARTITION BY RANGE (at);
CREATE TABLE ev_a PARTITION OF events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE ev_b PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE skipped (id integer PRIMARY KEY);
INSERT INTO t SELECT i, 'before ' || i FROM generate_series(1, 10) i;
SQL
# small, so the 200k-row transaction is streamed while it runs
psql($src, "ALTER SYSTEM SET logical_decoding_work_mem = '64kB'");
psql($src, 'SELECT pg_reload_conf()');
is(psql($src, 'SHOW logical_decoding_work_mem'), '64kB', 'logical_decoding_work_mem is 64kB');

my $spool = tempdir('/tmp/pgshift-spool.XXXXXX', CLEANUP => 1);
run_c_test($bin, 'publication, slot, receiver', SOURCE_URI => $src, TARGET_URI => $c->{target_uri},
           SPOOL_DIR => "$spool/spool");
ok(scalar(glob("$spool/spool/*.spool")) , 'the spool has segments');
is(psql($src, 'SELECT count(*) FROM pg_replication_slots'), 0, 'no slot left on the source');
is(psql($src, 'SELECT count(*) FROM pg_publication'), 0, 'no publication left on the source');
is(psql($src, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'"), 0,
   'no walsender left');
done_testing();
