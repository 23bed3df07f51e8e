# The end of the migration life cycle on real servers (DESIGN.md §1, §4):
#   a. an online migration under a write workload run by role app; a second
#      process approves the manual gate with `pgshift cutover`; the cutover
#      fences app's writes, waits for catch-up, syncs sequences and verifies
#      checksums; serial and identity inserts on the target then succeed,
#      no slot or publication is left, app is read-only on the source until
#      `cleanup --unfence`, and cleanup is safe twice.
#   b. `pgshift verify` fails (exit 1) naming a changed value, a missing row,
#      a sequence behind and a missing index on a migrated pair.
#   c. `pgshift reset` refuses without --yes (exit 3, nothing dropped) and
#      with --yes drops what apply created and the state.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use PgShift::Cluster;
use PgShift::Run;

my $c = start_clusters();
my ($src0, $tgt0) = ($c->{source_uri}, $c->{target_uri});
my $dir = tempdir(CLEANUP => 1);

sub db_uri { my ($uri, $db) = @_; (my $u = $uri) =~ s{/postgres$}{/$db}; return $u; }
sub app_uri { my ($uri) = @_; (my $u = $uri) =~ s{//postgres@}{//app@}; return $u; }
sub q_or_empty { my ($uri, $sql) = @_; return eval { psql($uri, $sql) } // ''; }
sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return ''; local $/; return <$fh> // ''; }

sub wait_until {
    my ($cond, $secs, $pid) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        return 1 if $cond->();
        return 0 if $pid && waitpid($pid, 1) == $pid;
        sleep 0.1;
    }
    return 0;
}

# A source and a target database of their own, and a plan between them.
sub pair {
    my ($name, $schema_sql, $plan_tail) = @_;
    psql($src0, "CREATE DATABASE $name");
    psql($tgt0, "CREATE DATABASE $name");
    my ($src, $tgt) = (db_uri($src0, $name), db_uri($tgt0, $name));
    psql($src, $schema_sql);
    my $path = write_plan(<<"YAML" . $plan_tail, tempdir(CLEANUP => 1));
version: 1
name: $name
source:
  uri: \${SOURCE_URI}
target:
  uri: \${TARGET_URI}
# the grants to app (a role only the source has) are not this test's subject
schema:
  privileges: drop
copy:
  table_jobs: 2
  index_jobs: 2
  split_tables_larger_than: 1MB
  split_max_parts: 4
  vacuum_analyze: false
YAML
    return ($path, { SOURCE_URI => $src, TARGET_URI => $tgt }, $src, $tgt);
}

my $schema = <<'SQL';
CREATE TABLE public.items (id serial PRIMARY KEY, v text, at timestamptz DEFAULT now());
CREATE TABLE public.ledger (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, amount numeric, note text);
CREATE TABLE public.big (id int PRIMARY KEY, pad text, f float8);
CREATE INDEX big_pad ON public.big (pad);
INSERT INTO public.items (v) SELECT 'item ' || g FROM generate_series(1, 2000) g;
INSERT INTO public.ledger (amount, note) SELECT g / 7.0, CASE WHEN g % 3 = 0 THEN 'null' END FROM generate_series(1, 2000) g;
INSERT INTO public.big SELECT g, repeat(md5(g::text), 4), g / 3.0 FROM generate_series(1, 30000) g;
ANALYZE;
SQL

# The workload: role app inserts with serial / identity defaults and updates,
# one statement per transaction, until fence_writes ends its session.
sub start_workload {
    my ($uri) = @_;
    my $pid = fork() // die;
    return $pid if $pid;
    open(STDOUT, '>', '/dev/null'); open(STDERR, '>', '/dev/null');
    open(my $ps, '|-', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $uri) or POSIX::_exit(2);
    $SIG{PIPE} = sub { POSIX::_exit(0) };
    for (my $i = 0; ; $i++) {
        print $ps "INSERT INTO public.items (v) VALUES ('w$i');\n";
        print $ps "INSERT INTO public.ledger (amount, note) VALUES ($i.5, 'it''s $i');\n";
        print $ps "UPDATE public.big SET pad = md5('$i'), f = $i.25 WHERE id = " . (1 + $i * 37 % 30000) . ";\n";
        print $ps "DELETE FROM public.items WHERE id = " . (1 + $i * 13 % 2000) . ";\n";
        sleep 0.005 if $i % 10 == 0;
    }
}

# ---- a. online migration, gate approved by a second process, fenced cutover
{
    my ($plan, $env, $src, $tgt) = pair('lc_a', $schema, <<'YAML');
cdc:
  enabled: true
  max_lag: 2s
cutover:
  approval: manual
  steps:
    - fence_writes: { roles: [app] }
    - wait_for_catchup: { timeout: 60s }
    - sync_sequences: { margin: 0 }
    - verify: { level: checksum }
cleanup:
  keep_state: true
YAML
    psql($src, "CREATE ROLE app LOGIN; GRANT ALL ON ALL TABLES IN SCHEMA public TO app;"
             . " GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO app");
    my $wl = start_workload(app_uri($src));
    my $pid = fork() // die;
    if ($pid == 0) {
        $ENV{$_} = $env->{$_} for keys %$env;
        open(STDIN, '<', '/dev/null'); open(STDOUT, '>', "$dir/a.out"); open(STDERR, '>', "$dir/a.err");
        exec(pgshift_bin(), 'apply', $plan, '--yes', '--no-progress') or die;
    }
    ok(wait_until(sub { slurp("$dir/a.err") =~ /cutover gate: waiting for approval/ }, 90, $pid),
       'apply waits at the manual gate while app writes') or diag(slurp("$dir/a.err"));
    sleep 1;
    my $r = run_pgshift($env, 'cutover', $plan);
    is($r->{rc}, 0, 'pgshift cutover from a second process approves') or diag($r->{err});
    is(finish_within($pid, 300), 0, 'apply finishes the cutover') or diag(`tail -30 $dir/a.err`);
    ok(wait_until(sub { waitpid($wl, 1) == $wl }, 10), "fence_writes ended app's session (the workload stopped)")
        or kill('KILL', $wl);
    my $log = slurp("$dir/a.err");
    like($log, qr/fence_writes: source database read-only for new sessions; ended [1-9]\d* session/,
         'fence_writes ended the session of app');
    like($log, qr/wait_for_catchup: caught up/, 'wait_for_catchup passed');
    like($log, qr/verify checksum of plan lc_a.*result: IDENTICAL/s, 'the checksum verify step passed');
    is(psql($tgt, "SELECT fenced FROM pgshift.runs WHERE plan = 'lc_a'"), 't', 'fenced is recorded in the state');

    $r = run_pgshift($env, 'verify', $plan, '--level', 'checksum');
    is($r->{rc}, 0, 'pgshift verify --level checksum: identical after the cutover') or diag($r->{out} . $r->{err});
    like($r->{out}, qr/PASS  table public\.big  rows 30000/, 'the report has a PASS line per table');
    $r = run_pgshift($env, 'verify', $plan, '--level', 'count', '--json');
    like($r->{out}, qr/"identical":true/, 'verify --json says identical');

    is(psql($tgt, "INSERT INTO public.items (v) VALUES ('after') RETURNING 1"), '1',
       'a serial insert on the target succeeds (no duplicate key)');
    is(psql($tgt, "INSERT INTO public.ledger (amount) VALUES (1) RETURNING 1"), '1',
       'an identity insert on the target succeeds');
    is(psql($src, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgshift_lc_a'"), '0', 'no slot on the source');
    is(psql($src, "SELECT count(*) FROM pg_publication WHERE pubname = 'pgshift_lc_a'"), '0', 'no publication on the source');

    my $app = app_uri($src);
    is(psql($app, 'SHOW default_transaction_read_only'), 'on', 'a new session of app is read-only');
    ok(!eval { psql($app, "INSERT INTO public.items (v) VALUES ('late')"); 1 }, 'and cannot write');

    $r = run_pgshift($env, 'cleanup', $plan, '--unfence');
    is($r->{rc}, 0, 'cleanup --unfence') or diag($r->{err});
    is(psql($app, "INSERT INTO public.items (v) VALUES ('writable') RETURNING 1"), '1', 'app can write again');
    is(psql($tgt, "SELECT fenced FROM pgshift.runs WHERE plan = 'lc_a'"), 'f', 'fenced = false is recorded');
    $r = run_pgshift($env, 'cleanup', $plan);
    is($r->{rc}, 0, 'cleanup a second time exits 0') or diag($r->{err});
}

# ---- b. verify names each difference of a migrated pair
{
    my ($plan, $env, $src, $tgt) = pair('lc_b', $schema, <<'YAML');
cdc:
  enabled: false
cutover:
  approval: auto
  steps:
    - sync_sequences: { margin: 0 }
cleanup:
  keep_state: true
YAML
    my $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress');
    is($r->{rc}, 0, 'offline apply of lc_b') or diag($r->{err});
    $r = run_pgshift($env, 'verify', $plan);
    is($r->{rc}, 0, 'verify (default level checksum) finds the pair identical') or diag($r->{out} . $r->{err});
    like($r->{out}, qr/summary: \d+ PASS, 0 WARN, 0 FAIL/, 'with a summary');

    my @cases = (
        ['a changed value', "UPDATE public.big SET f = f + 1e-9 WHERE id = 20000",
         "UPDATE public.big SET f = 20000 / 3.0 WHERE id = 20000",
         qr/FAIL table public\.big: checksum differs in id in \[\d+, \d+\): row values differ/],
        ['a missing row', "DELETE FROM public.ledger WHERE id = 5",
         "INSERT INTO public.ledger OVERRIDING SYSTEM VALUE VALUES (5, 5 / 7.0, NULL)",
         qr/FAIL table public\.ledger: row count differs in the table \(source 2000, target 1999\)/],
        ['a sequence behind', "SELECT setval('public.items_id_seq', 10)",
         "SELECT setval('public.items_id_seq', 2000)",
         qr/FAIL sequence public\.items_id_seq: behind the source: next value 11 on the target, 2001 on the source/],
        ['a missing index', "DROP INDEX public.big_pad",
         "CREATE INDEX big_pad ON public.big (pad)",
         qr/FAIL table public\.big: index big_pad missing on the target/],
    );
    for my $case (@cases) {
        my ($what, $break, $repair, $re) = @$case;
        psql($tgt, $break);
        $r = run_pgshift($env, 'verify', $plan, '--level', 'checksum');
        is($r->{rc}, 1, "verify exits 1 for $what");
        like($r->{out}, $re, "and names it") or diag($r->{out});
        psql($tgt, $repair);
    }
    $r = run_pgshift($env, 'verify', $plan, '--level', 'schema');
    is($r->{rc}, 0, 'repaired: verify --level schema passes') or diag($r->{out});
    $r = run_pgshift($env, 'verify', $plan, '--level', 'nope');
    is($r->{rc}, 3, 'an unknown level is a usage error');

# ---- c. reset
    $r = run_pgshift($env, 'reset', $plan);
    is($r->{rc}, 3, 'reset without --yes exits 3');
    like($r->{out}, qr/table public\.big/, 'it lists what it would drop');
    like($r->{err}, qr/--yes/, 'and says how to go on');
    is(psql($tgt, "SELECT count(*) FROM public.big"), '30000', 'nothing was dropped');
    $r = run_pgshift($env, 'reset', $plan, '--yes');
    is($r->{rc}, 0, 'reset --yes') or diag($r->{err});
    is(psql($tgt, "SELECT count(*) FROM pg_class WHERE relname IN ('big', 'items', 'ledger', 'items_id_seq')"), '0',
       'the tables and sequences apply created are gone');
    is(psql($tgt, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgshift'"), '0', 'and the state');
    $r = run_pgshift($env, 'reset', $plan, '--yes');
    is($r->{rc}, 0, 'a second reset finds nothing to drop');
    like($r->{out}, qr/nothing to drop/, 'and says so');
}

done_testing();
