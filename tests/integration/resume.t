# The run's life cycle as an operator lives it (DESIGN.md §4b), on real
# servers:
#   a. the gate: an apply killed at the manual gate is shown `interrupted`
#      by status; `pgshift cutover` then refuses (no live apply waits), no
#      approval is stored, and the resumed apply waits at the gate again
#      until a `cutover` given to it lets it finish.
#   b. the confirmation is asked whenever stdin is a terminal, even with
#      stdout and stderr piped (`apply p.yaml 2>&1 | tee log`); "n" changes
#      nothing, "y" applies; without a terminal nothing is asked.
#   c. SIGTERM while the target builds an index: apply cancels the build on
#      the server, records `interrupted`, says how to resume and exits 143
#      within 10 s; the resume finishes without copying again.
#   d. a second SIGINT ends apply at once (by the signal) even while the
#      stop waits for a slow cutover hook; a later apply finishes the run.
#   e. `--until copy` records the run `paused at copy` (slot and spool kept);
#      `--until cdc.catchup` continues it and pauses again; a plain apply
#      finishes it without copying any table twice, source and target equal.
#   f. after kill -9 during an index build the build goes on on the target;
#      the resume first ends that session (by the run id in its
#      application_name), then builds the index and finishes.
#   g. a table that grew past split_tables_larger_than while the run was
#      killed at the gate: the resume runs the DAG the run recorded (the
#      table keeps its recorded split), copies nothing again, keeps the
#      original slot, and finishes equal.
#   h. SIGINT while the cutover's checksum verify waits for a lock on the
#      target: apply cancels the verify's queries (its sessions carry the run
#      id), exits 130 within 10 s, and the resume verifies and finishes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use JSON::PP;
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

# A source and a target database of their own, and a plan between them.
sub pair {
    my ($name, $schema_sql, $plan_tail, $copy_extra) = @_;
    psql($src0, "CREATE DATABASE $name");
    psql($tgt0, "CREATE DATABASE $name");
    my ($src, $tgt) = (db_uri($src0, $name), db_uri($tgt0, $name));
    psql($src, $schema_sql);
    my $path = write_plan(<<"YAML" . $plan_tail, tempdir(CLEANUP => 1));
version: 1
name: $name
source:
  uri: \${SOURCE_URI}
target:
  uri: \${TARGET_URI}
copy:
  table_jobs: 2
  index_jobs: 2
  vacuum_analyze: false
YAML
    $path = write_plan(slurp($path) =~ s/^(  vacuum_analyze: false\n)/$1 . ($copy_extra \/\/ '')/mer, $path =~ s{/[^/]+$}{}r)
        if $copy_extra;
    return ($path, { SOURCE_URI => $src, TARGET_URI => $tgt }, $src, $tgt);
}

# apply in the background, its stderr in $log; returns the pid.
sub start_apply {
    my ($env, $plan, $log, @extra) = @_;
    my $pid = fork() // die;
    if ($pid == 0) {
        $ENV{$_} = $env->{$_} for keys %$env;
        open(STDIN, '<', '/dev/null'); open(STDOUT, '>', '/dev/null'); open(STDERR, '>', $log);
        exec(pgshift_bin(), 'apply', $plan, '--yes', '--no-progress', @extra) or POSIX::_exit(99);
    }
    return $pid;
}

sub identical {
    my ($src, $tgt, $what) = @_;
    my @diff = grep { defined $_->[2] } compare_tables($src, $tgt);
    ok(!@diff, "$what: every table identical on source and target")
        or diag(join("\n", map { $_->[2] } @diff));
}

my $schema = <<'SQL';
CREATE TABLE public.items (id serial PRIMARY KEY, v text);
CREATE TABLE public.notes (id int PRIMARY KEY, body text);
INSERT INTO public.items (v) SELECT 'item ' || g FROM generate_series(1, 500) g;
INSERT INTO public.notes SELECT g, md5(g::text) FROM generate_series(1, 300) g;
SQL

