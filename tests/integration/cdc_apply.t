# The CDC applier on real clusters (engine/cdc/apply*.c; DESIGN.md §4 CDC).
# Both servers get the same tables and the same rows before the slot (as if
# copied on its snapshot); tests/pg/test_apply.c then creates the slot, runs
# the receiver and the applier (in a child process it kills with SIGKILL
# twice and restarts) under a write workload of every kind, and waits until
# the applied LSN recorded on the target passes the source's WAL position.
# Here Compare.pm, which shares no code with pgshift, proves every migrated
# table identical; then the same binary proves a source ALTER TABLE stops
# the applier with an error naming the table and the column.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use PgShift::Cluster;
use PgShift::Compare qw(compare_table);

my $bin = "$FindBin::Bin/../../build/pgtest/test_apply";
plan skip_all => "$bin not built (make check builds it)" unless -x $bin;

my $c = start_clusters();
my ($src, $dst) = ($c->{source_uri}, $c->{target_uri});
my $ddl = <<'SQL';
CREATE TABLE vals (id integer PRIMARY KEY, t text, n numeric, f double precision, b bytea,
                   j jsonb, a integer[], ts timestamptz, big text);
CREATE TABLE "odd ""name""" (k text PRIMARY KEY, "Mixed Case" text);
CREATE TABLE full_t (a integer, b text);
ALTER TABLE full_t REPLICA IDENTITY FULL;
CREATE TABLE ident (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text,
                    g integer GENERATED ALWAYS AS (length(v)) STORED);
CREATE TABLE trunc_me (id integer PRIMARY KEY);
CREATE TABLE big (id integer PRIMARY KEY, v text);
CREATE TABLE small (id integer PRIMARY KEY, v text);
CREATE TABLE crash (id integer PRIMARY KEY, v text);
CREATE TABLE crash_full (id integer, v text);
ALTER TABLE crash_full REPLICA IDENTITY FULL;
CREATE TABLE events (id integer NOT NULL, at date NOT NULL, v text) PARTITION BY RANGE (at);
CREATE TABLE ev_a PARTITION OF events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE ev_b PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
ALTER TABLE ev_a REPLICA IDENTITY FULL;
ALTER TABLE ev_b REPLICA IDENTITY FULL;
CREATE TABLE skipped (id integer PRIMARY KEY);
CREATE TABLE nodata (id integer PRIMARY KEY);
CREATE TABLE coal (id integer PRIMARY KEY, v text, n integer, big text);
CREATE TABLE coal_t (id integer PRIMARY KEY, v text);
CREATE TABLE coal_uq (id integer PRIMARY KEY, email text UNIQUE);
CREATE TABLE coal_nopk (a integer, b text);
CREATE TABLE coal_ord (id integer PRIMARY KEY, pad text);
CREATE TABLE parent_fk (id integer PRIMARY KEY);
CREATE TABLE child_fk (id integer PRIMARY KEY, p integer REFERENCES parent_fk ON DELETE CASCADE);
SQL
my $rows = <<'SQL';
INSERT INTO vals (id, t, big) SELECT i, 'before ' || i, NULL FROM generate_series(1, 20) i;
UPDATE vals SET big = (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 600) g)
 WHERE id = 1;
INSERT INTO full_t VALUES (1, 'dup'), (1, 'dup'), (2, NULL), (3, 'three');
INSERT INTO "odd ""name""" VALUES ('k1', 'v1');
INSERT INTO parent_fk VALUES (1), (2);
INSERT INTO coal_uq VALUES (1, 'a'), (2, 'b');
INSERT INTO coal_ord SELECT i, repeat('x', 100) FROM generate_series(1, 20000) i;
INSERT INTO child_fk VALUES (1, 1), (2, 2);
SQL
for my $uri ($src, $dst) {
    psql($uri, $ddl);
    psql($uri, $rows);
}
# the copy keeps each row's TOAST value; the target must too
psql($src, "ALTER SYSTEM SET logical_decoding_work_mem = '64kB'");
# hostile server defaults: pgoutput writes text values with the walsender
# session's settings, which pgshift must fix whatever the source's defaults
psql($src, "ALTER SYSTEM SET $_") for ("DateStyle = 'SQL, DMY'", "TimeZone = 'Asia/Kolkata'",
    "IntervalStyle = 'sql_standard'", "bytea_output = 'escape'", "extra_float_digits = 0");
