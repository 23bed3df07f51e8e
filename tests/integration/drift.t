# Catalog drift between a run's first apply and its resume (DESIGN.md §4b):
# the first apply records the compiled DAG in pgshift.run_dag; a resume
# runs exactly that DAG and decides drift by rule, never by a silent
# re-copy:
#   a. a new table in the filters refuses the resume (exit 2), naming it,
#      and changes nothing; `apply --replan` creates only that table on the
#      target, adds it to the publication, copies only it (on a temporary
#      slot's snapshot; the other tables' copies are not repeated, the slot
#      is kept) and CDC carries its later changes: identical at the end.
#   b. a table dropped on the source fails the resume (exit 1), naming it,
#      even with --replan.
#   c. (in a) the resume logs which steps it skips (done) and which it runs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use PgShift::Cluster;
use PgShift::Compare qw(compare_tables);
use PgShift::Run;

my $c = start_clusters();
my ($src0, $tgt0) = ($c->{source_uri}, $c->{target_uri});
my $dir = tempdir(CLEANUP => 1);

sub db_uri { my ($uri, $db) = @_; (my $u = $uri) =~ s{/postgres$}{/$db}; return $u; }
sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return ''; local $/; return <$fh> // ''; }

sub wait_until {
    my ($cond, $secs, $pid) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        return 1 if $cond->();
        return 0 if $pid && waitpid($pid, POSIX::WNOHANG()) == $pid;
        sleep 0.1;
    }
    return 0;
}

my $schema = <<'SQL';
CREATE TABLE public.items (id serial PRIMARY KEY, v text);
CREATE TABLE public.notes (id int PRIMARY KEY, body text);
CREATE INDEX notes_body ON public.notes (body);
INSERT INTO public.items (v) SELECT 'item ' || g FROM generate_series(1, 500) g;
INSERT INTO public.notes SELECT g, md5(g::text) FROM generate_series(1, 300) g;
SQL

sub pair {
    my ($name) = @_;
    psql($src0, "CREATE DATABASE $name");
    psql($tgt0, "CREATE DATABASE $name");
    my ($src, $tgt) = (db_uri($src0, $name), db_uri($tgt0, $name));
    psql($src, $schema);
    my $plan = write_plan(<<"YAML", tempdir(CLEANUP => 1));
version: 1
name: $name
source:
  uri: \${SOURCE_URI}
target:
  uri: \${TARGET_URI}
copy:
  table_jobs: 2
  vacuum_analyze: false
cdc:
  enabled: true
  max_lag: 1s
cutover:
  approval: manual
  steps:
    - wait_for_catchup: { timeout: 60s }
    - sync_sequences: { margin: 0 }
    - verify: { level: count }
cleanup:
  keep_state: true
YAML
    return ($plan, { SOURCE_URI => $src, TARGET_URI => $tgt }, $src, $tgt);
}

sub attempts {
    my ($tgt, $name) = @_;
    return psql($tgt, "SELECT string_agg(step_id || '=' || attempts, ',' ORDER BY step_id) FROM pgshift.steps"
                    . " WHERE plan = '$name' AND step_id LIKE 'copy:%'");
}

