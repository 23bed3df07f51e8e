# pgshift apply with cdc.enabled: true, end to end on real servers, under a
# write workload that runs during the copy and after it (DESIGN.md §3
# snapshot / cdc.stream / cdc.catchup, §4 CDC):
#   1. apply waits at a manual cutover gate while CDC keeps applying; the
#      slot confirms (releases WAL) while a big copy still runs; once the
#      workload stops and the applied LSN passes the source's WAL position,
#      Compare.pm finds every table identical; `pgshift cutover` lets apply
#      finish and cleanup drops the slot and the publication.
#   2. kill -9 during the copy (the resume keeps the slot and spool and
#      copies again only the unfinished tables, on a temporary slot's
#      snapshot), kill -9 again at the gate (the resume restarts receiver
#      and applier from the spool and the applied LSN): identical.
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
use PgShift::Compare qw(user_tables compare_table);

my $c = start_clusters();
my ($src, $tgt) = ($c->{source_uri}, $c->{target_uri});
my $dir = tempdir(CLEANUP => 1);

psql($src, <<'SQL');
CREATE TABLE public.accounts (id int PRIMARY KEY, name text, note text, big text);
CREATE TABLE public.nopk (a int, b text);
CREATE TABLE public.events (id int, at date NOT NULL, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.small (id int PRIMARY KEY, v text);
CREATE TABLE public.bulk (id int PRIMARY KEY, v text);
CREATE TABLE public.fat (id int PRIMARY KEY, pad text);
INSERT INTO public.accounts SELECT g, 'name ' || g,
  CASE g % 5 WHEN 0 THEN 'null' WHEN 1 THEN 'NULL' WHEN 2 THEN NULL WHEN 3 THEN 'it''s' ELSE '''''hello world''''' END,
  CASE WHEN g % 100 = 0 THEN (SELECT string_agg(md5((g * 1000 + k)::text), '') FROM generate_series(1, 300) k) END
  FROM generate_series(1, 5000) g;
INSERT INTO public.nopk SELECT g, 'row ' || g FROM generate_series(1, 1000) g;
INSERT INTO public.events SELECT g, date '2024-01-01' + g % 700, 'e' || g FROM generate_series(1, 3000) g;
INSERT INTO public.small SELECT g, 's' || g FROM generate_series(1, 20) g;
INSERT INTO public.fat SELECT g, repeat(md5(g::text), 12) FROM generate_series(1, 300000) g;
ANALYZE;
SQL

# $jobs: copy.table_jobs. With 1, fat, the largest table, is copied first
# (largest first) and alone, for seconds; with 2 the other tables are
# copied beside it and done while it still runs.
sub plan_for {
    my ($name, $db, $jobs) = @_;
    (my $uri = $tgt) =~ s{/postgres$}{/$db};
    psql($tgt, "CREATE DATABASE $db");
    my $pdir = tempdir(CLEANUP => 1);
    my $path = write_plan(<<"YAML", $pdir);
version: 1
name: $name
source:
  uri: \${SOURCE_URI}
target:
  uri: \${TARGET_URI}
copy:
  table_jobs: $jobs
  index_jobs: 2
  split_tables_larger_than: 10GB
  vacuum_analyze: false
cdc:
  enabled: true
  replica_identity: full
  max_lag: 2s
cutover:
  approval: manual
  steps:
    - wait_for_catchup: { timeout: 30s }
    - sync_sequences: { margin: 0 }
    - verify: { level: count }
cleanup:
  keep_state: true
YAML
    return ($path, { SOURCE_URI => $src, TARGET_URI => $uri }, $uri);
}

# The workload: one psql session fed statements, each its own transaction,
# until $stop exists; the 200,000-row transaction once, early.
sub start_workload {
    my ($base, $stop) = @_;
    my $pid = fork() // die;
    return $pid if $pid;
    open(STDOUT, '>', '/dev/null');
    open(my $ps, '|-', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $src) or die;
    my $i = 0;
    while (!-e $stop) {
        my $id = $base + $i;
        my $old = 1 + ($i * 7) % 5000;
        my @v = ("'null'", "'NULL'", 'NULL', "'it''s'", "'''''hello world'''''");
        my $val = $v[$i % 5];
        print $ps "INSERT INTO public.accounts VALUES ($id, $val, $val, NULL);\n";
        print $ps "UPDATE public.accounts SET note = $v[($i + 1) % 5] WHERE id = $old;\n";
        print $ps "UPDATE public.accounts SET name = 'n$i' WHERE id = " . (100 * (1 + $i % 50)) . ";\n";
        print $ps "UPDATE public.accounts SET big = repeat(md5('$i'), 200) WHERE id = " . (100 * (1 + ($i + 25) % 50)) . ";\n";
        print $ps "DELETE FROM public.accounts WHERE id = " . ($id - 3) . ";\n" if $i >= 3;
        print $ps "UPDATE public.accounts SET id = id + 100000 WHERE id = " . ($id - 1) . ";\n" if $i % 10 == 1;
        print $ps "INSERT INTO public.nopk VALUES ($id, $val), ($id, $val);\n";
        print $ps "UPDATE public.nopk SET b = NULL WHERE a = " . (1 + $i % 1000) . ";\n";
        print $ps "DELETE FROM public.nopk WHERE a = " . ($id - 2) . ";\n" if $i >= 2;
        print $ps "INSERT INTO public.events VALUES ($id, date '2024-01-01' + $i % 365, $val);\n";
        print $ps "UPDATE public.events SET at = at + 365 WHERE id = $id;\n" if $i % 3 == 0;
        print $ps "BEGIN; TRUNCATE public.small; INSERT INTO public.small SELECT g, 't$i' FROM generate_series(1, 20) g; COMMIT;\n"
            if $i % 200 == 50;
        print $ps "INSERT INTO public.bulk SELECT $base + g, md5(g::text) FROM generate_series(1, 200000) g;\n"
            if $i == 30;
        $i++;
        sleep 0.002 if $i % 20 == 0;
    }
    close($ps);
    # _exit: the child must not run the END block that stops the clusters
    POSIX::_exit($? ? 1 : 0);
}

sub stop_workload {
    my ($pid, $stop) = @_;
    open(my $fh, '>', $stop); close($fh);
    waitpid($pid, 0);
    return $? == 0;
}

sub start_apply {
    my ($plan, $env, $log) = @_;
    my $pid = fork() // die;
    if ($pid == 0) {
        $ENV{$_} = $env->{$_} for keys %$env;
        open(STDIN, '<', '/dev/null'); open(STDOUT, '>', "$log.out"); open(STDERR, '>', $log);
        exec(pgshift_bin(), 'apply', $plan, '--yes', '--no-progress') or die;
    }
    return $pid;
}

sub q_or_empty { my ($uri, $sql) = @_; return eval { psql($uri, $sql) } // ''; }

# until(cond, seconds, pid): true when cond held in time, false when timed out or pid ended
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

sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return ''; local $/; return <$fh> // ''; }

# The gate of THIS apply (the state may still say running from a killed one).
sub at_gate {
    my ($log, $pid) = @_;
    return wait_until(sub { slurp($log) =~ /cutover gate: waiting for approval/ }, 60, $pid);
}

sub step_status {
    my ($uri, $id) = @_;
    return q_or_empty($uri, "SELECT status FROM pgshift.steps WHERE step_id = '$id'");
}

sub caught_up {
    my ($uri, $plan_name, $label) = @_;
    # the test clusters run synchronous_commit = off: one synchronous commit
    # first, so the WAL position covers every commit the workload saw acknowledged
    psql($src, "SET synchronous_commit = on; CREATE TEMP TABLE flush_wal (); DROP TABLE flush_wal");
    my $w = psql($src, "SELECT pg_current_wal_lsn()");
    ok(wait_until(sub { q_or_empty($uri, "SELECT applied_lsn >= '$w' FROM pgshift.runs WHERE plan = '$plan_name'") eq 't' }, 30),
       "$label: the applied LSN passes the source's WAL position $w");
}

sub same_tables {
    my ($uri, $label) = @_;
    my $tables = user_tables($src);
    my @diff;
    for my $t (@$tables) {
        my ($rows, $d) = compare_table($src, $uri, @$t);
        push @diff, $d if $d;
    }
    ok(@$tables >= 7 && !@diff, "$label: all " . scalar(@$tables) . " tables identical (Compare.pm)")
        or diag(scalar(@$tables) . " tables, " . scalar(@diff) . " differ:\n" . join("\n", @diff));
}

sub slot_lsn {
    my ($slot) = @_;
    return q_or_empty($src, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$slot'");
}

# ---- 1. online apply under writes, WAL released during the copy, gate, cutover
{
    my ($plan, $env, $uri) = plan_for('online1', 'online1', 1);
    # fat's copy waits before its first row while this file exists: on an
    # idle machine its 300,000 rows were copied before the slot's first
    # confirmation, and no delay per row is long enough on every machine
    my $hold = "$dir/hold1";
    open(my $hfh, '>', $hold) or die; close($hfh);
    %$env = (%$env, PGSHIFT_TEST_HOOKS => 1, PGSHIFT_TEST_COPY_HOLD => $hold,
             PGSHIFT_TEST_COPY_HOLD_STEP => 'copy:public.fat');
    my $stop = "$dir/stop1";
    my $wl = start_workload(1_000_000, $stop);
    my $pid = start_apply($plan, $env, "$dir/apply1.err");

    ok(wait_until(sub { step_status($uri, 'copy:public.fat') eq 'running' }, 30, $pid), 'copy:public.fat runs');
    my $first = slot_lsn('pgshift_online1');
    ok($first ne '', "the slot exists while fat is copied (confirmed $first)");
    my $moved = wait_until(sub {
        my $now = slot_lsn('pgshift_online1');
        $now ne '' && psql($src, "SELECT '$now'::pg_lsn > '$first'::pg_lsn") eq 't' }, 20, $pid);
    my $still = step_status($uri, 'copy:public.fat');
    unlink($hold);
    ok($moved && $still eq 'running', "the slot's confirmed_flush_lsn advances while the copy of fat still runs ($still)");

    ok(at_gate("$dir/apply1.err", $pid), 'apply reaches the manual cutover gate')
        or diag(`cat $dir/apply1.err`);
    my $r = run_pgshift($env, 'status', $plan, '--json');
    like($r->{out}, qr/"applied_lsn":"[0-9A-F]+\/[0-9A-F]+"/, 'status --json shows the applied LSN');
    like($r->{out}, qr/"lag_bytes":\d+/, 'and the lag in bytes');
    sleep 1;    # writes after catchup, applied while the run waits at the gate
    ok(stop_workload($wl, $stop), 'the workload ran without error');
    caught_up($uri, 'online1', 'gate');
    same_tables($uri, 'online, at the gate');
    my $log = slurp("$dir/apply1.err");
    like($log, qr/set REPLICA IDENTITY FULL on source table "public\.nopk"/, 'the no-PK table got REPLICA IDENTITY FULL, and apply says so');
    like($log, qr/created replication slot "pgshift_online1" on the source at [0-9A-F]+\/[0-9A-F]+, exported snapshot/, 'the slot creation is logged with its LSN');

    $r = run_pgshift($env, 'cutover', $plan);
    is($r->{rc}, 0, 'pgshift cutover approves');
    is(finish_within($pid, 300), 0, 'apply finishes after the cutover') or diag(`tail -20 $dir/apply1.err`);
    like(slurp("$dir/apply1.err"), qr/wait_for_catchup: caught up at \d+\/[0-9A-F]+/,
         'the cutover waited for catch-up to the source\'s stop position');
    is(psql($src, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgshift_online1'"), '0', 'cleanup dropped the slot');
    is(psql($src, "SELECT count(*) FROM pg_publication WHERE pubname = 'pgshift_online1'"), '0', 'and the publication');
}

# ---- 2. kill -9 during the copy, then at the gate; the resumes end identical
{
    my ($plan, $env, $uri) = plan_for('online2', 'online2', 2);
    my $stop = "$dir/stop2";
    my $wl = start_workload(2_000_000, $stop);

    # fat's copy is held before its first row, so it still runs when the
    # other worker's copies are done, however fast the machine
    my $hold = "$dir/hold2";
    open(my $hfh, '>', $hold) or die; close($hfh);
    my $pid = start_apply($plan, { %$env, PGSHIFT_TEST_HOOKS => 1, PGSHIFT_TEST_COPY_HOLD => $hold,
                                   PGSHIFT_TEST_COPY_HOLD_STEP => 'copy:public.fat' }, "$dir/apply2a.err");
    ok(wait_until(sub { step_status($uri, 'copy:public.fat') eq 'running'
                        && q_or_empty($uri, "SELECT count(*) FROM pgshift.steps WHERE step_id LIKE 'copy:%' AND status = 'done'") > 0 }, 30, $pid),
       'at least one copy is done and another runs');
    kill 'KILL', $pid; waitpid($pid, 0);

    $pid = start_apply($plan, $env, "$dir/apply2b.err");
    ok(at_gate("$dir/apply2b.err", $pid), 'the resumed apply copies again and reaches the gate')
        or diag(`tail -20 $dir/apply2b.err`);
    my $log = slurp("$dir/apply2b.err");
    like($log, qr/resume: copying again only [^;]*public\.fat[^;]*, on the snapshot \S+ of temporary slot "pgshift_online2_sync"/,
         'it copies the unfinished tables again on a temporary slot\'s snapshot');
    unlike($log, qr/created replication slot "pgshift_online2"|every table copied/, 'the slot is kept, the copy does not start over');
    sleep 1;
    kill 'KILL', $pid; waitpid($pid, 0);

    $pid = start_apply($plan, $env, "$dir/apply2c.err");
    ok(at_gate("$dir/apply2c.err", $pid), 'after kill -9 at the gate, apply resumes to the gate')
        or diag(`tail -20 $dir/apply2c.err`);
    $log = slurp("$dir/apply2c.err");
    like($log, qr/cdc: receiving changes/, 'it restarted the receiver');
    like($log, qr/cdc: applying the spooled changes/, 'and the applier');
    sleep 1;
    ok(stop_workload($wl, $stop), 'the workload ran without error');
    caught_up($uri, 'online2', 'after two kills');
    same_tables($uri, 'after two kill -9 and resumes');
    my $r = run_pgshift($env, 'cutover', $plan);
    is(finish_within($pid, 300), 0, 'the resumed apply finishes after the cutover') or diag(`tail -20 $dir/apply2c.err`);
}

done_testing();
