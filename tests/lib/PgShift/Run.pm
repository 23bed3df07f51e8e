# Running the pgshift binary from integration tests and capturing what it
# prints, with the environment the test chooses.
package PgShift::Run;

use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempfile tempdir);
use FindBin;
use Time::HiRes qw(sleep time);

our @EXPORT = qw(pgshift_bin run_pgshift write_plan finish_within);
our @EXPORT_OK = qw(start_pgshift wait_until run_ended wait_for_run slurp);

sub pgshift_bin { return "$FindBin::Bin/../../pgshift"; }

# run_pgshift(\%env, @args) -> { rc, out, err }
sub run_pgshift {
    my ($env, @args) = @_;
    my ($ofh, $out) = tempfile(UNLINK => 1);
    my ($efh, $err) = tempfile(UNLINK => 1);
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        $ENV{$_} = $env->{$_} for keys %{ $env || {} };
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>&', $ofh) or die;
        open(STDERR, '>&', $efh) or die;
        exec(pgshift_bin(), @args) or die "exec: $!";
    }
    waitpid($pid, 0);
    my $rc = $? >> 8;
    local $/;
    open(my $o, '<', $out); my $stdout = <$o>; close $o;
    open(my $e, '<', $err); my $stderr = <$e>; close $e;
    return { rc => $rc, out => $stdout // '', err => $stderr // '' };
}

# start_pgshift(\%env, $log, @args) -> pid of pgshift running in the
# background, stdin /dev/null, stderr to $log and stdout to "$log.out"
sub start_pgshift {
    my ($env, $log, @args) = @_;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        $ENV{$_} = $env->{$_} for keys %{ $env || {} };
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>', "$log.out") or die;
        open(STDERR, '>', $log) or die;
        exec(pgshift_bin(), @args) or die "exec: $!";
    }
    return $pid;
}

# wait_until(cond, seconds[, pid]): true once cond held, false when the time
# ran out or pid (when given) ended first
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

# finish_within(pid, seconds) -> exit code of the background pgshift pid, or
# -1 when it had not ended in time (it is then killed): a cutover that did not
# reach apply leaves apply waiting at its gate, and a bare waitpid would hang
# the suite instead of failing the test
sub finish_within {
    my ($pid, $secs) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        return $? >> 8 if waitpid($pid, 1) == $pid;
        sleep 0.1;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return -1;
}

# run_ended(r): whether the process r->{pid} has ended, reaped once; its exit
# code and signal are kept in r->{rc} and r->{signal}
sub run_ended {
    my ($r) = @_;
    return 1 if defined $r->{rc};
    return 0 unless waitpid($r->{pid}, 1) == $r->{pid};
    $r->{rc} = $? >> 8;
    $r->{signal} = $? & 127;
    return 1;
}

# wait_for_run(cond, seconds[, r]): wait_until, keeping the exit code of run r
sub wait_for_run {
    my ($cond, $secs, $r) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        return 1 if $cond->();
        return 0 if $r && run_ended($r);
        sleep 0.2;
    }
    return 0;
}

sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return ''; local $/; return <$fh> // ''; }

# write_plan($yaml [, $dir]) -> path of a new plan file
sub write_plan {
    my ($text, $dir) = @_;
    $dir //= tempdir(CLEANUP => 1);
    my $path = "$dir/plan.yaml";
    open(my $fh, '>', $path) or die "$path: $!";
    print $fh $text;
    close $fh;
    return $path;
}

1;