# ---- a. a new table: refused without --replan, copied alone with it
{
    my ($plan, $env, $src, $tgt) = pair('dr_new');
    my $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress', '--until', 'cdc.catchup');
    is($r->{rc}, 0, 'apply --until cdc.catchup pauses the run') or diag($r->{err});
    is(psql($tgt, "SELECT count(*) FROM pgshift.run_dag WHERE plan = 'dr_new' AND step_id LIKE 'copy:%'"), 2,
       'the first apply recorded its DAG (two copy steps)');
    isnt(psql($tgt, "SELECT catalog_fingerprint FROM pgshift.runs WHERE plan = 'dr_new'"), '',
         'and the fingerprint of the catalog it was compiled from');
    my $before = attempts($tgt, 'dr_new');

    # the new table uses objects that are new too: --replan must bring them
    psql($src, "CREATE TYPE public.flavor AS ENUM ('plain', 'spicy'); CREATE DOMAIN public.pos AS int CHECK (VALUE > 0);"
             . " CREATE SEQUENCE public.fresh_codes START 7;"
             . " CREATE FUNCTION public.code_of(bigint) RETURNS text LANGUAGE sql IMMUTABLE AS \$\$SELECT 'c' || \$1\$\$;"
             . " CREATE TABLE public.fresh (id int PRIMARY KEY, v text, f public.flavor DEFAULT 'plain', p public.pos DEFAULT 1,"
             . "  code text DEFAULT public.code_of(nextval('public.fresh_codes')));"
             . " INSERT INTO public.fresh (id, v, f) SELECT g, 'f' || g, 'spicy' FROM generate_series(1, 200) g;"
             . " UPDATE public.items SET v = 'changed' WHERE id <= 10");
    $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress');
    is($r->{rc}, 2, 'a resume with a new table in the filters exits 2');
    like($r->{err}, qr/the source catalog changed since the run of plan "dr_new" began: new table in the filters: public\.fresh/,
         'it names the new table');
    like($r->{err}, qr/hint: "pgshift apply \Q$plan\E --replan" adds the new steps and copies only the new tables/,
         'and says how to take it in');
    is(psql($tgt, "SELECT to_regclass('public.fresh') IS NULL"), 't', 'nothing was created on the target');
    is(psql($tgt, "SELECT status FROM pgshift.runs WHERE plan = 'dr_new'"), 'paused', 'the run is still paused');

    my $pid = fork() // die;
    if ($pid == 0) {
        $ENV{$_} = $env->{$_} for keys %$env;
        open(STDIN, '<', '/dev/null'); open(STDOUT, '>', '/dev/null'); open(STDERR, '>', "$dir/a.err");
        exec(pgshift_bin(), 'apply', $plan, '--yes', '--no-progress', '--replan') or POSIX::_exit(99);
    }
    ok(wait_until(sub { slurp("$dir/a.err") =~ /cutover gate: waiting for approval/ }, 90, $pid),
       'apply --replan reaches the gate') or diag(slurp("$dir/a.err"));
    my $log = slurp("$dir/a.err");
    like($log, qr/--replan: the source catalog changed [^\n]*new table in the filters: public\.fresh; their steps are added to the run/,
         '--replan says what it takes in');
    like($log, qr/schema\.pre: --replan: created new table public\.fresh on the target/, 'schema.pre creates only the new table');
    for my $need ('type public.flavor', 'type public.pos', 'function public.code_of(bigint)', 'sequence public.fresh_codes') {
        like($log, qr/schema\.pre: --replan: new table public\.fresh needs \Q$need\E, which the target lacks: restored with it/,
             "--replan restores the new $need the new table uses");
    }
    unlike($log, qr/needs (table|sequence) public\.(items|notes)/, 'and nothing the target has already');
    like($log, qr/added 1 new table\(s\) to publication "pgshift_dr_new"/, 'it joins the publication');
    like($log, qr/resume: copying again only public\.fresh, on the snapshot \S+ of temporary slot "pgshift_dr_new_sync"/,
         'only the new table is copied, on a temporary slot\'s snapshot');
    unlike($log, qr/copy:public\.(items|notes): started/, 'the other tables are not copied again');
    like($log, qr/resume: \d+ step\(s\) done, skipped: [^\n]*copy:public\.items/, 'the resume lists the steps it skips');
    like($log, qr/resume: \d+ step\(s\) to run: [^\n]*copy:public\.fresh/, 'and the steps it runs');
    psql($src, "INSERT INTO public.fresh VALUES (1000, 'after the copy'); UPDATE public.fresh SET v = NULL WHERE id = 5;"
             . " DELETE FROM public.fresh WHERE id = 6; INSERT INTO public.notes VALUES (1000, 'x')");
    $r = run_pgshift($env, 'cutover', $plan);
    is($r->{rc}, 0, 'cutover approves') or diag($r->{err});
    ok(wait_until(sub { waitpid($pid, POSIX::WNOHANG()) == $pid }, 90), 'apply ends');
    is($? >> 8, 0, "and finishes") or diag(slurp("$dir/a.err"));
    my @diff = grep { defined $_->[2] } compare_tables($src, $tgt);
    ok(!@diff, 'every table identical, the new one included') or diag(join("\n", map { $_->[2] } @diff));
    is(attempts($tgt, 'dr_new'), "copy:public.fresh=1,$before", 'each table was copied once');
    is(psql($tgt, "SELECT count(*) FROM pgshift.run_dag WHERE plan = 'dr_new' AND step_id = 'copy:public.fresh'"), 1,
       'the new table\'s steps are recorded in the run\'s DAG');
}

# ---- b. a dropped table is an error naming it
{
    my ($plan, $env, $src, $tgt) = pair('dr_gone');
    my $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress', '--until', 'copy');
    is($r->{rc}, 0, 'apply --until copy pauses the run') or diag($r->{err});
    psql($src, "DROP TABLE public.notes");
    $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress', '--replan');
    is($r->{rc}, 1, 'a resume after a table was dropped exits 1, --replan or not');
    like($r->{err}, qr/the source catalog changed since the run of plan "dr_gone" began: table dropped \(or no longer in the filters\): public\.notes/,
         'it names the dropped table');
    like($r->{err}, qr/hint: create the objects again on the source as they were, or start over with pgshift reset/,
         'and what to do');
    is(psql($tgt, "SELECT status FROM pgshift.runs WHERE plan = 'dr_gone'"), 'paused', 'the run stays paused');
}

done_testing();