psql($src, 'SELECT pg_reload_conf()');
# FOR ALL TABLES: the applier's own filters must keep out skipped and nodata
psql($src, 'CREATE PUBLICATION pgshift_apply FOR ALL TABLES');

my $spool = tempdir('/tmp/pgshift-spool.XXXXXX', CLEANUP => 1);
sub run_phase {
    my ($phase) = @_;
    local %ENV = (%ENV, SOURCE_URI => $src, TARGET_URI => $dst, SPOOL_DIR => "$spool/spool");
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open(STDERR, '>&', \*STDOUT);
        exec($bin, $phase) or die "exec $bin: $!";
    }
    my $out = do { local $/; <$fh> // '' };
    close $fh;
    my $rc = $?;
    (my $shown = $out) =~ s/^/    /mg;
    print "# Subtest: $phase\n$shown";
    ok($rc == 0 && $out =~ /^1\.\.\d+$/m && $out !~ /^not ok/m, "test_apply $phase")
        or diag("exit status $rc");
}

run_phase('run');
for my $t (qw(vals full_t ident trunc_me big small crash crash_full ev_a ev_b parent_fk child_fk),
           'odd "name"') {
    my ($n, $diff) = compare_table($src, $dst, 'public', $t);
    ok(!defined $diff, "public.$t identical on source and target ($n rows)") or diag($diff);
}
is(psql($dst, 'SELECT count(*) FROM skipped') . '/' . psql($dst, 'SELECT count(*) FROM nodata'),
   '0/0', 'no change of the filtered tables reached the target');
is(psql($dst, "SELECT count(*) FROM full_t WHERE a = 1"), 1,
   'one of two identical FULL rows deleted: exactly one remains');
is(psql($dst, "SELECT length(big) FROM vals WHERE id = 1"), 19200,
   'the TOASTed value survived an update of another column');
my @spool = glob("$spool/spool/*.spool");
ok(@spool < 40, 'the spool was collected below the applied LSN (' . scalar(@spool) . ' segments left)');

# many source transactions per target transaction, coalesced per key (apply_batch.c)
run_phase('coalesce');
for my $t (qw(coal coal_t coal_uq coal_nopk coal_ord)) {
    my ($n, $diff) = compare_table($src, $dst, 'public', $t);
    ok(!defined $diff, "coalesced: public.$t identical on source and target ($n rows)") or diag($diff);
}
is(psql($dst, "SELECT count(*) FROM coal WHERE id <= 5 AND length(big) = 19200"), 5,
   'coalesced updates kept the unchanged TOAST values');
# the source updated ids 200 down to 1; the pages being full, each new row
# version goes at the table's end in the order the target updated them: in
# each target transaction (one xmin), by ascending id. A few land out of
# that order where the target found room (3 of 199 here; 196 of 199 when
# the run went in the source's order)
my ($bad, $grouped) = split /\|/, psql($dst, <<'SQL');
SELECT count(*) FILTER (WHERE ctid < prev), count(*) FILTER (WHERE prev IS NOT NULL)
FROM (SELECT ctid, lag(ctid) OVER (PARTITION BY xmin::text ORDER BY id) AS prev
      FROM coal_ord WHERE pad = 'updated') s
SQL
ok($bad * 10 < $grouped && $grouped >= 100,
   "a run of updates went in key order ($grouped rows after another of their batch, $bad before it)");

run_phase('schema');
done_testing();
