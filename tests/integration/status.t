# pgshift status and pgshift cutover on a real target. The run state is
# seeded by tests/pg/test_state.c (`test_state seed PLAN`, through the state
# API apply uses), then the commands are checked as an operator sees them:
# text and JSON output, exit codes, approval while an apply holds the lock,
# --watch redrawing until interrupted, and the password kept out of output.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep);
use PgShift::Cluster;
use PgShift::Run;

my $seed_bin = "$FindBin::Bin/../../build/pgtest/test_state";
plan skip_all => "$seed_bin is not built (make check builds it)" unless -x $seed_bin;

my $c = start_clusters();
my $dst = $c->{target_uri};
# trust authentication ignores the password; it is there to prove it is never printed
(my $dst_pw = $dst) =~ s{postgresql://postgres@}{postgresql://postgres:s3cret-pw\@};
my %env = (SOURCE_URI => $c->{source_uri}, TARGET_URI => $dst_pw);

my $plan = write_plan(<<'YAML');
version: 1
name: status_demo
source: { uri: "${SOURCE_URI}" }
target: { uri: "${TARGET_URI}" }
YAML

# --- usage errors come before any connection ---
for my $bad ('0', 'abc', '1.5', '') {
    my $r = run_pgshift(\%env, 'status', $plan, '--watch', $bad);
    is($r->{rc}, 3, "status --watch '$bad' is a usage error (exit 3)");
}
like(run_pgshift(\%env, 'status', $plan, '--watch', '0')->{err},
     qr/--watch needs a whole number of seconds/, '--watch 0 says what it needs');

# --- no run yet (no schema pgshift on the target) ---
my $r = run_pgshift(\%env, 'status', $plan);
is($r->{rc}, 1, 'status without a run exits 1');
like($r->{err}, qr/no run of plan status_demo on the target/, 'status says there is no run');
is($r->{out}, '', 'status without a run prints nothing on stdout');
$r = run_pgshift(\%env, 'status', $plan, '--json');
is($r->{rc}, 1, 'status --json without a run exits 1');
$r = run_pgshift(\%env, 'cutover', $plan);
is($r->{rc}, 1, 'cutover without a run exits 1');
like($r->{err}, qr/no run of plan status_demo on the target .*no cutover to approve/,
     'cutover says there is no run to approve');
unlike($r->{err}, qr/s3cret-pw/, 'the password is not printed');

# --- a run with steps in every status ---
my $run_id = do { local %ENV = (%ENV, TARGET_URI => $dst); `$seed_bin seed status_demo` };
chomp $run_id;
like($run_id, qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
     'the seeded run has a UUID v4 run id');
psql($dst, "UPDATE pgshift.runs SET applied_lsn = '0/5000100',"
         . " applied_commit_at = now() - interval '3 seconds' WHERE plan = 'status_demo'");

$r = run_pgshift(\%env, 'status', $plan);
is($r->{rc}, 0, 'status exits 0');
my $out = $r->{out};
like($out, qr/^run\s+\Q$run_id\E$/m, 'text: run id');
like($out, qr/^status\s+interrupted \(no apply is running; "pgshift apply \Q$plan\E" resumes it\)$/m,
     'text: a running row that no process holds the lock of is interrupted, with how to resume');
like($out, qr/^started\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/m, 'text: start time');
like($out, qr/^cutover\s+not approved \(the next apply asks at the gate\)$/m,
     'text: not approved, and a dead run is asked again at the gate');
{
    my $auto = write_plan(<<'YAML');
version: 1
name: status_demo
source: { uri: "${SOURCE_URI}" }
target: { uri: "${TARGET_URI}" }
cutover: { approval: auto }
YAML
    like(run_pgshift(\%env, 'status', $auto)->{out}, qr/^cutover\s+automatic \(cutover\.approval: auto\)$/m,
         'text: a plan with approval auto says the cutover is automatic, not "not approved"');
}
like($out, qr/^cdc\s+source 0\/5000600, received 0\/5000400, applied 0\/5000100, lag 1\.2 kB \(\d+ s\) = receive 512 B \+ apply 768 B$/m,
     'text: source, received and applied LSN; lag = source - applied, split into receive and apply lag');
like($out, qr/^\s+preflight\s+done\s+1\s+0\s+0 B\s+\d+s$/m, 'text: a done step');
like($out, qr/^\s+copy:public\.items\s+running\s+1\s+500\s+1\.0 MB \/ 2\.0 MB\s+\d+s$/m,
     'text: a running step with bytes of total');
like($out, qr/^\s+index:public\.orders_pkey\s+failed\s+1\s+0\s.*\n\s+error: could not create index: boom$/m,
     'text: a failed step and its error');
like($out, qr/^\s+snapshot\s+pending\s+0\s+0\s+-\s+-$/m, 'text: a DAG step not started is pending');
like($out, qr/^\s+copy\s+1\s+1\s+0\s+0$/m, 'text: stage counts for copy');
like($out, qr/^\s+index\s+0\s+0\s+1\s+0$/m, 'text: stage counts for index');
like($out, qr/^\s+vacuum\s+not started$/m, 'text: a stage with no step yet');
like($out, qr/postgres:\*\*\*\@127\.0\.0\.1/, 'text: the target is shown redacted');
unlike($out . $r->{err}, qr/s3cret-pw/, 'text: the password is never printed');
my @stages = $out =~ /^  (preflight|snapshot|schema|copy|index|constraint|vacuum|cdc|cutover|cleanup) +(?:\d|not)/mg;
is("@stages", 'preflight snapshot schema copy index constraint vacuum cdc cutover cleanup',
   'text: stages in the order of the DAG');

# --- JSON ---
$r = run_pgshift(\%env, 'status', $plan, '--json');
is($r->{rc}, 0, 'status --json exits 0');
is(scalar(() = $r->{out} =~ /\n/g), 1, 'status --json prints one line');
my $j = eval { decode_json($r->{out}) };
ok($j, 'status --json is valid JSON') or diag($@, $r->{out});
is_deeply([sort keys %$j],
          [sort qw(plan run_id plan_sha256 status started_at updated_at finished_at approved
                   approved_at approved_by fenced source_lsn received_lsn applied_lsn lag_bytes
                   receive_lag_bytes apply_lag_bytes lag_seconds cdc_ended
                   error stages steps live paused_at)], 'json: the documented keys');
is($j->{plan}, 'status_demo', 'json: plan');
is($j->{run_id}, $run_id, 'json: run_id');
is($j->{status}, 'interrupted', 'json: status of a run no process holds');
ok(JSON::PP::is_bool($j->{live}) && !$j->{live}, 'json: not live');
like($j->{started_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'json: started_at in UTC');
is($j->{finished_at}, undef, 'json: finished_at null');
ok(!$j->{approved}, 'json: not approved');
ok(JSON::PP::is_bool($j->{approved}) && JSON::PP::is_bool($j->{fenced}), 'json: booleans');
is($j->{received_lsn}, '0/5000400', 'json: received_lsn');
is($j->{applied_lsn}, '0/5000100', 'json: applied_lsn');
is($j->{source_lsn}, '0/5000600', 'json: source_lsn');
is($j->{lag_bytes}, 0x5000600 - 0x5000100, 'json: lag_bytes = source - applied');
is($j->{receive_lag_bytes}, 0x5000600 - 0x5000400, 'json: receive_lag_bytes = source - received');
is($j->{apply_lag_bytes}, 0x5000400 - 0x5000100, 'json: apply_lag_bytes = received - applied');
cmp_ok($j->{lag_seconds}, '>=', 3, 'json: lag_seconds from the last applied commit');
my %step = map { $_->{id} => $_ } @{ $j->{steps} };
is_deeply([sort keys %{ $step{'copy:public.items'} }],
          [sort qw(id stage status attempts rows bytes total_bytes started_at finished_at error)],
          'json: the documented step keys');
is_deeply({ map { $_ => $step{'copy:public.items'}{$_} } qw(stage status attempts rows bytes total_bytes) },
          { stage => 'copy', status => 'running', attempts => 1, rows => 500,
            bytes => 1048576, total_bytes => 2097152 }, 'json: a running copy step');
is($step{'copy:public.orders'}{status}, 'done', 'json: a done step');
is($step{'index:public.orders_pkey'}{error}, 'could not create index: boom', 'json: a step error');
is($step{'index:public.orders_pkey'}{stage}, 'index', 'json: the stage of a step');
is($step{'cutover.gate'}{status}, 'pending', 'json: the gate is pending');
my ($copy) = grep { $_->{stage} eq 'copy' } @{ $j->{stages} };
is_deeply($copy, { stage => 'copy', done => 1, running => 1, failed => 0, pending => 0 },
          'json: stage counts');

# --- cutover, from "another machine" while an apply holds the plan's lock ---
my $holder = fork() // die "fork: $!";
if ($holder == 0) {
    open(STDOUT, '>', '/dev/null');
    exec('psql', '-X', '-q', '-d', $dst,
         '-c', "SELECT pg_advisory_lock(hashtextextended('pgshift:status_demo', 0))",
         '-c', 'SELECT pg_sleep(60)') or POSIX::_exit(1);
}
my $held = 0;
for (1 .. 50) {
    $held = psql($dst, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted");
    last if $held;
    sleep 0.1;
}
ok($held, 'a session holds the plan lock, as a running apply would');
like(run_pgshift(\%env, 'status', $plan)->{out}, qr/^status\s+running$/m,
     'text: the run is running while its lock is held');
$r = run_pgshift(\%env, 'cutover', $plan);
is($r->{rc}, 1, 'cutover exits 1 while the live apply is not at the gate');
like($r->{err}, qr/the apply of plan status_demo \(run \Q$run_id\E\) is not waiting at the cutover gate; nothing was approved/,
     'cutover says the apply is not at the gate');
is(psql($dst, "SELECT approved_at IS NULL FROM pgshift.runs WHERE plan = 'status_demo'"), 't',
   'nothing was approved');
# the holder's session is now the one waiting at the gate, as the gate step records it
psql($dst, "UPDATE pgshift.runs SET gate_pid = (SELECT pid FROM pg_locks WHERE locktype = 'advisory'"
         . " AND granted LIMIT 1) WHERE plan = 'status_demo'");
$r = run_pgshift(\%env, 'cutover', $plan);
is($r->{rc}, 0, 'cutover exits 0 while the apply waits at the gate');
like($r->{out}, qr/^approved the cutover of plan status_demo \(run \Q$run_id\E, running\) on \S*\*\*\*\S* as postgres at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/m,
     'cutover says what it approved, with the target redacted');
unlike($r->{out} . $r->{err}, qr/s3cret-pw/, 'cutover never prints the password');
$r = run_pgshift(\%env, 'cutover', $plan);
is($r->{rc}, 0, 'a second cutover exits 0');
like($r->{out}, qr/was already approved at .* by postgres; nothing changed/,
     'a second cutover says it was approved already');
kill 'TERM', $holder;
waitpid($holder, 0);
$j = decode_json(run_pgshift(\%env, 'status', $plan, '--json')->{out});
ok($j->{approved} && $j->{approved_by} eq 'postgres' && $j->{approved_at},
   'status shows the approval');
like(run_pgshift(\%env, 'status', $plan)->{out}, qr/^cutover\s+approved \d{4}-.* UTC by postgres$/m,
     'text status shows the approval');

# --- --watch redraws until interrupted ---
{
    my ($ofh, $opath) = File::Temp::tempfile(UNLINK => 1);
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        $ENV{$_} = $env{$_} for keys %env;
        open(STDOUT, '>&', $ofh);
        open(STDERR, '>', '/dev/null');
        exec(pgshift_bin(), 'status', $plan, '--watch', '1') or POSIX::_exit(99);
    }
    sleep 2.5;
    kill 'INT', $pid;
    waitpid($pid, 0);
    is($? >> 8, 0, 'status --watch exits 0 when interrupted');
    open(my $fh, '<', $opath); local $/; my $w = <$fh> // ''; close $fh;
    cmp_ok(scalar(() = $w =~ /^run\s+\Q$run_id\E$/mg), '>=', 2, '--watch redrew the status');
    unlike($w, qr/\e\[/, '--watch does not clear the screen when stdout is not a terminal');
}

# --- --watch on a terminal: a compact view that fits, however many steps ---
{
    psql($dst, "INSERT INTO pgshift.steps (plan, step_id, status, attempts, rows, bytes, started_at, updated_at)"
             . " SELECT 'status_demo', 'index:public.many_' || g || '_idx', 'running', 1, 0, 0, now(), now()"
             . " FROM generate_series(1, 60) g");
    my $screen = File::Temp::tempdir(CLEANUP => 1) . '/watch';
    local $ENV{SOURCE_URI} = $env{SOURCE_URI};
    local $ENV{TARGET_URI} = $env{TARGET_URI};
    system('python3', "$FindBin::Bin/../lib/pty_run.py", 80, 24, $screen,
           'timeout', '-s', 'INT', '3', pgshift_bin(), 'status', $plan, '--watch', '1');
    open(my $fh, '<', $screen); local $/; my $w = <$fh> // ''; close $fh;
    my @frames = grep { /\S/ } split /\e\[H\e\[2J/, $w;
    cmp_ok(scalar @frames, '>=', 2, 'watch on a terminal: the screen is cleared and redrawn');
    my @tall = grep { scalar(() = /\n/g) > 23 } @frames;
    is(scalar @tall, 0, 'watch on a terminal: every frame fits 24 lines') or diag($frames[0]);
    my @wide = grep { length($_) > 79 } map { split /\r?\n/ } @frames;
    is(scalar @wide, 0, 'watch on a terminal: no line wider than the terminal') or diag(join "\n", @wide);
    like($frames[-1], qr/^stages\s+preflight 1\/1,(?:.*\n)*?.*\bindex \d+\/\d+ \(\d+ running, 1 failed\)/m,
         'watch: totals per stage, wrapped to the width');
    like($frames[-1], qr/\.\.\. and \d+ more running or failed/, 'watch: how many steps did not fit');
    like($frames[-1], qr/^  index:public\.many_\d+_idx\s+running/m, 'watch: running steps are listed');
    psql($dst, "DELETE FROM pgshift.steps WHERE plan = 'status_demo' AND step_id LIKE 'index:public.many_%'");
}

# --- a finished run ---
psql($dst, "UPDATE pgshift.runs SET status = 'finished', finished_at = now() WHERE plan = 'status_demo'");
$j = decode_json(run_pgshift(\%env, 'status', $plan, '--json')->{out});
is($j->{status}, 'finished', 'json: a finished run');
ok($j->{finished_at}, 'json: finished_at set');

# --- after cleanup dropped the state: done, not "no run" ---
# the "running apply" ends: its session goes, and the plan's lock with it
psql($dst, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted");
waitpid($holder, 0);
for (1 .. 50) {
    last unless psql($dst, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'");
    sleep 0.1;
}
# what apply's schema.pre records, as pgshift.manifest holds it
psql($dst, "INSERT INTO pgshift.manifest (plan, classid, objid, kind, schema_name, identity)"
         . " VALUES ('status_demo', 'pg_class'::regclass, 1, 'table', 'public', 'public.t1'),"
         . " ('status_demo', 'pg_class'::regclass, 2, 'table', 'public', 'public.t2')");
$r = run_pgshift(\%env, 'cleanup', $plan);
is($r->{rc}, 0, 'cleanup of the finished run: exit 0') or diag($r->{err});
$r = run_pgshift(\%env, 'status', $plan);
is($r->{rc}, 0, 'status after cleanup dropped the state: exit 0') or diag($r->{err});
like($r->{out}, qr/^plan status_demo: no run on the target \(.*\): cleanup dropped its state .*the 2 objects it created stay recorded for "pgshift reset"$/m,
     'status says cleanup dropped the state, and what reset would drop');
unlike($r->{out} . $r->{err}, qr/starts one|s3cret-pw/, 'no advice to start a run, no password');
$j = decode_json(run_pgshift(\%env, 'status', $plan, '--json')->{out});
is_deeply($j, {plan => 'status_demo', state_dropped => JSON::PP::true, created_objects => 2},
          'json: state_dropped and the objects recorded');

done_testing();
