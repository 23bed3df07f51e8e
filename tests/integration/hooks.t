# Lua hooks end to end on real servers: cutover `lua:` steps run in plan
# order with pgshift.query on the target (bound parameters round-trip
# quotes and NULL exactly); a hook returning false, or raising, fails its
# step (naming cutover.N:lua, the reason, the hook file:line) and stops the
# cutover before the next hook, observed by the row that hook would have
# written; a resume runs only what is left. validate reports a hook's syntax
# error as FILE:LINE (exit 3), and plan/apply refuse it before connecting.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Test::More;
use PgShift::CTest;
use PgShift::Cluster;
use PgShift::Run;

my $c = start_clusters();
my ($src, $dst) = ($c->{source_uri}, $c->{target_uri});
my %env = (SOURCE_URI => $src, TARGET_URI => $dst);
my $dir = tempdir(CLEANUP => 1);
make_path("$dir/hooks");

sub hook {
    my ($name, $text) = @_;
    open(my $fh, '>', "$dir/hooks/$name") or die "$name: $!";
    print $fh $text;
    close $fh;
}

psql($src, <<'SQL');
CREATE TABLE public.items (id int PRIMARY KEY, name text);
INSERT INTO public.items SELECT g, 'item ' || g FROM generate_series(1, 100) g;
SQL
psql($dst, "CREATE SCHEMA hooklog; CREATE TABLE hooklog.marks (name text, step text, at timestamptz DEFAULT now())");

hook('a.lua', <<'LUA');
-- writes its mark, and a value with quotes and a NULL through bound parameters
return function(event, ctx)
  pgshift.query("target", "INSERT INTO hooklog.marks (name, step) VALUES ($1, $2)", "a", ctx.step)
  pgshift.query("target", "INSERT INTO hooklog.marks (name, step) VALUES ($1, $2)", "it''s \"q\" $1", nil)
  local rows = pgshift.query("target", "SELECT $1::text AS v, $2::text AS n", "it''s", nil)
  if rows[1].v ~= "it''s" or rows[1].n ~= nil then
    return false, "round trip changed the value: " .. tostring(rows[1].v)
  end
  return true
end
LUA
hook('fail.lua', <<'LUA');
return function(event, ctx)
  return false, "nope"
end
LUA
hook('c.lua', <<'LUA');
return function(event, ctx)
  pgshift.query("target", "INSERT INTO hooklog.marks (name, step) VALUES ($1, $2)", "c", event)
end
LUA

hook('record.lua', <<'LUA');
return function(event, ctx)
  pgshift.query("target", "INSERT INTO hooklog.marks (name, step) VALUES ($1, $2)",
                event .. " " .. tostring(ctx.table) .. " " .. tostring(ctx.rows), "event")
end
LUA

my $plan = write_plan(<<'YAML', $dir);
version: 1
name: hooked
source:
  uri: ${SOURCE_URI}
target:
  uri: ${TARGET_URI}
cdc:
  enabled: false
cutover:
  approval: auto
  steps:
    - lua: hooks/a.lua
    - lua: hooks/fail.lua
    - lua: hooks/c.lua
hooks:
  timeout: 10s
  lua:
    - file: hooks/record.lua
      on: ["copy.table.finished", "run.started"]
cleanup:
  keep_state: true
YAML

my $r = run_pgshift(\%env, 'validate', $plan);
is($r->{rc}, 0, 'validate accepts a plan with lua steps whose files compile') or diag($r->{err});

$r = run_pgshift(\%env, 'apply', $plan, '--yes', '--no-progress');
is($r->{rc}, 1, 'a hook returning false fails apply (exit 1)');
is(psql($dst, "SELECT count(*) FROM hooklog.marks WHERE name = 'run.started nil nil'"), '1',
   'a hooks.lua entry subscribed to run.started ran once');
my $copied = psql($dst, "SELECT string_agg(name, ',' ORDER BY name) FROM hooklog.marks WHERE name LIKE 'copy.table.finished %'");
like($copied, qr/^copy\.table\.finished \S+\.\S+ \d+/, 'it got copy.table.finished with ctx.table and ctx.rows')
    or diag($copied);
like($r->{err}, qr/cutover\.2:lua/, 'the failure names the step cutover.2:lua');
like($r->{err}, qr/lua hook \Q$dir\E\/hooks\/fail\.lua returned false: nope/, 'and the hook file and its reason');
is(psql($dst, "SELECT count(*) FROM hooklog.marks WHERE name = 'a'"), '1', 'the first hook ran');
is(psql($dst, "SELECT step FROM hooklog.marks WHERE name = 'a'"), 'cutover.1:lua', 'with ctx.step naming its step');
is(psql($dst, "SELECT count(*) FROM hooklog.marks WHERE name = 'c'"), '0',
   'the cutover stopped: the next hook did not write its row');
is(psql($dst, "SELECT name FROM hooklog.marks WHERE step IS NULL"), q{it''s "q" $1},
   'a bound parameter with quotes round-trips exactly; nil is NULL');
is(psql($dst, "SELECT count(*) FROM public.items"), '100', 'the data was copied before the cutover');

# the same step again, now raising: file:line and the traceback
hook('fail.lua', <<'LUA');
return function(event, ctx)
  error("boom")
end
LUA
$r = run_pgshift(\%env, 'apply', $plan, '--yes', '--no-progress');
is($r->{rc}, 1, 'a hook raising an error fails apply');
like($r->{err}, qr/cutover\.2:lua.*lua hook \Q$dir\E\/hooks\/fail\.lua:2: boom/, 'naming the step and the hook file:line');
like($r->{err}, qr/stack traceback:/, 'with the Lua traceback');
is(psql($dst, "SELECT count(*) FROM hooklog.marks WHERE name = 'a'"), '1', 'the resume did not run the finished hook again');
is(psql($dst, "SELECT count(*) FROM hooklog.marks WHERE name = 'c'"), '0', 'and still stopped before the next one');

# a syntax error: validate says where, plan and apply refuse before connecting
hook('fail.lua', "return function(event, ctx)\n  local x = = 1\nend\n");
$r = run_pgshift(\%env, 'validate', $plan);
is($r->{rc}, 3, 'validate: a hook that does not compile makes the plan invalid (exit 3)');
like($r->{err}, qr/^\Q$dir\E\/hooks\/fail\.lua:2: error: unexpected symbol near '='$/m,
     'reported as FILE:LINE: error: message');
$r = run_pgshift({SOURCE_URI => 'postgresql://u@127.0.0.1:1/x', TARGET_URI => 'postgresql://u@127.0.0.1:1/y'},
                 'apply', $plan, '--yes');
is($r->{rc}, 3, 'apply refuses it too (exit 3)');
unlike($r->{err}, qr/could not connect/, 'before connecting to anything');

# fixed: the resume runs the two steps left, and the run finishes
hook('fail.lua', "return function(event, ctx) return true end\n");
$r = run_pgshift(\%env, 'apply', $plan, '--yes', '--no-progress');
is($r->{rc}, 0, 'once the hook passes, apply finishes') or diag($r->{err});
is(psql($dst, "SELECT step FROM hooklog.marks WHERE name = 'c'"), 'cutover.3:lua', 'the last hook ran, with its event');
is(psql($dst, "SELECT count(*) FROM hooklog.marks WHERE name = 'a'"), '1', 'the first hook ran once in all');

# the event sink and pgshift.query's values, from C (build/pgtest/test_hooks)
run_c_test("$FindBin::Bin/../../build/pgtest/test_hooks", 'event hooks and pgshift.query against real servers',
           SOURCE_URI => $src, TARGET_URI => $dst);

done_testing();
