# Connection loss during CDC is survived (DESIGN.md §4a), end to end through
# `pgshift apply` with cdc.enabled and a write workload running:
#   1. one apply waits at its manual cutover gate while CDC replays; its
#      walsender is killed with pg_terminate_backend, then the source is
#      restarted with pg_ctl restart -m fast, then the target with -m
#      immediate. Each time the log shows the reconnect, the run goes on by
#      itself, and once the workload pauses the target is identical to the
#      source (Compare.pm); then the cutover completes (exit 0), identical.
#   2. a source that stays down longer than cdc.reconnect_for (3s) fails the
#      run with exit 1 and the documented message; once the source is back,
#      a second apply resumes to the gate, and after the cutover the target
#      is identical.
#   3. the source goes down just as the cutover starts (a Lua cutover step
#      stops it and starts it again 3 s later): wait_for_catchup opens its
#      source session again, the cutover completes, identical.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use IO::Handle;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use PgShift::Cluster;
use PgShift::Run;
use PgShift::Compare qw(user_tables compare_table);

my $c = start_clusters();
my ($src, $tgt) = ($c->{source_uri}, $c->{target_uri});
my $dir = $ENV{RECONNECT_KEEP} // tempdir(CLEANUP => 1);

psql($src, <<'SQL');
CREATE TABLE public.accounts (id int PRIMARY KEY, name text, note text);
CREATE TABLE public.nopk (a int, b text);
CREATE TABLE public.filler (id int PRIMARY KEY, pad text);
INSERT INTO public.accounts SELECT g, 'name ' || g, CASE WHEN g % 3 = 0 THEN 'null' END
  FROM generate_series(1, 3000) g;
INSERT INTO public.nopk SELECT g, 'row ' || g FROM generate_series(1, 500) g;
INSERT INTO public.filler SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g;
SQL

sub plan_for {
    my ($name, $reconnect_for, $extra_steps, $hooks) = @_;
    $extra_steps //= '';
    $hooks //= '';
    (my $uri = $tgt) =~ s{/postgres$}{/$name};
    psql($tgt, "CREATE DATABASE $name");
    my $pdir = tempdir(CLEANUP => 1);
    my $path = write_plan(<<"YAML", $pdir);
version: 1
name: $name
source:
  uri: \${SOURCE_URI}
target:
  uri: \${TARGET_URI}
copy:
  table_jobs: 2
  vacuum_analyze: false
cdc:
  enabled: true
  replica_identity: full
  max_lag: 2s
  reconnect_for: $reconnect_for
cutover:
  approval: manual
  steps:
$extra_steps    - wait_for_catchup: { timeout: 60s }
    - sync_sequences: { margin: 0 }
    - verify: { level: count }
cleanup:
  keep_state: true
$hooks
YAML
    return ($path, { SOURCE_URI => $src, TARGET_URI => $uri }, $uri);
}

# The workload: statements fed to a psql session until $stop exists, each
# its own transaction; a session lost to a restart is opened again (what
# was in flight is lost on the source too, so source and target still agree).
sub start_workload {
    my ($base, $stop) = @_;
    my $pid = fork() // die;
    return $pid if $pid;
    $SIG{PIPE} = 'IGNORE';
    open(STDOUT, '>', '/dev/null');
    open(STDERR, '>', '/dev/null');
    my $i = 0;
    while (!-e $stop) {
        open(my $ps, '|-', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $src) or do { sleep 0.2; next };
        $ps->autoflush(1);
        while (!-e $stop) {
            my $id = $base + $i;
            my $sql = "INSERT INTO public.accounts VALUES ($id, 'w$i', NULL);\n"
                . "UPDATE public.accounts SET note = 'n$i' WHERE id = " . (1 + ($i * 7) % 3000) . ";\n"
                . ($i >= 3 ? "DELETE FROM public.accounts WHERE id = " . ($id - 3) . ";\n" : '')
                . "INSERT INTO public.nopk VALUES ($id, 'w$i');\n"
                . "UPDATE public.nopk SET b = 'u$i' WHERE a = " . (1 + $i % 500) . ";\n";
            $i++;
            last unless print $ps $sql;
            sleep 0.01;
        }
        close($ps);
        sleep 0.2;
    }
    POSIX::_exit(0);
}