# ---- a. an approval belongs to the live run waiting at the gate
{
    my ($plan, $env, $src, $tgt) = pair('rs_gate', $schema, <<'YAML');
cdc:
  enabled: false
cutover:
  approval: manual
cleanup:
  keep_state: true
YAML
    my $at_gate = sub { my ($log) = @_; slurp($log) =~ /cutover gate: waiting for approval/ };
    my $pid = start_apply($env, $plan, "$dir/gate1.err");
    ok(wait_until(sub { $at_gate->("$dir/gate1.err") }, 60, $pid), 'apply waits at the manual gate')
        or diag(slurp("$dir/gate1.err"));
    my $j = decode_json(run_pgshift($env, 'status', $plan, '--json')->{out});
    ok($j->{live} && $j->{status} eq 'running', 'status --json: the waiting run is live and running');
    like(run_pgshift($env, 'status', $plan)->{out}, qr/^cutover\s+WAITING FOR APPROVAL/m,
         'status: WAITING FOR APPROVAL while the apply waits');
    kill 'KILL', $pid;
    waitpid($pid, 0);

    my $r = run_pgshift($env, 'status', $plan);
    like($r->{out}, qr/^status\s+interrupted \(no apply is running; "pgshift apply \Q$plan\E" resumes it\)$/m,
         'status: a killed run is interrupted, with how to resume');
    like($r->{out}, qr/^cutover\s+not approved/m, 'status: a dead run is not waiting for approval');
    $j = decode_json(run_pgshift($env, 'status', $plan, '--json')->{out});
    ok(!$j->{live} && $j->{status} eq 'interrupted', 'status --json: interrupted, not live');

    $r = run_pgshift($env, 'cutover', $plan);
    is($r->{rc}, 1, 'cutover with no live apply at the gate exits 1');
    like($r->{err}, qr/no pgshift apply of plan rs_gate is running \(run \S+ is interrupted and no process holds the plan's lock\); there is no cutover gate to approve/,
         'cutover says no apply is running');
    like($r->{err}, qr/hint: "pgshift apply \Q$plan\E" resumes the run and waits at the gate/,
         'cutover says how to get a gate to approve');
    is(psql($tgt, "SELECT approved_at IS NULL FROM pgshift.runs WHERE plan = 'rs_gate'"), 't',
       'no approval was stored for the dead run');

    $pid = start_apply($env, $plan, "$dir/gate2.err");
    ok(wait_until(sub { $at_gate->("$dir/gate2.err") }, 60, $pid), 'the resumed apply waits at the gate again')
        or diag(slurp("$dir/gate2.err"));
    sleep 2;
    is(waitpid($pid, POSIX::WNOHANG()), 0, 'it does not pass the gate on its own');
    is(psql($tgt, "SELECT status FROM pgshift.steps WHERE plan = 'rs_gate' AND step_id = 'cutover.gate'"),
       'running', 'the gate step is still running');
    $r = run_pgshift($env, 'cutover', $plan);
    is($r->{rc}, 0, 'cutover approves the live apply at the gate') or diag($r->{err});
    like($r->{out}, qr/^approved the cutover of plan rs_gate/m, 'cutover says what it approved');
    ok(wait_until(sub { waitpid($pid, POSIX::WNOHANG()) == $pid }, 60), 'apply ends after the approval');
    is($? >> 8, 0, 'and finishes') or diag(slurp("$dir/gate2.err"));
    identical($src, $tgt, 'after the gate');

    $r = run_pgshift($env, 'cutover', $plan);
    is($r->{rc}, 1, 'cutover of a finished run exits 1');
    like($r->{err}, qr/run \S+ is finished and no process holds the plan's lock/,
         'cutover says the run is finished');
}

# ---- b. the confirmation follows stdin, not stdout
# Runs apply with stdin on a pseudo-terminal that answers $answer, stdout and
# stderr into one pipe (as `2>&1 | tee log`); returns (exit code, output).
sub apply_on_pty {
    my ($env, $plan, $answer) = @_;
    my $py = <<'PY';
import os, pty, subprocess, sys
master, slave = pty.openpty()
p = subprocess.Popen(sys.argv[2:], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
os.close(slave)
os.write(master, sys.argv[1].encode() + b"\n")
out = p.communicate()[0]
sys.stdout.buffer.write(out)
sys.exit(p.returncode)
PY
    local %ENV = (%ENV, %$env);
    open(my $fh, '-|', 'python3', '-c', $py, $answer, pgshift_bin(), 'apply', $plan, '--no-progress')
        or die "python3: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

{
    my ($plan, $env, $src, $tgt) = pair('rs_confirm', $schema, <<'YAML');
cdc:
  enabled: false
cutover:
  approval: auto
cleanup:
  keep_state: true
YAML
    my ($rc, $out) = apply_on_pty($env, $plan, 'n');
    like($out, qr/pgshift will apply plan "rs_confirm": 2 tables, \d+ steps,\r?\n  from the source database "\w+" on \S+:\d+\r?\n  into the target database "\w+" on \S+:\d+\.\r?\nProceed\? \[y\/N\]/,
         'stdin a terminal, stdout piped: the confirmation is asked');
    is($rc, 1, 'answering n exits 1');
    like($out, qr/nothing was changed/, 'and says nothing was changed');
    is(psql($tgt, "SELECT to_regclass('pgshift.runs') IS NULL AND to_regclass('public.items') IS NULL"), 't',
       'the target was not touched');

    ($rc, $out) = apply_on_pty($env, $plan, 'y');
    is($rc, 0, 'answering y applies the plan') or diag($out);
    identical($src, $tgt, 'after a confirmed apply');

    my $r = run_pgshift($env, 'apply', $plan, '--no-progress');
    unlike($r->{err}, qr/Proceed\?/, 'without a terminal on stdin nothing is asked');
    is($r->{rc}, 0, 'and the (finished) run is applied again without a question');
}

# ---- c. SIGTERM while the target builds an index; a second SIGINT exits at once
{
    # the index expression sleeps 10 ms a row on the target (the source built it fast)
    my ($plan, $env, $src, $tgt) = pair('rs_signal', <<'SQL', <<'YAML');
CREATE FUNCTION public.slow_key(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1';
CREATE TABLE public.t (id int PRIMARY KEY, v text);
INSERT INTO public.t SELECT g, md5(g::text) FROM generate_series(1, 3000) g;
CREATE INDEX t_slow ON public.t (public.slow_key(id));
CREATE OR REPLACE FUNCTION public.slow_key(int) RETURNS int LANGUAGE sql IMMUTABLE
  AS 'SELECT $1 FROM (SELECT pg_sleep(0.01)) s';
SQL
cdc:
  enabled: false
cutover:
  approval: auto
cleanup:
  keep_state: true
YAML
    my $building = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                 . " AND query LIKE 'CREATE INDEX%t_slow%'";
    my $pid = start_apply($env, $plan, "$dir/sig1.err");
    ok(wait_until(sub { (eval { psql($tgt, $building) } // 0) > 0 }, 60, $pid),
       'the target is building the slow index') or diag(slurp("$dir/sig1.err"));
    my $t0 = time;
    kill 'TERM', $pid;
    ok(wait_until(sub { waitpid($pid, POSIX::WNOHANG()) == $pid }, 10), 'apply exits within 10 s of SIGTERM')
        or kill('KILL', $pid);
    my $status = $?;
    ok(!($status & 127) && ($status >> 8) == 143, 'it exits with code 143 (128 + SIGTERM)')
        or diag("wait status $status after " . (time - $t0) . ' s');
    my $log = slurp("$dir/sig1.err");
    like($log, qr/received SIGTERM: stopping; no new step starts and running ones are cancelled/,
         'it says it is stopping');
    like($log, qr/run \S+ of plan "rs_signal" was interrupted by SIGTERM/, 'it says the run was interrupted');
    like($log, qr/hint: "pgshift apply \Q$plan\E" resumes it/, 'and how to resume');
    is(psql($tgt, $building), 0, 'the index build was cancelled on the target');
    is(psql($tgt, "SELECT status FROM pgshift.runs WHERE plan = 'rs_signal'"), 'interrupted',
       'the state records the run interrupted');
    like(run_pgshift($env, 'status', $plan)->{out}, qr/^status\s+interrupted \(no apply is running/m,
         'status shows it interrupted');

    # the resume builds the index quickly: it is the same index, without the sleep
    psql($tgt, "CREATE OR REPLACE FUNCTION public.slow_key(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT \$1'");
    my $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress');
    is($r->{rc}, 0, 'apply resumes the interrupted run and finishes') or diag($r->{err});
    identical($src, $tgt, 'after the interrupted run');
    is(psql($tgt, "SELECT string_agg(step_id || '=' || attempts, ',' ORDER BY step_id) FROM pgshift.steps"
             . " WHERE plan = 'rs_signal' AND step_id IN ('copy:public.t', 'index:public.t_slow')"),
       'copy:public.t=1,index:public.t_slow=2', 'the copy ran once, the cancelled index build again');
}

# ---- d. a second signal ends the process at once, whatever the stop waits for
{
    my ($plan, $env, $src, $tgt) = pair('rs_twice', $schema, <<'YAML');
cdc:
  enabled: false
cutover:
  approval: auto
  steps:
    - lua: slow.lua
cleanup:
  keep_state: true
YAML
    (my $pdir = $plan) =~ s{/[^/]+$}{};
    open(my $fh, '>', "$pdir/slow.lua") or die; print $fh "return function() if pgshift.env('SLOW_HOOK') then pgshift.sleep(30) end end\n"; close $fh;
    my $pid = start_apply({ %$env, SLOW_HOOK => 1 }, $plan, "$dir/twice.err");
    ok(wait_until(sub { (eval { psql($tgt, "SELECT count(*) FROM pgshift.steps WHERE step_id LIKE 'cutover.%:lua'"
                                          . " AND status = 'running'") } // 0) > 0 }, 60, $pid),
       'apply runs a slow cutover hook') or diag(slurp("$dir/twice.err"));
    kill 'INT', $pid;
    ok(wait_until(sub { slurp("$dir/twice.err") =~ /received SIGINT: stopping/ }, 5), 'the first SIGINT starts the stop');
    my $t0 = time;
    kill 'INT', $pid;
    ok(wait_until(sub { waitpid($pid, POSIX::WNOHANG()) == $pid }, 3), 'the second SIGINT ends apply at once')
        or kill('KILL', $pid);
    is($? & 127, 2, 'apply was ended by SIGINT itself');
    like(slurp("$dir/twice.err"), qr/received SIGINT again: exiting at once/, 'it says so');
    like(run_pgshift($env, 'status', $plan)->{out}, qr/^status\s+interrupted/m, 'status shows the run interrupted');
    my $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress');
    is($r->{rc}, 0, 'a later apply finishes the run') or diag($r->{err});
    identical($src, $tgt, 'after two signals');
}

# ---- e. --until pauses the run; a later apply continues it (CDC kept going)
{
    my ($plan, $env, $src, $tgt) = pair('rs_until', $schema, <<'YAML');
cdc:
  enabled: true
  max_lag: 2s
cutover:
  approval: auto
cleanup:
  keep_state: true
YAML
    my $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress', '--until', 'copy');
    is($r->{rc}, 0, 'apply --until copy exits 0') or diag($r->{err});
    like($r->{err}, qr/paused after "copy" as --until asked; "pgshift apply \Q$plan\E" continues the run/,
         'it says the run is paused and how to continue');
    is(psql($tgt, "SELECT status || ' ' || paused_step FROM pgshift.runs WHERE plan = 'rs_until'"),
       'paused copy', 'the state records the run paused at copy');
    like(run_pgshift($env, 'status', $plan)->{out}, qr/^status\s+paused at copy \("pgshift apply \Q$plan\E" continues it\)$/m,
         'status shows where it paused');
    is(psql($tgt, "SELECT count(*) FROM pgshift.steps WHERE plan = 'rs_until' AND step_id LIKE 'cutover%'"
             . " AND status = 'done'"), 0, 'no cutover step ran');
    psql($src, "INSERT INTO public.items (v) SELECT 'after pause ' || g FROM generate_series(1, 50) g;"
             . " UPDATE public.notes SET body = 'changed' WHERE id <= 10");

    $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress', '--until', 'cdc.catchup');
    is($r->{rc}, 0, 'apply --until cdc.catchup continues the paused run') or diag($r->{err});
    like($r->{err}, qr/resuming run/, 'it resumes the same run');
    is(psql($tgt, "SELECT status || ' ' || paused_step FROM pgshift.runs WHERE plan = 'rs_until'"),
       'paused cdc.catchup', 'paused again, at cdc.catchup');
    my $slot = psql($src, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgshift_rs_until'");
    is($slot, 1, 'the slot is kept while paused');

    $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress');
    is($r->{rc}, 0, 'a plain apply finishes the run') or diag($r->{err});
    is(psql($tgt, "SELECT status || ' ' || coalesce(paused_step, '-') FROM pgshift.runs WHERE plan = 'rs_until'"),
       'finished -', 'the run is finished');
    is(psql($tgt, "SELECT max(attempts) FROM pgshift.steps WHERE plan = 'rs_until' AND step_id LIKE 'copy:%'"),
       1, 'no table was copied twice');
    identical($src, $tgt, 'after --until twice and a final apply');
}

# ---- f. kill -9 during an index build: the resume first ends the dead run's build
{
    my ($plan, $env, $src, $tgt) = pair('rs_dead', <<'SQL', <<'YAML');
CREATE FUNCTION public.slow_key(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1';
CREATE TABLE public.t (id int PRIMARY KEY, v text);
INSERT INTO public.t SELECT g, md5(g::text) FROM generate_series(1, 1000) g;
CREATE INDEX t_slow ON public.t (public.slow_key(id));
CREATE OR REPLACE FUNCTION public.slow_key(int) RETURNS int LANGUAGE sql IMMUTABLE
  AS 'SELECT $1 FROM (SELECT pg_sleep(0.01)) s';
SQL
cdc:
  enabled: false
cutover:
  approval: auto
cleanup:
  keep_state: true
YAML
    my $building = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                 . " AND query LIKE 'CREATE INDEX%t_slow%'";
    my $pid = start_apply($env, $plan, "$dir/dead1.err");
    ok(wait_until(sub { (eval { psql($tgt, $building) } // 0) > 0 }, 60, $pid),
       'the target is building the slow index') or diag(slurp("$dir/dead1.err"));
    kill 'KILL', $pid;
    waitpid($pid, 0);
    is(psql($tgt, $building), 1, 'after kill -9 the dead run\'s index build goes on on the target');
    my $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress');
    is($r->{rc}, 0, 'the resume finishes') or diag($r->{err});
    like($r->{err}, qr/resume: ended [1-9]\d* session\(s\) the previous run left working on the servers/,
         'it first ended the dead run\'s session');
    like($r->{err}, qr/ended \d+ session.*index:public\.t_slow: started/s, 'before building the index again');
    identical($src, $tgt, 'after a kill -9 during an index build');
    is(psql($tgt, "SELECT count(*) FROM pg_indexes WHERE indexname = 't_slow'"), 1, 'the index exists once');
}

# ---- g. a table grown past the split threshold while the run waited at the gate
{
    my ($plan, $env, $src, $tgt) = pair('rs_grow', <<'SQL', <<'YAML', <<'COPY');
CREATE TABLE public.grow (id int PRIMARY KEY, pad text);
CREATE TABLE public.small (id int PRIMARY KEY, v text);
INSERT INTO public.grow SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 3000) g;
INSERT INTO public.small SELECT g, 'v' || g FROM generate_series(1, 100) g;
ANALYZE;
SQL
cdc:
  enabled: true
  max_lag: 2s
cutover:
  approval: manual
cleanup:
  keep_state: true
YAML
  split_tables_larger_than: 1MB
  split_max_parts: 4
COPY
    my $at_gate = sub { my ($log) = @_; slurp($log) =~ /cutover gate: waiting for approval/ };
    my $pid = start_apply($env, $plan, "$dir/grow1.err");
    ok(wait_until(sub { $at_gate->("$dir/grow1.err") }, 90, $pid), 'apply waits at the gate')
        or diag(slurp("$dir/grow1.err"));
    is(psql($tgt, "SELECT string_agg(step_id, ',') FROM pgshift.steps WHERE plan = 'rs_grow'"
             . " AND step_id LIKE 'copy:public.grow%'"), 'copy:public.grow', 'grow was copied in one part');
    kill 'KILL', $pid;
    waitpid($pid, 0);
    my $slot = psql($src, "SELECT xmin IS NULL, catalog_xmin::text FROM pg_replication_slots"
                        . " WHERE slot_name = 'pgshift_rs_grow'");
    psql($src, "INSERT INTO public.grow SELECT g, repeat(md5(g::text), 8) FROM generate_series(3001, 12000) g; ANALYZE");
    cmp_ok(psql($src, "SELECT pg_table_size('public.grow')"), '>', 1024 * 1024, 'grow is now past the split threshold');
    like(run_pgshift($env, 'plan', $plan, '--verbose')->{out}, qr{copy:public\.grow#1/\d}, 'a new plan would split it');

    $pid = start_apply($env, $plan, "$dir/grow2.err");
    ok(wait_until(sub { $at_gate->("$dir/grow2.err") }, 90, $pid), 'the resume waits at the gate again')
        or diag(slurp("$dir/grow2.err"));
    my $log = slurp("$dir/grow2.err");
    like($log, qr/resume: \d+ step\(s\) done, skipped: [^\n]*\bcopy:public\.grow(,|\n)/,
         'the resume runs the recorded DAG: it says the recorded copy of grow is done and skipped');
    unlike($log, qr{copy:public\.grow#}, 'grow keeps its recorded split (one part): no part step appears');
    unlike($log, qr/copied again|copy:public\.\w+(#\S+)?: started/, 'no table is copied again');
    # the kept slot's catalog_xmin may advance as the resumed stream confirms, a new slot's never goes back
    unlike($log, qr/created replication slot "pgshift_rs_grow"/, 'the slot is the original one: none is created');
    my ($was) = $slot =~ /\|(\d+)$/;
    is(psql($src, "SELECT xmin IS NULL AND catalog_xmin::text::bigint >= $was FROM pg_replication_slots"
                . " WHERE slot_name = 'pgshift_rs_grow'"), 't', 'and it is still there, its catalog_xmin not behind');
    is(psql($tgt, "SELECT string_agg(step_id || '=' || attempts, ',' ORDER BY step_id) FROM pgshift.steps"
             . " WHERE plan = 'rs_grow' AND step_id LIKE 'copy:%'"),
       'copy:public.grow=1,copy:public.small=1', 'each table was copied once');
    my $r = run_pgshift($env, 'cutover', $plan);
    is($r->{rc}, 0, 'cutover approves the resumed run') or diag($r->{err});
    ok(wait_until(sub { waitpid($pid, POSIX::WNOHANG()) == $pid }, 90), 'apply ends');
    is($? >> 8, 0, 'and finishes') or diag(slurp("$dir/grow2.err"));
    identical($src, $tgt, 'a table grown past the split threshold at the gate');
}

# ---- h. SIGINT while the cutover verify waits: its queries are cancelled
{
    my ($plan, $env, $src, $tgt) = pair('rs_verify', $schema, <<'YAML');
cdc:
  enabled: false
cutover:
  approval: manual
  steps:
    - sync_sequences: {}
    - verify: { level: checksum }
cleanup:
  keep_state: true
YAML
    my $pid = start_apply($env, $plan, "$dir/verify.err");
    ok(wait_until(sub { slurp("$dir/verify.err") =~ /cutover gate: waiting for approval/ }, 60, $pid),
       'apply waits at the gate') or diag(slurp("$dir/verify.err"));
    open(my $locker, '|-', 'psql', '-X', '-q', '-d', $tgt) or die;
    { my $old = select($locker); $| = 1; select($old); }
    print $locker "BEGIN; LOCK TABLE public.notes IN ACCESS EXCLUSIVE MODE;\n";
    ok(wait_until(sub { (eval { psql($tgt, "SELECT count(*) FROM pg_locks WHERE relation = 'public.notes'::regclass"
                                         . " AND mode = 'AccessExclusiveLock' AND granted") } // 0) == 1 }, 20),
       'a session on the target locks public.notes');
    is(run_pgshift($env, 'cutover', $plan)->{rc}, 0, 'cutover approved');
    my $waiting = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgshift % cutover verify'"
                . " AND wait_event_type = 'Lock'";
    ok(wait_until(sub { (eval { psql($tgt, $waiting) } // 0) > 0 }, 60, $pid),
       'the cutover verify waits for the lock') or diag(slurp("$dir/verify.err"));
    my $t0 = time;
    kill 'INT', $pid;
    my $exited = wait_until(sub { waitpid($pid, POSIX::WNOHANG()) == $pid }, 10);
    my $status = $?;
    kill('KILL', $pid) unless $exited;
    ok($exited && !($status & 127) && ($status >> 8) == 130,
       sprintf('apply exits 130 within 10 s of SIGINT (%.1f s)', time - $t0)) or diag(slurp("$dir/verify.err"));
    like(slurp("$dir/verify.err"), qr/run \S+ of plan "rs_verify" was interrupted by SIGINT/, 'it says the run was interrupted');
    is(psql($tgt, $waiting), 0, 'the verify\'s query was cancelled on the target');
    close($locker);
    # the gate was passed: the resume does not wait at it again
    my $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress');
    is($r->{rc}, 0, 'the resume verifies and finishes') or diag($r->{err});
    like($r->{err}, qr/cutover\.2:verify: started.*verify checksum of plan rs_verify/s, 'its verify ran again');
    identical($src, $tgt, 'after the interrupted verify');
}

done_testing();
