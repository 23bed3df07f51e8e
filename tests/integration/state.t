# The run state on a real target (engine/state/): tests/pg/test_state.c
# creates, locks, resumes, approves, reads and drops the state of plans on a
# throwaway target and asserts each row. The TAP comes from that binary;
# this file only starts the clusters and passes the output on (no exec, so
# the clusters are stopped).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PgShift::Cluster;

$| = 1;
my $bin = "$FindBin::Bin/../../build/pgtest/test_state";
unless (-x $bin) {
    print "1..0 # SKIP $bin is not built (make check builds it)\n";
    exit 0;
}

my $c = start_clusters();
$ENV{TARGET_URI} = $c->{target_uri};
my $out = `$bin 2>&1`;
my $rc = $? == 0 ? 0 : 1;
print $out;
print "# test_state exited with status $?\n" if $rc;
exit $rc;
