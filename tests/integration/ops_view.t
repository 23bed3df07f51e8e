# What an operator watching a long apply sees (issue "operating a multi-day
# migration"), on real servers:
#   1. the live view on a terminal (a pseudo-terminal of 100x30): redrawn in
#      place, no line wider than the terminal, full stage/step counts, the
#      gate's instruction, no byte counts on steps that move no bytes;
#   2. `pgshift status --json` from another shell shows a running copy's
#      bytes and rows while it runs (recorded about once a second);
#   3. `--metrics-listen`: the Prometheus endpoint scraped while copying
#      (copy bytes grow) and at the gate (CDC positions, an applied LSN that
#      moves with source writes), gone once apply exits; bad or busy
#      addresses are usage errors (exit 3) before anything is written.
# The copy is slowed by the test-only PGSHIFT_TEST_COPY_DELAY_US hook so it
# can be watched.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use PgShift::Cluster;
use PgShift::Run qw(:DEFAULT start_pgshift wait_until slurp);

my $c = start_clusters();
my ($src, $tgt) = ($c->{source_uri}, $c->{target_uri});
my $dir = tempdir(CLEANUP => 1);

psql($src, <<'SQL');
CREATE TABLE public.slow (id int PRIMARY KEY, v text);
CREATE TABLE public.quick (id serial PRIMARY KEY, v text);
INSERT INTO public.slow SELECT g, repeat('x', 200) FROM generate_series(1, 3000) g;
INSERT INTO public.quick (v) SELECT 'q' || g FROM generate_series(1, 10) g;
ANALYZE;
SQL

my $plan = write_plan(<<'YAML', $dir);
version: 1
name: ops_view
source: { uri: "${SOURCE_URI}" }
target: { uri: "${TARGET_URI}" }
copy: { table_jobs: 1, vacuum_analyze: false }
cdc: { enabled: true, replica_identity: full }
cutover:
  approval: manual
  steps:
    - wait_for_catchup: { timeout: 60s }
    - sync_sequences: { margin: 0 }
YAML
my %env = (SOURCE_URI => $src, TARGET_URI => $tgt);

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0) or die;
    my $p = $s->sockport;
    close $s;
    return $p;
}

# --- usage errors, before anything is written ---
my $r = run_pgshift(\%env, 'apply', $plan, '--yes', '--metrics-listen', 'localhost');
is($r->{rc}, 3, '--metrics-listen without a port is a usage error');
like($r->{err}, qr/invalid --metrics-listen "localhost": expected ADDR:PORT/, 'and says what it expects');
my $busy = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0) or die;
$r = run_pgshift(\%env, 'apply', $plan, '--yes', '--metrics-listen', '127.0.0.1:' . $busy->sockport);
is($r->{rc}, 3, 'a port in use is a usage error');
like($r->{err}, qr/could not listen on 127\.0\.0\.1:\d+ for --metrics-listen: Address already in use/,
     'naming the address and the reason');
