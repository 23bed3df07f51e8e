# Running a C test binary of tests/pg against the test's clusters: its TAP is
# shown indented as a subtest and counted as one test of the .t file.
package PgShift::CTest;

use strict;
use warnings;
use Exporter 'import';
use Test::More;

our @EXPORT = qw(run_c_test);

# run_c_test($bin, $name, %env) -> true when the binary passed every check
sub run_c_test {
    my ($bin, $name, %env) = @_;
    local %ENV = (%ENV, %env);
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open(STDERR, '>&', \*STDOUT);
        exec($bin) or die "exec $bin: $!";
    }
    my $out = do { local $/; <$fh> // '' };
    close $fh;
    my $rc = $?;
    (my $shown = $out) =~ s/^/    /mg;
    print "# Subtest: $name\n$shown";
    return ok($rc == 0 && $out =~ /^1\.\.\d+$/m && $out !~ /^not ok/m, $name)
        || diag("exit status $rc");
}

1;
