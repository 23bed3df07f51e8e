# The command line: help on every command, exit codes of DESIGN.md §1,
# unknown flags fatal, commands not in this build say so.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use PgShift::Run;

my @commands = qw(validate plan apply status cutover verify cleanup reset version);

my $r = run_pgshift({}, '--help');
is($r->{rc}, 0, 'pgshift --help exits 0');
like($r->{out}, qr/^Usage: pgshift/m, '--help prints usage on stdout');
like($r->{out}, qr/^  $_ /m, "--help lists $_") for @commands;

for my $cmd (@commands) {
    my $h = run_pgshift({}, $cmd, '--help');
    is($h->{rc}, 0, "pgshift $cmd --help exits 0");
    like($h->{out}, qr/^Usage: pgshift $cmd/, "pgshift $cmd --help shows its usage");
}

$r = run_pgshift({}, 'apply', 'p.yaml', '--dry-run');
is($r->{rc}, 3, 'an unknown flag is a usage error (exit 3)');
like($r->{err}, qr/unknown option "--dry-run" for "pgshift apply"/, 'the unknown flag is named');

$r = run_pgshift({}, 'plan', 'p.yaml', '--formt', 'json');
like($r->{err}, qr/did you mean "--format"\?/, 'near-miss flag gets a suggestion');

$r = run_pgshift({}, 'valdate', 'p.yaml');
is($r->{rc}, 3, 'unknown command exits 3');
like($r->{err}, qr/unknown command "valdate"; did you mean "validate"\?/, 'suggests the command');

$r = run_pgshift({}, 'validate');
is($r->{rc}, 3, 'missing PLAN exits 3');
like($r->{err}, qr/needs a PLAN file argument/, 'says the PLAN is missing');

$r = run_pgshift({}, 'plan', 'p.yaml', '--format', 'yaml');
is($r->{rc}, 3, 'bad --format value exits 3');
like($r->{err}, qr/invalid value "yaml" for --format/, 'names the bad value');

$r = run_pgshift({}, 'version');
is($r->{rc}, 0, 'version exits 0');
like($r->{out}, qr/^pgshift \d+\.\d+\.\d+\n/, 'version prints the version');

$r = run_pgshift({}, '--log-format', 'json', 'validate', '/nonexistent/plan.yaml');
is($r->{rc}, 3, 'global options before the command are accepted');

# README.md lists every command with the usage line of its --help (the
# continuation lines joined; runs of spaces count as one).
{
    open(my $fh, '<', "$FindBin::Bin/../../README.md") or die "README.md: $!";
    local $/;
    (my $readme = <$fh>) =~ s/[ \t]+/ /g;
    for my $cmd (@commands) {
        my $h = run_pgshift({}, $cmd, '--help');
        my ($usage) = $h->{out} =~ /^Usage: (pgshift \Q$cmd\E.*?)\n(?!\s{8})/ms;
        $usage //= "pgshift $cmd";
        $usage =~ s/\s+/ /g;
        ok(index($readme, $usage) >= 0, "README.md shows the usage of $cmd: $usage");
    }
}

done_testing();
