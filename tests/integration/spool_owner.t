# Spools of several plans in one directory, on real servers (README
# "cdc.spool_dir"): the default spool is one per plan (.pgshift/<name>/spool)
# with an OWNER marker; a plan pointed at another plan's spool stops naming
# that plan and leaves it alone, its cleanup too, and the owner's run
# carries on to an exact cutover; a run begun with the old shared default
# (.pgshift/spool) is not resumed into an empty new one: apply names both
# and the move, and after the move the run resumes and cuts over.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use PgShift::Cluster;
use PgShift::Run qw(pgshift_bin run_pgshift start_pgshift wait_until slurp);
use PgShift::Compare qw(compare_tables);

my $c = start_clusters();
my ($src0, $tgt0) = ($c->{source_uri}, $c->{target_uri});
my $pdir = tempdir(CLEANUP => 1);

sub uri_of { my ($uri, $db) = @_; (my $u = $uri) =~ s{/postgres$}{/$db}; return $u; }

my %p;
for my $name (qw(a b c)) {
    psql($src0, "CREATE DATABASE s_$name");
    psql($tgt0, "CREATE DATABASE t_$name");
    my ($s, $t) = (uri_of($src0, "s_$name"), uri_of($tgt0, "t_$name"));
    psql($s, "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 100) g");
    $p{$name} = { src => $s, tgt => $t, env => { SOURCE_URI => $s, TARGET_URI => $t },
                  file => "$pdir/$name.yaml", log => "$pdir/$name.err" };
}

sub write_named {
    my ($name, $cdc_extra) = @_;
    open(my $fh, '>', $p{$name}{file}) or die;
    print $fh <<"YAML";
version: 1
name: $name
source: { uri: "\${SOURCE_URI}" }
target: { uri: "\${TARGET_URI}" }
cdc: { enabled: true, max_lag: 2s$cdc_extra }
cutover: { approval: manual }
cleanup: { when: manual }
YAML
    close $fh;
}

sub start_apply {
    my ($name, $log) = @_;
    $p{$name}{log} = $log;
    $p{$name}{pid} = start_pgshift($p{$name}{env}, $log, 'apply', $p{$name}{file}, '--yes', '--no-progress');
}

sub at_gate {
    my ($name) = @_;
    return wait_until(sub { slurp($p{$name}{log}) =~ /cutover gate: waiting for approval/ }, 90, $p{$name}{pid});
}

sub finish {
    my ($name) = @_;
    my $r = run_pgshift($p{$name}{env}, 'cutover', $p{$name}{file});
    is($r->{rc}, 0, "$name: the cutover is approved") or diag($r->{err});
    waitpid($p{$name}{pid}, 0);
    is($? >> 8, 0, "$name: apply exits 0") or diag(slurp($p{$name}{log}));
    my @diff = grep { $_->[2] } compare_tables($p{$name}{src}, $p{$name}{tgt});
    is(scalar(@diff), 0, "$name: every table has the same rows") or diag(join "\n", map { $_->[2] } @diff);
}

# a: the default spool, its own
write_named('a', '');
start_apply('a', "$pdir/a.err");
ok(at_gate('a'), 'a: apply reaches the gate') or diag(slurp($p{a}{log}));
psql($p{a}{src}, "INSERT INTO items VALUES (101, 'streamed')");
my $aspool = "$pdir/.pgshift/a/spool";
like(slurp("$aspool/OWNER"), qr/^plan a\nslot pgshift_a\n/, 'a: its spool is .pgshift/a/spool, marked as a\'s');
ok(!-e "$pdir/.pgshift/spool", 'a: nothing in the old shared default');

# b: pointed at a's spool
write_named('b', ', spool_dir: .pgshift/a/spool');
my $b = run_pgshift($p{b}{env}, 'apply', $p{b}{file}, '--yes', '--no-progress');
isnt($b->{rc}, 0, 'b: apply with a\'s spool fails');
like($b->{err}, qr/spool directory "\Q$aspool\E" holds the changes of plan "a", not of plan "b"/,
     'b: naming the spool and its plan') or diag($b->{err});
like($b->{err}, qr/hint: give each plan its own cdc\.spool_dir/, 'b: and the fix');
$b = run_pgshift($p{b}{env}, 'cleanup', $p{b}{file});
like($b->{err}, qr/spool directory "\Q$aspool\E" holds the changes of plan "a": plan "b" leaves it as it is/,
     'b: cleanup leaves a\'s spool') or diag($b->{err});
ok(-e "$aspool/OWNER" && glob("$aspool/*.spool"), 'a\'s spool and its segments are still there');
finish('a');
is(psql($p{a}{tgt}, "SELECT v FROM items WHERE id = 101"), 'streamed', 'a: the streamed row arrived');
my $r = run_pgshift($p{a}{env}, 'cleanup', $p{a}{file});
is($r->{rc}, 0, 'a: cleanup') or diag($r->{err});
ok(!-e "$pdir/.pgshift/a", 'a: cleanup removed .pgshift/a');

# c: a run killed at the gate; its spool moved where an older pgshift kept
# it, without a marker (the same plan file: the older version's default)
write_named('c', '');
start_apply('c', "$pdir/c.err");
ok(at_gate('c'), 'c: apply reaches the gate') or diag(slurp($p{c}{log}));
kill 'KILL', $p{c}{pid};
waitpid($p{c}{pid}, 0);
psql($p{c}{src}, "INSERT INTO items VALUES (101, 'while down')");
system("mv $pdir/.pgshift/c/spool $pdir/.pgshift/spool && rm $pdir/.pgshift/spool/OWNER && rmdir $pdir/.pgshift/c") == 0 or die;
$r = run_pgshift($p{c}{env}, 'apply', $p{c}{file}, '--yes', '--no-progress');
isnt($r->{rc}, 0, 'c: the resume with the new default stops');
like($r->{err}, qr/began with its spool in "\Q$pdir\E\/\.pgshift\/spool", the default of older pgshift versions; the default is now "\Q$pdir\E\/\.pgshift\/c\/spool"/,
     'c: naming both directories') or diag($r->{err});
like($r->{err}, qr/mkdir -p \Q$pdir\E\/\.pgshift\/c && mv \Q$pdir\E\/\.pgshift\/spool \Q$pdir\E\/\.pgshift\/c\/spool/,
     'c: and the move');
system("mkdir -p $pdir/.pgshift/c && mv $pdir/.pgshift/spool $pdir/.pgshift/c/spool") == 0 or die;
ok(!-e "$pdir/.pgshift/c/spool/OWNER", 'c: the moved spool has no marker yet');
start_apply('c', "$pdir/c2.err");
ok(at_gate('c'), 'c: after the move the run resumes to the gate') or diag(slurp($p{c}{log}));
like(slurp("$pdir/.pgshift/c/spool/OWNER"), qr/^plan c\n/, 'c: the resume marked it as c\'s');
finish('c');
is(psql($p{c}{tgt}, "SELECT v FROM items WHERE id = 101"), 'while down', 'c: the row written while it was down arrived');
done_testing();
