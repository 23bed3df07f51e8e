# pgshift apply without CDC, end to end on real servers: schema, parallel
# copy on one snapshot, indexes, constraints, vacuum, sequences, verify;
# the lock (exit 4), require_empty_target, --expect drift, a changed plan on
# resume, and kill -9 in the middle followed by a resume that ends identical.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(sleep time);
use PgShift::Cluster;
use PgShift::Run;

my $c = start_clusters();
my ($src, $dst) = ($c->{source_uri}, $c->{target_uri});
my %env = (SOURCE_URI => $src, TARGET_URI => $dst);
my $dir = tempdir(CLEANUP => 1);

psql($src, <<'SQL');
CREATE SCHEMA "select";
CREATE TABLE public.customers (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE public.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id int NOT NULL REFERENCES public.customers(id), note text,
  amount numeric(12,2), doubled numeric GENERATED ALWAYS AS (amount * 2) STORED);
CREATE INDEX orders_customer_idx ON public.orders (customer_id);
CREATE TABLE "select"."we""ird table" (id int PRIMARY KEY, "from" text, v jsonb);
CREATE TABLE public.events (id int, at date NOT NULL, payload text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.big (id int PRIMARY KEY, pad text);
CREATE TABLE public.docs (id int PRIMARY KEY, body text);
ALTER TABLE public.docs ALTER body SET STORAGE EXTERNAL;
INSERT INTO public.customers (name) SELECT 'customer ' || g FROM generate_series(1, 500) g;
INSERT INTO public.orders (customer_id, note, amount)
  SELECT 1 + g % 500, CASE g % 4 WHEN 0 THEN 'null' WHEN 1 THEN NULL WHEN 2 THEN 'it''s' ELSE '''''hello world''''' END, g / 7.0
  FROM generate_series(1, 20000) g;
INSERT INTO "select"."we""ird table" SELECT g, E'tab\there\\back', jsonb_build_object('k', g) FROM generate_series(1, 300) g;
INSERT INTO public.events SELECT g, date '2024-01-01' + g % 700, repeat('x', g % 50) FROM generate_series(1, 5000) g;
INSERT INTO public.big SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 60000) g;
INSERT INTO public.docs SELECT g, (SELECT string_agg(md5((g * 131 + i)::text), '') FROM generate_series(1, 128) i)
  FROM generate_series(1, 60) g;
SELECT setval('public.customers_id_seq', 9000);
ANALYZE;
SQL

sub plan_yaml {
    my (%o) = @_;
    my $extra = $o{extra} // '';
    return <<"YAML";
version: 1
name: offline
source:
  uri: \${SOURCE_URI}
target:
  uri: \${TARGET_URI}
copy:
  table_jobs: 1          # copies one after another: a wide window for the kill -9
  index_jobs: 2
  split_tables_larger_than: 512kB
  split_max_parts: 3
cdc:
  enabled: false
cutover:
  approval: auto
  steps:
    - sync_sequences: { margin: 0 }
    - verify: { level: count }
cleanup:
  keep_state: true
$extra
YAML
}

sub table_dump {
    my ($uri, $table) = @_;
    return psql($uri, "SET extra_float_digits = 3; SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; "
        . "COPY (SELECT * FROM $table ORDER BY 1, 2) TO STDOUT");
}

my @tables = ('public.customers', 'public.orders', '"select"."we""ird table"', 'public.events', 'public.big',
              'public.docs');

sub same_data {
    my ($label) = @_;
    for my $t (@tables) {
        my ($a, $b) = (table_dump($src, $t), table_dump($dst, $t));
        ok($a eq $b && length($a) > 0, "$label: $t identical on both servers")
            or diag("source " . length($a) . " bytes, target " . length($b) . " bytes");
    }
}

