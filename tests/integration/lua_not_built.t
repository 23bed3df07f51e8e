# Lua hooks are in the plan format but not in this build: `validate` accepts
# the format, while `plan` and `apply` refuse such a plan before anything
# runs (exit 3), naming the step and its line, instead of failing mid-cutover.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Test::More;
use PgShift::Run;

my $dir = tempdir(CLEANUP => 1);
make_path("$dir/hooks");
open(my $fh, '>', "$dir/hooks/switch.lua") or die;
print $fh "return function(event, ctx) return true end\n";
close $fh;
my $plan = write_plan(<<'YAML', $dir);
version: 1
name: luaplan
source:
  uri: postgresql://u@127.0.0.1:1/x
target:
  uri: postgresql://u@127.0.0.1:1/y
cdc:
  enabled: false
cutover:
  steps:
    - sync_sequences: {}
    - lua: hooks/switch.lua
YAML

my $r = run_pgshift({}, 'validate', $plan);
is($r->{rc}, 0, 'validate accepts a lua step: it is valid plan format');

for my $cmd (['plan'], ['apply', '--yes']) {
    $r = run_pgshift({}, @$cmd, $plan);
    is($r->{rc}, 3, "$cmd->[0] refuses a plan with a lua step (exit 3)");
    like($r->{err}, qr/\Q$plan\E:12:7: error: cutover\.steps\[2\]: lua hooks are not built in this version of pgshift/,
         "$cmd->[0] names the step and its place");
    unlike($r->{err}, qr/could not connect/, "$cmd->[0] refuses before connecting to anything");
}

done_testing();
