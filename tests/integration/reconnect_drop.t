# A network drop during CDC (DESIGN.md §4a): the source is reached through
# a TCP relay (tests/lib/tcp_proxy.pl) that freezes, a dead path where no
# packet gets through and no connection is closed. The receiver notices the
# silence (it asks the walsender to answer every status update), reconnects
# once the path is back (waiting out the slot the server's dead walsender
# still holds), and the target ends identical to the source after the
# cutover. Slow by nature: the silence must last 60 s before it counts.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use PgShift::Cluster;
use PgShift::Run;
use PgShift::Compare qw(user_tables compare_table);

my $c = start_clusters();
my ($src, $tgt) = ($c->{source_uri}, $c->{target_uri});
my $dir = tempdir(CLEANUP => 1);

my $probe = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die;
my $port = $probe->sockport;
close($probe);
my $proxy = fork() // die;
if ($proxy == 0) {
    exec($^X, "$FindBin::Bin/../lib/tcp_proxy.pl", $port, $c->{source_port}) or die;
}
END { kill 'KILL', $proxy if $proxy; }
(my $via = $src) =~ s/:$c->{source_port}\//:$port\//;

psql($src, <<'SQL');
CREATE TABLE public.t (id int PRIMARY KEY, v text);
INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 2000) g;
SQL
psql($tgt, "CREATE DATABASE drop1");
(my $uri = $tgt) =~ s{/postgres$}{/drop1};
my $plan = write_plan(<<'YAML', $dir);
version: 1
name: drop1
source:
  uri: ${SOURCE_URI}
target:
  uri: ${TARGET_URI}
copy:
  vacuum_analyze: false
cdc:
  enabled: true
  max_lag: 2s
  reconnect_for: 5m
cutover:
  approval: manual
  steps:
    - wait_for_catchup: { timeout: 60s }
    - verify: { level: count }
cleanup:
  keep_state: true
YAML
my $env = { SOURCE_URI => $via, TARGET_URI => $uri };

sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return ''; local $/; return <$fh> // ''; }
sub q_or_empty { my ($u, $sql) = @_; return eval { psql($u, $sql) } // ''; }
sub wait_until {
    my ($cond, $secs, $pid) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        return 1 if $cond->();
        return 0 if $pid && waitpid($pid, 1) == $pid;
        sleep 0.2;
    }
    return 0;
}

my $log = "$dir/apply.err";
my $pid = fork() // die;
if ($pid == 0) {
    $ENV{$_} = $env->{$_} for keys %$env;
    open(STDIN, '<', '/dev/null'); open(STDOUT, '>', "$log.out"); open(STDERR, '>', $log);
    exec(pgshift_bin(), 'apply', $plan, '--yes', '--no-progress') or die;
}
ok(wait_until(sub { slurp($log) =~ /cutover gate: waiting for approval/ }, 90, $pid),
   'apply reaches the gate, reading the source through the relay') or diag(slurp($log));

kill 'USR1', $proxy;
psql($src, "UPDATE public.t SET v = 'during the drop' WHERE id <= 100; INSERT INTO public.t VALUES (5001, 'x')");
ok(wait_until(sub { slurp($log) =~ /the walsender sent nothing for 60 s although asked to answer/ }, 120, $pid),
   'the receiver takes a silent stream for a lost connection') or diag(slurp($log));
kill 'USR2', $proxy;
psql($src, "INSERT INTO public.t VALUES (5002, 'after the drop')");
ok(wait_until(sub { slurp($log) =~ /the CDC receiver of replication slot "pgshift_drop1" reconnected after/ }, 120, $pid),
   'and reconnects once the path is back') or diag(slurp($log));

psql($src, "SET synchronous_commit = on; CREATE TEMP TABLE flush_wal (); DROP TABLE flush_wal");
my $w = psql($src, "SELECT pg_current_wal_lsn()");
ok(wait_until(sub { q_or_empty($uri, "SELECT applied_lsn >= '$w' FROM pgshift.runs WHERE plan = 'drop1'") eq 't' }, 60),
   "the applied LSN passes the source's WAL position $w");
my ($rows, $diff) = compare_table($src, $uri, 'public', 't');
ok(!$diff && $rows == 2002, "public.t identical ($rows rows, Compare.pm)") or diag($diff);

my $r = run_pgshift($env, 'cutover', $plan);
is(finish_within($pid, 300), 0, 'the cutover completes') or diag(slurp($log));
($rows, $diff) = compare_table($src, $uri, 'public', 't');
ok(!$diff, 'identical after the cutover') or diag($diff);

done_testing();