my $plan = write_plan(plan_yaml(), $dir);
psql($dst, "CREATE TABLE public.customers (id int)");
psql($dst, "INSERT INTO public.customers VALUES (1)");
my $r = run_pgshift(\%env, 'apply', $plan, '--yes', '--no-progress');
is($r->{rc}, 1, 'require_empty_target: a non-empty target table stops apply (exit 1)');
like($r->{err}, qr/target_tables_empty.*public\.customers/, 'the FAIL names the table');
is(psql($dst, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgshift'"), '0', 'nothing was written: no state schema');
psql($dst, "DROP TABLE public.customers");

# --expect: review a saved plan, then the source drifts
$r = run_pgshift(\%env, 'plan', $plan, '--format', 'json', '--out', "$dir/saved.json");
is($r->{rc}, 0, 'saved plan written') or diag($r->{err});
psql($src, "CREATE TABLE public.late_addition (id int PRIMARY KEY)");
$r = run_pgshift(\%env, 'apply', $plan, '--yes', '--expect', "$dir/saved.json");
is($r->{rc}, 1, 'apply --expect refuses a drifted source');
like($r->{err}, qr/source schema changed since the saved plan was reviewed: new step copy:public\.late_addition/, 'and names what drifted');
psql($src, "DROP TABLE public.late_addition");
$r = run_pgshift(\%env, 'plan', $plan, '--format', 'json', '--out', "$dir/saved.json");

# kill -9 in the middle of the copy, then resume
my $pid = fork() // die;
if ($pid == 0) {
    $ENV{$_} = $env{$_} for keys %env;
    open(STDOUT, '>', "$dir/run1.out"); open(STDERR, '>', "$dir/run1.err");
    exec(pgshift_bin(), 'apply', $plan, '--yes', '--no-progress', '--expect', "$dir/saved.json") or die;
}
my $deadline = time + 60;
my $killed = 0;
while (time < $deadline) {
    my $n = eval { psql($dst, "SELECT count(*) FROM pgshift.steps WHERE status = 'done' AND step_id LIKE 'copy:%'") } // 0;
    if ($n >= 1) { kill 'KILL', $pid; $killed = 1; last; }
    last if waitpid($pid, 1) == $pid;
    sleep 0.05;
}
waitpid($pid, 0);
ok($killed, 'apply was killed with SIGKILL after at least one copy finished');
my $unfinished = psql($dst, "SELECT count(*) FROM pgshift.steps WHERE status <> 'done'");
diag("steps not done at the kill: $unfinished");

$r = run_pgshift(\%env, 'apply', $plan, '--yes', '--no-progress');
is($r->{rc}, 0, 'a second apply resumes and finishes') or diag($r->{err});
like($r->{err}, qr/resuming run/, 'it says it resumes');
same_data('after kill -9 and resume');
is(psql($dst, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname = 'orders_customer_idx'"), '1', 'index built');
is(psql($dst, "SELECT count(*) FROM pg_constraint WHERE conname = 'orders_customer_id_fkey' AND convalidated"), '1', 'FK built and validated');
is(psql($dst, "SELECT last_value FROM public.customers_id_seq"), '9000', 'serial sequence set from the source');
is(psql($dst, "SELECT last_value FROM public.orders_id_seq"), psql($src, "SELECT last_value FROM public.orders_id_seq"), 'identity sequence set from the source');
is(psql($dst, "INSERT INTO public.customers (name) VALUES ('new') RETURNING id"), '9001', 'a new row on the target takes the next id, no duplicate key');
is(psql($dst, "SELECT status FROM pgshift.runs WHERE plan = 'offline'"), 'finished', 'the run is recorded finished');
# vacuum steps: every table analyzed; a table copied whole (COPY FREEZE: its
# rows frozen, its visibility map set) is only analyzed, its TOAST left to
# autovacuum; a split table is vacuumed, its TOAST with it
my $vacuumed = q{SELECT (h.last_vacuum IS NOT NULL) || '/' || (h.last_analyze IS NOT NULL) || '/'
                    || (t.last_vacuum IS NOT NULL) || '/' || (pg_relation_size(c.reltoastrelid) > 0)
                 FROM pg_class c JOIN pg_stat_all_tables h ON h.relid = c.oid
                 JOIN pg_stat_all_tables t ON t.relid = c.reltoastrelid WHERE c.oid = '%s'::regclass};
is(psql($dst, sprintf($vacuumed, 'public.docs')), 'false/true/false/true',
   'docs (whole, TOAST-heavy): analyzed, neither it nor its TOAST vacuumed');
is(psql($dst, "SELECT relpages > 0 AND relallvisible = relpages FROM pg_class WHERE oid = 'public.docs'::regclass"),
   't', 'docs: every heap page all-visible without a vacuum');
is(psql($dst, sprintf($vacuumed, 'public.big')), 'true/true/true/false',
   'big (split into parts): vacuumed and analyzed, its TOAST vacuumed too');

$r = run_pgshift(\%env, 'status', $plan, '--json');
is($r->{rc}, 0, 'status reads the finished run');
like($r->{out}, qr/"status":"finished"/, 'status --json shows it finished');

# a changed plan file is refused on resume unless --force
psql($dst, "UPDATE pgshift.runs SET status = 'failed' WHERE plan = 'offline'");
my $plan2 = write_plan(plan_yaml(extra => "# edited\n"), $dir);
$r = run_pgshift(\%env, 'apply', $plan2, '--yes', '--no-progress');
is($r->{rc}, 1, 'a changed plan file is refused on resume');
like($r->{err}, qr/plan file changed/, 'saying the plan changed');

# An offline plan of public.customers alone, named name, with that cutover approval.
sub customers_plan {
    my ($name, $approval) = @_;
    return write_plan(<<"YAML", tempdir(CLEANUP => 1));
version: 1
name: $name
source:
  uri: \${SOURCE_URI}
target:
  uri: \${TARGET_URI}
filters:
  include_tables: ["public.customers"]
cdc:
  enabled: false
cutover:
  approval: $approval
YAML
}

# a manual gate holds the run (and its lock): a second apply exits 4 at once,
# `pgshift cutover` from another process lets the first one finish
psql($dst, "CREATE DATABASE gated");
(my $gated_uri = $dst) =~ s{/postgres$}{/gated};
my %genv = (SOURCE_URI => $src, TARGET_URI => $gated_uri);
my $gplan = customers_plan('gated', 'manual');
my $gpid = fork() // die;
if ($gpid == 0) {
    $ENV{$_} = $genv{$_} for keys %genv;
    open(STDOUT, '>', "$dir/gated.out"); open(STDERR, '>', "$dir/gated.err");
    exec(pgshift_bin(), 'apply', $gplan, '--yes', '--no-progress') or die;
}
my $waiting = 0;
for (1 .. 300) {
    my $s = eval { psql($gated_uri, "SELECT status FROM pgshift.steps WHERE step_id = 'cutover.gate'") } // '';
    if ($s eq 'running') { $waiting = 1; last; }
    sleep 0.1;
}
ok($waiting, 'apply waits at the manual cutover gate');
$r = run_pgshift(\%genv, 'status', $gplan);
like($r->{out}, qr/^cutover\s+WAITING FOR APPROVAL \(pgshift cutover /m, 'status says the run waits for approval');
my $t0 = time;
$r = run_pgshift(\%genv, 'apply', $gplan, '--yes', '--no-progress');
is($r->{rc}, 4, 'a second apply of the same plan: exit 4');
ok(time - $t0 < 10, 'at once, without waiting for the lock');
like($r->{err}, qr/another pgshift apply of plan "gated" is running/, 'and says why');
$r = run_pgshift(\%genv, 'cutover', $gplan);
is($r->{rc}, 0, 'pgshift cutover approves the gate from another process') or diag($r->{err});
waitpid($gpid, 0);
is($? >> 8, 0, 'the gated apply continues and finishes');
is(table_dump($gated_uri, 'public.customers'), table_dump($src, 'public.customers'), 'gated run copied its table');

# An older pg_dump/pg_restore first in PATH (here a script saying 13, which
# refuses a 15 server as the real one does): preflight passes on the newer
# one further down PATH and names it; the run must start that one too, not
# the first in PATH (it did: schema.pre failed on "server version mismatch").
my $old = tempdir(CLEANUP => 1);
for my $tool (qw(pg_dump pg_restore)) {
    open(my $fh, '>', "$old/$tool") or die;
    print $fh "#!/bin/sh\n[ \"\$1\" = --version ] && { echo '$tool (PostgreSQL) 13.9'; exit 0; }\n"
        . "echo '$tool: error: aborting because of server version mismatch' >&2; exit 1\n";
    close $fh;
    chmod 0755, "$old/$tool";
}
psql($dst, "CREATE DATABASE oldpath");
(my $old_uri = $dst) =~ s{/postgres$}{/oldpath};
my %oenv = (SOURCE_URI => $src, TARGET_URI => $old_uri, PATH => "$old:$ENV{PATH}");
my $oplan = customers_plan('oldpath', 'auto');
$r = run_pgshift(\%oenv, 'plan', $oplan);
like($r->{out}, qr/^PASS\s+pg_dump\s+(?!\Q$old\E)\S+ 15$/m, 'old tools first in PATH: preflight picks a pg_dump 15 further down')
    or diag($r->{out});
$r = run_pgshift(\%oenv, 'apply', $oplan, '--yes', '--no-progress');
is($r->{rc}, 0, 'and apply runs the tools preflight picked') or diag($r->{err});
is(table_dump($old_uri, 'public.customers'), table_dump($src, 'public.customers'), 'its table copied');

done_testing();