sub stop_workload {
    my ($pid, $stop) = @_;
    open(my $fh, '>', $stop); close($fh);
    waitpid($pid, 0);
    unlink $stop;
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

sub count_in { my ($f, $re) = @_; my $n = () = slurp($f) =~ /$re/g; return $n; }

# Waits for the log to hold more matches of $re than $before.
sub logged_again {
    my ($log, $re, $before, $pid) = @_;
    return wait_until(sub { count_in($log, $re) > $before }, 60, $pid);
}

sub caught_up {
    my ($uri, $name, $label) = @_;
    # the clusters run synchronous_commit = off: one synchronous commit makes
    # the WAL position cover every commit the workload saw acknowledged
    psql($src, "SET synchronous_commit = on; CREATE TEMP TABLE flush_wal (); DROP TABLE flush_wal");
    my $w = psql($src, "SELECT pg_current_wal_lsn()");
    ok(wait_until(sub { q_or_empty($uri, "SELECT applied_lsn >= '$w' FROM pgshift.runs WHERE plan = '$name'") eq 't' }, 60),
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
    ok(@$tables == 3 && !@diff, "$label: all " . scalar(@$tables) . " tables identical (Compare.pm)")
        or diag(join("\n", @diff));
}

sub rows_of { my ($uri) = @_; return q_or_empty($uri, "SELECT count(*) FROM public.nopk"); }

my $recv_re = qr/the CDC receiver of replication slot "pgshift_recon1" reconnected after/;
my $appl_re = qr/the CDC applier reconnected after/;
my $lock_re = qr/state: the advisory lock of plan "recon1" is held again/;

# ---- 1. walsender killed, source restarted, target restarted: the run rides it out
{
    my ($plan, $env, $uri) = plan_for('recon1', '60s');
    my $log = "$dir/apply1.err";
    my $stop = "$dir/stop1";
    my $wl = start_workload(1_000_000, $stop);
    my $pid = start_apply($plan, $env, $log);
    ok(wait_until(sub { slurp($log) =~ /cutover gate: waiting for approval/ }, 90, $pid),
       'apply reaches the manual cutover gate under writes') or diag(slurp($log));

    # (a) the walsender is terminated
    my $before = count_in($log, $recv_re);
    is(psql($src, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
               . " WHERE backend_type = 'walsender' AND application_name = 'pgshift cdc.stream'"),
       '1', 'the walsender of the receiver is terminated');
    ok(logged_again($log, $recv_re, $before, $pid), 'the receiver reconnects by itself')
        or diag(slurp($log));
    like(slurp($log), qr/the CDC receiver of replication slot "pgshift_recon1": .*terminating connection due to administrator command.*; reconnect attempt 1 in [\d.]+ s/,
         'the log says what was lost, the attempt and when the next try is');
    sleep 1;
    stop_workload($wl, $stop);
    caught_up($uri, 'recon1', 'after the walsender was killed');
    same_tables($uri, 'after the walsender was killed');

    # (b) the source restarts (fast shutdown)
    $wl = start_workload(2_000_000, $stop);
    sleep 1;
    $before = count_in($log, $recv_re);
    my $rows = rows_of($src);
    ok(pg_ctl_cluster($c, 'source', 'restart', 'fast'), 'pg_ctl restart -m fast of the source');
    ok(logged_again($log, $recv_re, $before, $pid), 'the receiver reconnects after the source restart')
        or diag(slurp($log));
    ok(wait_until(sub { (rows_of($src) || 0) > $rows + 10 }, 30), 'the workload writes again after the restart');
    sleep 1;
    stop_workload($wl, $stop);
    caught_up($uri, 'recon1', 'after the source restart');
    same_tables($uri, 'after the source restart');

    # (c) the target restarts (immediate: a crash)
    $wl = start_workload(3_000_000, $stop);
    sleep 1;
    my $abefore = count_in($log, $appl_re);
    my $lbefore = count_in($log, $lock_re);
    ok(pg_ctl_cluster($c, 'target', 'restart', 'immediate'), 'pg_ctl restart -m immediate of the target');
    ok(logged_again($log, $appl_re, $abefore, $pid), 'the applier reconnects after the target restart')
        or diag(slurp($log));
    ok(logged_again($log, $lock_re, $lbefore, $pid), 'the state session takes the plan\'s advisory lock again')
        or diag(slurp($log));
    sleep 1;
    stop_workload($wl, $stop);
    caught_up($uri, 'recon1', 'after the target restart');
    same_tables($uri, 'after the target restart');
    is(q_or_empty($uri, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"), '1',
       'the lock is held again on the target');

    ok(waitpid($pid, 1) == 0, 'apply is still running at the gate');
    my $r = run_pgshift($env, 'cutover', $plan);
    is($r->{rc}, 0, 'pgshift cutover approves');
    is(finish_within($pid, 300), 0, 'apply completes the cutover and exits 0') or diag(slurp($log));
    like(slurp($log), qr/wait_for_catchup: caught up at/, 'the cutover waited for the stop position');
    same_tables($uri, 'after the cutover');
}

# ---- 2. the source stays down longer than cdc.reconnect_for: exit 1, then resume
{
    my ($plan, $env, $uri) = plan_for('recon2', '3s');
    my $log = "$dir/apply2.err";
    my $stop = "$dir/stop2";
    my $wl = start_workload(4_000_000, $stop);
    my $pid = start_apply($plan, $env, $log);
    ok(wait_until(sub { slurp($log) =~ /cutover gate: waiting for approval/ }, 90, $pid),
       'apply reaches the gate') or diag(slurp($log));
    stop_workload($wl, $stop);
    my $t0 = time;
    ok(pg_ctl_cluster($c, 'source', 'stop', 'fast'), 'the source is stopped');
    my $ended = wait_until(sub { waitpid($pid, 1) == $pid }, 60);
    my $rc = $? >> 8;
    ok($ended, sprintf('apply gives up %.0f s after the source went down', time - $t0));
    is($rc, 1, 'and exits 1');
    my $out = slurp($log);
    like($out, qr/the CDC receiver of replication slot "pgshift_recon2" could not reconnect for 3s \(cdc\.reconnect_for\), \d+ attempts: /,
         'the message says what could not reconnect, and for how long');
    like($out, qr/once the server is reachable again, run pgshift apply \Q$plan\E again: it resumes from the spool's durable LSN/,
         'and how to resume');
    like($out, qr/reconnect attempt 2 in/, 'it tried more than once before giving up');

    ok(pg_ctl_cluster($c, 'source', 'start'), 'the source is back');
    psql($src, "INSERT INTO public.accounts SELECT g, 'late', NULL FROM generate_series(5000001, 5000100) g");
    $pid = start_apply($plan, $env, "$dir/apply2b.err");
    ok(wait_until(sub { slurp("$dir/apply2b.err") =~ /cutover gate: waiting for approval/ }, 90, $pid),
       'a second apply resumes to the gate') or diag(slurp("$dir/apply2b.err"));
    like(slurp("$dir/apply2b.err"), qr/resuming run/, 'it resumed the run');
    my $r = run_pgshift($env, 'cutover', $plan);
    is(finish_within($pid, 300), 0, 'the resumed apply completes the cutover') or diag(slurp("$dir/apply2b.err"));
    same_tables($uri, 'after the resume');
}

# ---- 3. the source is down when the cutover's wait_for_catchup starts
{
    my $hook = "$dir/stop_source.lua";
    my $ctl = "$FindBin::Bin/../lib/pg_clusters.sh ctl $c->{dir} source";
    open(my $fh, '>', $hook) or die;
    print $fh <<"LUA";
-- stops the source, and starts it again 3 s later in the background
return function(event, ctx)
  local rc, out = pgshift.exec("$ctl stop fast")
  if rc ~= 0 then return false, "could not stop the source: " .. out end
  pgshift.exec("(sleep 3; $ctl start) >/dev/null 2>&1 &")
  return true
end
LUA
    close($fh);
    my ($plan, $env, $uri) = plan_for('recon3', '60s', "    - lua: $hook\n",
                                      "hooks:\n  allow_shell: true\n  timeout: 30s\n");
    my $log = "$dir/apply3.err";
    my $stop = "$dir/stop3";
    my $wl = start_workload(6_000_000, $stop);
    my $pid = start_apply($plan, $env, $log);
    ok(wait_until(sub { slurp($log) =~ /cutover gate: waiting for approval/ }, 90, $pid),
       'apply reaches the gate') or diag(slurp($log));
    sleep 1;
    stop_workload($wl, $stop);
    my $r = run_pgshift($env, 'cutover', $plan);
    is(finish_within($pid, 300), 0, 'the cutover completes although the source was down when it began')
        or diag(slurp($log));
    like(slurp($log), qr/wait_for_catchup: could not connect to the source .*; reconnect attempt 1 in/,
         'wait_for_catchup found the source down and tried again');
    like(slurp($log), qr/wait_for_catchup reconnected after/, 'and got its session back');
    same_tables($uri, 'after a cutover that began with the source down');
}

done_testing();
