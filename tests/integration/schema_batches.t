# Schema restore on a target whose lock table cannot hold the whole schema
# (issue 16): with max_locks_per_transaction = 10 and max_connections = 20,
# pg_restore --single-transaction of 300 tables runs out of shared memory,
# while apply restores in lock-bounded batches. kill -9 between two batches
# (the test-only crash point schema.batch) leaves whole batches; the resume
# restores the others, and every table, sequence, index and row arrives.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use PgShift::Cluster;
use PgShift::Run;

my $ntables = 300;
$ENV{PGSHIFT_PG_EXTRA_CONF} = "max_locks_per_transaction = 10\nmax_connections = 20";
my $c = start_clusters();
my ($src, $tgt) = ($c->{source_uri}, $c->{target_uri});
my $dir = tempdir(CLEANUP => 1);

is(psql($tgt, "SHOW max_locks_per_transaction"), "10", 'the target has a small lock table');
# one table per transaction: the source has the same lock table
for my $i (1 .. $ntables) {
    psql($src, "CREATE TABLE public.t$i (id serial PRIMARY KEY, v text);"
         . " CREATE INDEX t${i}_v_idx ON public.t$i (v);"
         . " INSERT INTO public.t$i (v) SELECT md5(g::text) FROM generate_series(1, 3) g");
}

# what the old single-transaction restore did on this target
psql($tgt, "CREATE DATABASE scratch");
(my $scratch = $tgt) =~ s{/postgres$}{/scratch};
my $one = `pg_dump --section=pre-data -Fc -d '$src' | pg_restore --single-transaction --exit-on-error -d '$scratch' 2>&1`;
like($one, qr/out of shared memory/, 'pg_restore --single-transaction runs out of locks here');

my $plan = write_plan(<<'YAML', $dir);
version: 1
name: batches
source:
  uri: ${SOURCE_URI}
target:
  uri: ${TARGET_URI}
copy:
  table_jobs: 1
  index_jobs: 1
cdc:
  enabled: false
cutover:
  approval: auto
  steps:
    - sync_sequences: { margin: 0 }
cleanup:
  keep_state: true
YAML
my %env = (SOURCE_URI => $src, TARGET_URI => $tgt);

my $r = run_pgshift({%env, PGSHIFT_TEST_HOOKS => 1, PGSHIFT_TEST_CRASH_AT => 'schema.batch:schema.pre'},
                    'apply', $plan, '--yes', '--no-progress');
like($r->{err}, qr/restoring \d+ archive entries in (\d+) batches/, 'schema.pre restores in batches');
my ($nbatches) = $r->{err} =~ /in (\d+) batches/;
cmp_ok($nbatches // 0, '>', 2, 'more than two batches');
like($r->{err}, qr/test crash point "schema\.batch:schema\.pre" reached/, 'killed between two batches');

my $marked = psql($tgt, "SELECT count(*) FROM pgshift.restore_batches WHERE plan = 'batches' AND step_id = 'schema.pre'");
is($marked, 1, 'one batch committed and marked before the crash');
my $present = psql($tgt, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
cmp_ok($present, '>', 0, "the committed batch's tables are there ($present)");
cmp_ok($present, '<', $ntables, 'the other batches are not');
is(psql($tgt, "SELECT count(*) FROM pgshift.manifest WHERE plan = 'batches' AND kind = 'table'"),
   $present, "the committed batch's tables are in the manifest (reset drops them): it commits with them");

$r = run_pgshift(\%env, 'apply', $plan, '--yes', '--no-progress');
is($r->{rc}, 0, 'the resume finishes') or diag($r->{err});
like($r->{err}, qr/1 of $nbatches restore batches committed before the last run stopped; restoring the other/,
     'the resume skips the committed batch');
is(psql($tgt, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), $ntables, 'every table restored');
is(psql($tgt, "SELECT count(*) FROM pg_sequences WHERE schemaname = 'public'"), $ntables, 'every sequence restored');
is(psql($tgt, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'"), 2 * $ntables, 'every index and key built');
is(psql($tgt, "SELECT count(*) FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid"
             . " WHERE c.relnamespace = 'public'::regnamespace"), $ntables, 'every serial default set');
my $rows = 0;
$rows += psql($tgt, "SELECT count(*) FROM public.t$_") for (1, 150, $ntables);
is($rows, 9, 'rows copied into the first, a middle and the last table');
is(psql($tgt, "SELECT count(*) FROM pgshift.manifest WHERE plan = 'batches' AND kind = 'table'"),
   $ntables, 'every table recorded in the manifest');

done_testing();