close $busy;
is(psql($tgt, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgshift'"), '0',
   'nothing was written to the target');

# --- the confirmation on a terminal names both servers; "n" changes nothing ---
{
    local $ENV{PTY_PROMPT} = 'Proceed? [y/N]';
    local $ENV{PTY_ANSWER} = 'n';
    local $ENV{SOURCE_URI} = $src;
    local $ENV{TARGET_URI} = $tgt;
    system('python3', "$FindBin::Bin/../lib/pty_run.py", 100, 30, "$dir/confirm",
           pgshift_bin(), 'apply', $plan);
    is($? >> 8, 1, 'declining the confirmation exits 1');
    my $q = slurp("$dir/confirm");
    like($q, qr/from the source database "postgres" on 127\.0\.0\.1:\d+\s+into the target database "postgres" on 127\.0\.0\.1:\d+\./,
         'the confirmation names the database, host and port of both servers') or diag($q);
    like($q, qr/nothing was changed/, 'and says nothing was changed');
    is(psql($tgt, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgshift'"), '0',
       'declined: nothing written to the target');
}

# --- the run, on a pseudo-terminal ---
my $port = free_port();
my $screen = "$dir/screen";
my $pid = fork() // die;
if ($pid == 0) {
    $ENV{$_} = $env{$_} for keys %env;
    $ENV{PGSHIFT_TEST_HOOKS} = '1';
    $ENV{PGSHIFT_TEST_COPY_DELAY_US} = '1500';
    exec('python3', "$FindBin::Bin/../lib/pty_run.py", 100, 30, $screen,
         pgshift_bin(), 'apply', $plan, '--yes', '--metrics-listen', "127.0.0.1:$port") or die;
}
my $http = HTTP::Tiny->new(timeout => 5);
sub scrape {
    my $res = $http->get("http://127.0.0.1:$port/metrics");
    return $res->{success} ? $res->{content} : '';
}
sub metric {
    my ($text, $name) = @_;
    return $text =~ /^\Q$name\E (\S+)$/m ? $1 : undef;
}

# 2. status from another shell while the slow copy runs
my ($running_bytes, $running_rows) = (0, 0);
ok(wait_until(sub {
    my $s = run_pgshift(\%env, 'status', $plan, '--json');
    return 0 if $s->{rc} != 0;
    my $j = eval { decode_json($s->{out}) } or return 0;
    for my $st (@{ $j->{steps} }) {
        next unless $st->{id} eq 'copy:public.slow' && $st->{status} eq 'running' && $st->{bytes} > 0;
        ($running_bytes, $running_rows) = ($st->{bytes}, $st->{rows});
        return 1;
    }
    return 0;
}, 90, $pid), 'status --json shows the running copy with the bytes it moved so far');
cmp_ok($running_rows, '>', 0, "and its rows so far ($running_rows)");
cmp_ok($running_bytes, '<', 3000 * 200, "bytes of a copy still running ($running_bytes)");
like(run_pgshift(\%env, 'status', $plan)->{out}, qr/^cutover\s+not approved \(the run has not reached the gate yet\)$/m,
     'status of a live run before the gate says it has not reached it');

# 3a. metrics while copying
my $m1 = scrape();
like($m1, qr/^# TYPE pgshift_copy_bytes_total counter$/m, 'metrics: copy bytes is a counter');
like($m1, qr/^pgshift_steps\{stage="copy",state="running"\} 1$/m, 'metrics: the copy running');
like($m1, qr/^pgshift_run_info\{plan="ops_view",run_id="[0-9a-f-]{36}"\} 1$/m, 'metrics: plan and run id');
my $b1 = metric($m1, 'pgshift_copy_bytes_total') // 0;
ok(wait_until(sub { (metric(scrape(), 'pgshift_copy_bytes_total') // 0) > $b1 }, 30, $pid),
   "metrics: copy bytes grow while copying (from $b1)");
my $nf = $http->get("http://127.0.0.1:$port/other");
is($nf->{status}, 404, 'metrics: another path is 404');

# at the gate
ok(wait_until(sub { slurp($screen) =~ /cutover gate: waiting for approval; run "pgshift cutover \Q$plan\E" to continue/ }, 120, $pid),
   'live view: the gate says which command approves it');
my $m2 = scrape();
like($m2, qr/^pgshift_steps\{stage="cutover",state="running"\} 1$/m, 'metrics: the gate step running');
is(metric($m2, 'pgshift_cdc_receiving'), '1', 'metrics: receiving');
ok(defined metric($m2, 'pgshift_cdc_lag_bytes'), 'metrics: lag known once the source position was read')
    or diag($m2);
my $a1 = metric($m2, 'pgshift_cdc_applied_lsn');
psql($src, "INSERT INTO public.quick (v) SELECT 'late' || g FROM generate_series(1, 500) g");
ok(wait_until(sub { (metric(scrape(), 'pgshift_cdc_applied_lsn') // 0) > $a1 }, 60, $pid),
   'metrics: the applied LSN moves with writes on the source');
like(scrape(), qr/^pgshift_copy_bytes_total [1-9]\d*$/m, 'metrics: bytes copied by the run');

# what README's table and the Grafana example name is what the endpoint serves
my %served = map { $_ => 1 } $m2 =~ /^# TYPE (\S+) /mg;
my $readme = slurp("$FindBin::Bin/../../README.md");
my ($table) = $readme =~ /\n### Metrics\n(.*?)\n### /s;
my @documented = ($table // '') =~ /`(pgshift_[a-z_]+)/g;
cmp_ok(scalar @documented, '>=', 15, 'README lists the metric families');
is_deeply([grep { !$served{$_} } @documented], [], 'every family README lists is served');
is_deeply([grep { my $f = $_; !grep { $_ eq $f } @documented } sort keys %served], [],
          'every family served is in README');
my $dash = decode_json(slurp("$FindBin::Bin/../../examples/grafana/pgshift-dashboard.json"));
my @used = map { $_->{expr} =~ /(pgshift_[a-z_]+)/g } map { @{ $_->{targets} } } @{ $dash->{panels} };
cmp_ok(scalar @used, '>=', 6, 'the Grafana example queries the metrics');
is_deeply([grep { !$served{$_} } @used], [], 'every metric the Grafana example queries is served');

$r = run_pgshift(\%env, 'cutover', $plan);
is($r->{rc}, 0, 'cutover approves');
waitpid($pid, 0);
is($? >> 8, 0, 'apply finished (exit 0)');
ok(!IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 2), 'the metrics port is closed after apply');
is(psql($tgt, 'SELECT count(*) FROM public.quick'), '510', 'the late rows were applied');

# 1. the live view as the terminal got it
my $raw = slurp($screen);
like($raw, qr/\r\e\[\d+A\e\[J/, 'live view: each frame redraws over the last (cursor up, erase)');
(my $text = $raw) =~ s/\e\[[0-9;]*[A-Za-z]//g;
my @lines = split /\r?\n|\r/, $text;
# log lines are printed above the frame (they may wrap: the redraw does not move over them)
my @wide = grep { length($_) > 99 && !/^pgshift: / } @lines;
is(scalar @wide, 0, "live view: no line of the frame is wider than the terminal") or diag(join("\n", @wide));
my ($total) = $text =~ /steps: \d+ of (\d+) done/;
ok($total, "live view: steps done of total ($total)");
like($text, qr/steps: $total of $total done, 0 running/, 'live view: the last frame counts every step done');
like($text, qr/^  copy:public\.slow\s+[\d.]+ [kM]?B \/ [\d.]+ [kM]?B, \d+ rows/m,
     'live view: a running copy shows bytes and rows');
unlike($text, qr/^  (?!copy:)\S+\s+0 B \/ 0 B/m, 'live view: steps that move no bytes show no byte counts');
like($text, qr/^pgshift: cutover gate: waiting for approval/m, 'live view: log lines still reach the terminal');
like($text, qr/cdc: stopped; applied up to [0-9A-F]+\/[0-9A-F]+/, 'live view: CDC stopped at the end, with where');

# 4. --log-format json: every line is one JSON object; lines of a step name
# the run, the step and its table, with rows/bytes/LSN where they apply
psql($tgt, 'CREATE DATABASE opsjson');
(my $tgt2 = $tgt) =~ s{/postgres$}{/opsjson};
my $plan2 = write_plan(<<'YAML', tempdir(CLEANUP => 1));
version: 1
name: ops_json
source: { uri: "${SOURCE_URI}" }
target: { uri: "${TARGET_URI}" }
copy: { vacuum_analyze: false }
cdc: { enabled: true, replica_identity: full }
cutover:
  approval: auto
  steps:
    - wait_for_catchup: { timeout: 60s }
YAML
$r = run_pgshift({ SOURCE_URI => $src, TARGET_URI => $tgt2 }, '--log-format', 'json', 'apply', $plan2, '--yes');
is($r->{rc}, 0, 'json: apply finished') or diag($r->{err});
my @json = map { my $l = $_; [$l, eval { decode_json($l) }] } split /\n/, $r->{err};
is_deeply([map { $_->[0] } grep { !$_->[1] } @json], [], 'json: every line parses as JSON');
my @objs = map { $_->[1] } grep { $_->[1] } @json;
my ($run_id) = map { $_->{run_id} } grep { $_->{run_id} } @objs;
like($run_id // '', qr/^[0-9a-f-]{36}$/, 'json: lines carry the run id');
my ($done) = grep { ($_->{msg} // '') =~ /^copy:public\.slow: done/ } @objs;
ok($done, 'json: the copy of public.slow ends with a line');
is($done->{step}, 'copy:public.slow', 'json: its step');
is($done->{table}, 'public.slow', 'json: its table');
is($done->{rows}, 3000, 'json: its rows');
cmp_ok($done->{bytes} // 0, '>', 3000 * 200, 'json: its bytes');
is($done->{run_id}, $run_id, 'json: its run id');
my ($caught) = grep { ($_->{msg} // '') =~ /^cdc\.catchup: applied/ } @objs;
like($caught->{lsn} // '', qr{^[0-9A-F]+/[0-9A-F]+$}, 'json: a CDC line carries its LSN');
my @stepless = grep { ($_->{msg} // '') =~ /^(copy|index|constraint):\S+: done/ && !$_->{step} } @objs;
is(scalar @stepless, 0, 'json: every step line names its step');

# 5. after an interrupted run, `plan` does not call what apply resumes leftovers
psql($tgt, 'CREATE DATABASE opspaused');
(my $tgt3 = $tgt) =~ s{/postgres$}{/opspaused};
(my $yaml3 = slurp($plan)) =~ s/name: ops_view/name: ops_paused/;
my $plan3 = write_plan($yaml3, tempdir(CLEANUP => 1));
my %env3 = (SOURCE_URI => $src, TARGET_URI => $tgt3);
$r = run_pgshift(\%env3, 'apply', $plan3, '--yes', '--no-progress', '--until', 'copy');
is($r->{rc}, 0, 'apply --until copy pauses') or diag($r->{err});
$r = run_pgshift(\%env3, 'plan', $plan3);
is($r->{rc}, 0, 'plan of the paused run exits 0') or diag($r->{out} . $r->{err});
like($r->{out}, qr/leftover_objects.*\(resuming\)/, 'plan: the slot and state apply resumes are not blocking leftovers');
# the resumed run on a terminal: steps the first run finished count as done
{
    local $ENV{SOURCE_URI} = $src;
    local $ENV{TARGET_URI} = $tgt3;
    system('python3', "$FindBin::Bin/../lib/pty_run.py", 100, 30, "$dir/resumed",
           pgshift_bin(), 'apply', $plan3, '--yes', '--approve');
    is($? >> 8, 0, 'the paused run resumes to the end');
}
(my $resumed = slurp("$dir/resumed")) =~ s/\e\[[0-9;]*[A-Za-z]//g;
my @counts = $resumed =~ /steps: (\d+) of (\d+) done, (\d+) running/g;
my ($last_done, $last_total) = @counts[-3, -2];
ok(defined $last_total && $last_done == $last_total,
   "live view of a resumed run ends on every step done ($last_done of $last_total)");
like($resumed, qr/cleanup: dropped replication slot "pgshift_ops_paused" on the source/, 'cleanup: the slot it dropped');
$r = run_pgshift(\%env3, 'cleanup', $plan3);
is($r->{rc}, 0, 'cleanup after the finished run');
like($r->{err}, qr/no replication slot "pgshift_ops_paused" on the source \(already dropped\)/,
     'cleanup again: says there was no slot, instead of "dropped"');
unlike($r->{err}, qr/NOTICE/, 'cleanup again: no raw server NOTICE');

# 6. a ready plan's provider excludes are not warned about on a source without them
$r = run_pgshift({ SOURCE_URI => $src, TARGET_URI => $tgt2, APP_ROLE => 'postgres' }, 'plan',
                 "$FindBin::Bin/../../plans/rds-aurora.yaml");
like($r->{out}, qr/^\s*PASS\s+filters\s.*not on this source, nothing to exclude: filters\.exclude_schemas "aws_commons"/m,
     'rds-aurora.yaml: absent provider schemas and extensions are said, not warned about') or diag($r->{out});
unlike($r->{out}, qr/WARN\s+filters/, 'rds-aurora.yaml: no filters warning');

# 7. connections: a server that accepts TCP but never answers fails in
# target.connect_timeout, naming it; a closed port fails at once
my $silent = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1', LocalPort => 0) or die;
my $sport = $silent->sockport;
my $plan_silent = write_plan(<<"YAML", tempdir(CLEANUP => 1));
version: 1
name: ops_silent
source: { uri: "\${SOURCE_URI}" }
target: { uri: "postgresql://postgres\@127.0.0.1:$sport/postgres", connect_timeout: 2s }
YAML
my $t0 = time;
$r = run_pgshift({ SOURCE_URI => $src }, 'plan', $plan_silent);
my $took = time - $t0;
isnt($r->{rc}, 0, 'a silent target fails plan');
like($r->{err}, qr/could not connect to the target \(postgresql:\/\/postgres\@127\.0\.0\.1:$sport\/postgres\).*timeout expired/,
     'naming the target and the timeout') or diag($r->{err});
cmp_ok($took, '<', 15, sprintf('within target.connect_timeout (2s), not the 30s default (took %.1fs)', $took));
close $silent;
$t0 = time;
$r = run_pgshift({ SOURCE_URI => $src }, 'plan', $plan_silent);
like($r->{err}, qr/could not connect to the target .*Connection refused/, 'a closed port: connection refused');
cmp_ok(time - $t0, '<', 10, 'a closed port fails at once');

done_testing();
