# A source and a target PostgreSQL 15 cluster for one integration test,
# started by pg_clusters.sh and always stopped when the test ends (END block
# and signal handlers), so tests can run in parallel.
package PgShift::Cluster;

use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
use FindBin;

our @EXPORT = qw(start_clusters psql psql_ok pg_ctl_cluster);

my $script = "$FindBin::Bin/../lib/pg_clusters.sh";
my @started;

# start_clusters() -> { source_uri, target_uri, source_port, target_port, dir }
sub start_clusters {
    my $dir = tempdir('/tmp/pgshift-t.XXXXXX', CLEANUP => 0);
    push @started, $dir;
    system($script, 'start', $dir) == 0 or die "could not start clusters (see $dir/*.log)\n";
    my %env;
    open(my $fh, '<', "$dir/env") or die "$dir/env: $!";
    while (<$fh>) { chomp; my ($k, $v) = split /=/, $_, 2; $env{$k} = $v; }
    close $fh;
    return {
        source_uri  => $env{SOURCE_URI},
        target_uri  => $env{TARGET_URI},
        source_port => $env{SOURCE_PORT},
        target_port => $env{TARGET_PORT},
        dir         => $dir,
    };
}

# psql($uri, $sql) -> output rows as "a|b" lines (unaligned, tuples only); dies on error
sub psql {
    my ($uri, $sql) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open(STDERR, '>&', \*STDOUT);
        exec('psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', $uri, '-c', $sql)
            or die "exec psql: $!";
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    die "psql failed: $out\nSQL: $sql\n" if $?;
    $out =~ s/\n+\z//;
    return $out;
}

# pg_ctl_cluster($c, 'source'|'target', 'stop'|'start'|'restart' [, 'fast'|'immediate'])
# -> true when pg_ctl succeeded; the cluster keeps its port.
sub pg_ctl_cluster {
    my ($c, $name, $action, $mode) = @_;
    return system($script, 'ctl', $c->{dir}, $name, $action, $mode // 'fast') == 0;
}

sub stop_all {
    for my $dir (@started) {
        system($script, 'stop', $dir);
        system('rm', '-rf', $dir);
    }
    @started = ();
}

$SIG{INT} = $SIG{TERM} = sub { stop_all(); exit 1; };
END { my $rc = $?; stop_all(); $? = $rc; }

1;
