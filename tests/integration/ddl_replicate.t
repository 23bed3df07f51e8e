# Schema changes replicated during CDC (cdc.ddl: replicate), through
# `pgshift apply` on real servers: one source and one target database per
# case, every apply online with a manual gate and the cutover fence_writes,
# wait_for_catchup, sync_sequences, verify (checksum). Each apply waits at
# its gate; then its case's DDL is run on the source by the application's
# role, while pgbench writes, and the cutover is approved.
#   - main: CREATE TABLE + rows (alone and in one transaction), ADD COLUMN
#     with a default, DROP COLUMN, ALTER COLUMN TYPE, CREATE INDEX, ATTACH
#     PARTITION, each followed by DML; DML before and after a DDL of the
#     same table in one transaction (a new table, an existing one); a DDL
#     on a table or in a schema the filters exclude is skipped, and logged. After the cutover `pg_dump --schema-only` of both sides
#     (pgshift's objects excluded) is identical, every table's rows are
#     (psql COPY of both), and cleanup removed the capture from the source;
#   - needs_excluded: a DDL that needs an object the filters leave out fails
#     on the target: apply exits 1 naming the statement and the LSN;
#   - nested: a DDL run by a DO block: apply exits 1 naming why;
#     main also converts columns with ALTER COLUMN TYPE ... USING an
#     immutable expression, creates and refreshes a materialized view
#     (its rows compared apart), creates schemas the filters include
#     (with tables and rows) and one they exclude (skipped), and runs the
#     neighbours: CREATE TABLE (LIKE ...), ADD COLUMN GENERATED ... STORED,
#     identity RESTART, CLUSTER, VACUUM FULL, TRUNCATE, REPLICA IDENTITY
#     FULL, RENAME COLUMN and RENAME of a table, each followed by DML;
#   - volatile, ctas: ADD COLUMN with a default that is not immutable, and
#     CREATE TABLE AS, whose rows the stream lacks: apply exits 1 naming why;
#   - move_in, move_out: ALTER TABLE ... SET SCHEMA from an excluded schema
#     into a migrated one (its rows were never copied nor streamed) and
#     back: apply exits 1 naming the table;
#   - unlogged: CREATE UNLOGGED TABLE, whose rows the stream lacks: apply
#     exits 1 naming the table (SET UNLOGGED of a published table the
#     source refuses itself);
#   - using_volatile, using_clock, mv_volatile: ALTER COLUMN TYPE ... USING
#     random() / clock_timestamp(), and a materialized view of random():
#     apply exits 1 naming why, the statement and the LSN;
#   - grant_role: a GRANT to a role only the source has stops naming the
#     role and the fix; after CREATE ROLE on the target, apply resumes;
#   - streamed: one transaction of ADD COLUMN + 20,000 rows using it, with
#     logical_decoding_work_mem = 64kB for the source database, so pgoutput
#     streams it (checked in pg_stat_replication_slots);
#   - nokey: a table created without a key is not published (its UPDATE on
#     the source still works); with rows, the cutover stops naming it;
#   - during_copy: DDL while a table is being copied (CREATE INDEX on it,
#     ADD COLUMN and CREATE TABLE beside it) is applied once, from the
#     stream: the schema dumps read the slot's snapshot;
#   - crash_copy: the same DDL during the copy, then apply is killed
#     (SIGKILL) before the copy ends: the resume, without the slot's
#     snapshot, restores schema.post's archive dumped on it, and the stream
#     brings the DDL once; both sides end identical;
#   - crash: apply is killed (SIGKILL) right after a DDL committed on the
#     target; the resume applies it once (an ADD COLUMN twice would fail),
#     then DDL more, and both sides end identical; reset drops the table the
#     replicated DDL created too, and cleanup the capture.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(sleep time);
use PgShift::Cluster;
use PgShift::Run qw(:DEFAULT run_ended wait_for_run);
use PgShift::Compare qw(user_tables compare_table);

# one apply per case, each with its slot and walsender (and a resume's temporary one)
$ENV{PGSHIFT_PG_EXTRA_CONF} = "max_wal_senders = 40\nmax_replication_slots = 40\nmax_connections = 250";
my $c = start_clusters();
my ($src0, $tgt0) = ($c->{source_uri}, $c->{target_uri});
my $dir = tempdir(CLEANUP => 1);
my $pgbin = '/usr/lib/postgresql/15/bin';

my $base = <<'SQL';
CREATE SCHEMA app AUTHORIZATION ddl_app;
CREATE SCHEMA scratch;
CREATE TABLE scratch.ref (id int PRIMARY KEY);
GRANT USAGE, CREATE ON SCHEMA scratch TO ddl_app;
GRANT REFERENCES ON scratch.ref TO ddl_app;
CREATE TABLE scratch.mv (id int PRIMARY KEY);
INSERT INTO scratch.mv VALUES (1);
ALTER TABLE scratch.mv OWNER TO ddl_app;
SET ROLE ddl_app;
CREATE TABLE app.t (id int PRIMARY KEY, a int NOT NULL, b text);
INSERT INTO app.t SELECT g, g * 10, 'b' || g FROM generate_series(1, 200) g;
CREATE TABLE app.load (id bigserial PRIMARY KEY, v int);
CREATE TABLE app.p (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE app.p_1 PARTITION OF app.p FOR VALUES FROM (0) TO (100);
INSERT INTO app.p SELECT g, 'v' || g FROM generate_series(0, 99) g;
CREATE TABLE app.skip_me (id int PRIMARY KEY, v text);
INSERT INTO app.skip_me VALUES (1, 'one');
RESET ROLE;
SQL

# name => the DDL and DML run on the source at the gate, statement by statement
my %cases = (
    main => <<'SQL',
CREATE TABLE app.newt (id int PRIMARY KEY, v text);
INSERT INTO app.newt SELECT g, 'n' || g FROM generate_series(1, 50) g;
BEGIN;
CREATE TABLE app.newt2 (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text NOT NULL DEFAULT 'd');
INSERT INTO app.newt2 (v) SELECT 'x' || g FROM generate_series(1, 20) g;
COMMIT;
ALTER TABLE app.t ADD COLUMN c int DEFAULT 7;
UPDATE app.t SET c = c + id WHERE id <= 10;
INSERT INTO app.t (id, a, b) VALUES (1001, 1, 'after add');
ALTER TABLE app.t DROP COLUMN b;
UPDATE app.t SET a = a + 1 WHERE id <= 5;
INSERT INTO app.t (id, a, c) VALUES (1002, 2, 2);
ALTER TABLE app.t ALTER COLUMN a TYPE bigint;
UPDATE app.t SET a = a * 1000000000 WHERE id = 3;
CREATE INDEX t_c_idx ON app.t (c);
INSERT INTO app.t (id, a, c) VALUES (1003, 3, 3);
DELETE FROM app.t WHERE id = 4;
CREATE TABLE app.p_2 (id int NOT NULL, v text);
ALTER TABLE app.p ATTACH PARTITION app.p_2 FOR VALUES FROM (100) TO (200);
INSERT INTO app.p SELECT g, 'w' || g FROM generate_series(100, 150) g;
UPDATE app.p SET v = v || '!' WHERE id IN (5, 105);
ALTER TABLE app.skip_me ADD COLUMN z int;
INSERT INTO app.skip_me VALUES (2, 'two', 2);
CREATE TABLE scratch.more (id int PRIMARY KEY);
UPDATE app.newt SET v = 'changed' WHERE id = 1;
BEGIN;
CREATE TABLE app.y_tx (id int PRIMARY KEY, v int);
INSERT INTO app.y_tx VALUES (1, 1), (2, 2);
ALTER TABLE app.y_tx ADD COLUMN w text DEFAULT 'w';
INSERT INTO app.y_tx VALUES (3, 3, 'three');
UPDATE app.y_tx SET v = v + 10 WHERE id = 1;
COMMIT;
BEGIN;
INSERT INTO app.newt VALUES (51, 'before');
UPDATE app.newt SET v = 'upd' WHERE id = 2;
ALTER TABLE app.newt ADD COLUMN w int DEFAULT 5;
INSERT INTO app.newt VALUES (52, 'after', 6);
UPDATE app.newt SET w = 9 WHERE id = 3;
COMMIT;
ALTER TABLE app.newt ALTER COLUMN v SET DEFAULT now()::text;
INSERT INTO app.newt (id, w) VALUES (53, 1);
GRANT SELECT, INSERT ON app.newt TO PUBLIC;
REVOKE INSERT ON app.newt FROM PUBLIC;
GRANT SELECT (a) ON app.t TO PUBLIC;
CREATE UNIQUE INDEX CONCURRENTLY y_tx_v_idx ON app.y_tx (v);
ALTER TABLE app.newt ALTER COLUMN w TYPE bigint USING w::bigint * 2 + length(v);
ALTER TABLE app.y_tx ALTER COLUMN w TYPE varchar(20) USING upper(w) || '!';
CREATE TABLE app.tz (id int PRIMARY KEY, at timestamptz, d text);
INSERT INTO app.tz VALUES (1, '2024-03-10 12:00:00+00', '10/03/2024'), (2, '2024-07-01 23:30:00+00', '01/12/2023');
SET TimeZone = 'America/New_York';
SET DateStyle = 'SQL, DMY';
ALTER TABLE app.tz ALTER COLUMN at TYPE timestamp;
ALTER TABLE app.tz ALTER COLUMN d TYPE date USING d::date;
RESET TimeZone;
RESET DateStyle;
INSERT INTO app.tz VALUES (3, '2024-01-01 00:00:00', '2024-01-02');
UPDATE app.newt SET w = w + 1 WHERE id = 5;
CREATE MATERIALIZED VIEW app.mv AS SELECT id, a, c FROM app.t WHERE id <= 20 OR id > 1000;
INSERT INTO app.t (id, a, c) VALUES (1004, 4, 4);
UPDATE app.t SET c = 100 WHERE id = 6;
REFRESH MATERIALIZED VIEW app.mv;
CREATE MATERIALIZED VIEW app.mv_later AS SELECT id FROM app.newt WITH NO DATA;
CREATE TABLE app.like_t (LIKE app.newt INCLUDING ALL);
INSERT INTO app.like_t SELECT * FROM app.newt WHERE id <= 10;
ALTER TABLE app.t ADD COLUMN a2 bigint GENERATED ALWAYS AS (a * 2) STORED;
UPDATE app.t SET a = a + 1 WHERE id = 7;
ALTER TABLE app.newt2 ALTER COLUMN id RESTART WITH 1000;
INSERT INTO app.newt2 (v) VALUES ('after restart');
CLUSTER app.t USING t_pkey;
VACUUM FULL app.newt;
TRUNCATE app.like_t;
INSERT INTO app.like_t (id, v, w) VALUES (1, 'after truncate', 1);
ALTER TABLE app.newt REPLICA IDENTITY FULL;
UPDATE app.newt SET v = 'full identity' WHERE id = 8;
DELETE FROM app.newt WHERE id = 9;
ALTER TABLE app.y_tx RENAME COLUMN v TO v2;
UPDATE app.y_tx SET v2 = v2 + 100 WHERE id = 2;
ALTER TABLE app.like_t RENAME TO like_renamed;
INSERT INTO app.like_renamed (id, v, w) VALUES (2, 'after rename', 2);
CREATE INDEX CONCURRENTLY newt_tmp ON app.newt (w);
DROP INDEX CONCURRENTLY app.newt_tmp;
SQL
    needs_excluded => <<'SQL',
ALTER TABLE app.t ADD COLUMN r int REFERENCES scratch.ref (id);
INSERT INTO app.t (id, a) VALUES (1001, 1);
SQL
    nested => <<'SQL',
DO $$ BEGIN EXECUTE 'ALTER TABLE app.t ADD COLUMN q int'; END $$;
INSERT INTO app.t (id, a) VALUES (1001, 1);
SQL
    volatile => <<'SQL',
ALTER TABLE app.t ADD COLUMN ts timestamptz DEFAULT now();
INSERT INTO app.t (id, a) VALUES (1001, 1);
SQL
    using_volatile => <<'SQL',
ALTER TABLE app.t ALTER COLUMN a TYPE bigint USING a + (random() * 10)::int;
INSERT INTO app.t (id, a) VALUES (1001, 1);
SQL
    using_clock => <<'SQL',
ALTER TABLE app.t ALTER COLUMN b TYPE timestamptz USING clock_timestamp();
INSERT INTO app.t (id, a) VALUES (1001, 1);
SQL
    mv_volatile => <<'SQL',
CREATE MATERIALIZED VIEW app.mvr AS SELECT id, random() AS r FROM app.t;
INSERT INTO app.t (id, a) VALUES (1001, 1);
SQL
    grant_role => <<'SQL',
GRANT SELECT ON app.t TO ddl_auditor;
INSERT INTO app.t (id, a) VALUES (1001, 1);
SQL
    streamed => <<'SQL',
BEGIN;
ALTER TABLE app.t ADD COLUMN s int;
INSERT INTO app.t (id, a, b, s) SELECT g, g, 'streamed ' || g, g * 2 FROM generate_series(10000, 29999) g;
UPDATE app.t SET s = -1 WHERE id <= 10;
COMMIT;
SQL
    ctas => <<'SQL',
CREATE TABLE app.x AS SELECT id, random() AS r FROM app.t;
INSERT INTO app.t (id, a) VALUES (1001, 1);
SQL
    move_in => <<'SQL',
ALTER TABLE scratch.mv SET SCHEMA app;
INSERT INTO app.mv VALUES (2);
SQL
    move_out => <<'SQL',
ALTER TABLE app.t SET SCHEMA scratch;
INSERT INTO scratch.t (id, a) VALUES (1001, 1);
SQL
    unlogged => <<'SQL',
CREATE UNLOGGED TABLE app.unl (id int PRIMARY KEY);
INSERT INTO app.unl VALUES (1);
SQL
    nokey => <<'SQL',
CREATE TABLE app.nokey (v int);
INSERT INTO app.nokey VALUES (1);
UPDATE app.nokey SET v = 2;
SQL
    crash => <<'SQL',
ALTER TABLE app.t ADD COLUMN c int DEFAULT 7;
INSERT INTO app.t (id, a, b, c) VALUES (1001, 1, 'after add', 70);
SQL
);
# run while app.t is being copied (slowed), not at the gate: the schema dumps
# read the slot's snapshot, so the stream brings these, once
my $during_copy = <<'SQL';
CREATE INDEX t_a_idx ON app.t (a);
CREATE TABLE app.copy_time (id int PRIMARY KEY);
INSERT INTO app.copy_time VALUES (1);
SQL
# after those: the copy worker that copied app.load may hold its lock until
# its copy of app.t ends, so this one may wait for the copy
my $during_copy_late = <<'SQL';
ALTER TABLE app.load ADD COLUMN w int DEFAULT 1;
INSERT INTO app.load (v, w) VALUES (1, 2);
SQL

# after the resume of crash: one DDL more
my $crash_more = <<'SQL';
CREATE INDEX t_c_idx ON app.t (c);
UPDATE app.t SET c = -c WHERE id <= 3;
CREATE TABLE app.made_later (id int PRIMARY KEY);
INSERT INTO app.made_later VALUES (1), (2);
SQL

for my $uri ($src0, $tgt0) { psql($uri, "CREATE ROLE ddl_app LOGIN"); }
# a role made on the source during CDC, which no event trigger sees
psql($src0, "CREATE ROLE ddl_auditor NOLOGIN");

sub slurp { my ($f) = @_; open(my $fh, "<", $f) or return ""; local $/; return <$fh> // ""; }

sub uri_of { my ($uri, $db) = @_; (my $u = $uri) =~ s{/postgres$}{/$db}; return $u; }
sub as_app { my ($uri) = @_; (my $u = $uri) =~ s{//postgres@}{//ddl_app@}; return $u; }

sub plan_for {
    my ($name) = @_;
    psql($src0, "CREATE DATABASE $name");
    psql($tgt0, "CREATE DATABASE $name");
    my ($src, $tgt) = (uri_of($src0, $name), uri_of($tgt0, $name));
    psql($src, $base);
    # its walsender streams every transaction larger than this (protocol v2 streaming)
    psql($src0, "ALTER DATABASE $name SET logical_decoding_work_mem = '64kB'") if $name eq 'streamed';
    my $pdir = tempdir(CLEANUP => 1);
    # crash keeps its state after the cutover, for reset
    my $cleanup = $name eq 'crash' ? 'manual' : 'after_cutover';
    my $path = write_plan(<<"YAML", $pdir);
version: 1
name: $name
source: { uri: "\${SOURCE_URI}" }
target: { uri: "\${TARGET_URI}" }
filters: { exclude_schemas: [scratch, "scratch_*"], exclude_tables: [app.skip_me] }
copy: { table_jobs: 2, index_jobs: 2, vacuum_analyze: false }
cdc: { enabled: true, max_lag: 2s, ddl: replicate }
cutover:
  approval: manual
  steps:
    - fence_writes: { roles: [ddl_app] }
    - wait_for_catchup: { timeout: 60s }
    - sync_sequences: { margin: 0 }
    - verify: { level: checksum }
cleanup: { when: $cleanup }
YAML
    return { plan => $path, src => $src, tgt => $tgt,
             env => { SOURCE_URI => $src, TARGET_URI => $tgt } };
}

sub start_apply {
    my ($r, $log, %extra) = @_;
    my $pid = fork() // die;
    if ($pid == 0) {
        $ENV{$_} = $r->{env}{$_} for keys %{ $r->{env} };
        $ENV{$_} = $extra{$_} for keys %extra;
        open(STDIN, '<', '/dev/null'); open(STDOUT, '>', "$log.out"); open(STDERR, '>', $log);
        exec(pgshift_bin(), 'apply', $r->{plan}, '--yes', '--no-progress') or die;
    }
    $r->{rc} = undef;
    $r->{signal} = undef;
    return $pid;
}

# An apply that ended keeps its exit code in $r->{rc}, a signal in $r->{signal}.


# psql -f: each statement is sent on its own, as an application sends them
sub run_statements {
    my ($uri, $sql) = @_;
    my $f = "$dir/stmts.$$.sql";
    open(my $fh, '>', $f) or die; print $fh $sql; close $fh;
    my $out = `psql -X -q -v ON_ERROR_STOP=1 -d '$uri' -f '$f' 2>&1`;
    die "psql -f failed: $out\n" if $?;
}

sub schema_dump {
    my ($uri, @extra) = @_;
    my $out = `pg_dump --schema-only --no-publications --exclude-schema=pgshift @extra '$uri' 2>&1`;
    die "pg_dump failed: $out" if $?;
    # comments and pg_dump's random \restrict key are not the schema, nor the
    # capture a plan with cleanup: manual leaves until cleanup (checked apart)
    return join '', grep { !/^(--|\\restrict|\\unrestrict|\s*$)|pgshift_ddl_capture_|EXECUTE FUNCTION pgshift\.ddl_capture/ }
        split /^/m, $out;
}

sub dump_diff {
    my ($s, $t) = @_;
    for (['src', $s], ['tgt', $t]) {
        open(my $fh, '>', "$dir/dump.$_->[0]") or die; print $fh $_->[1]; close $fh;
    }
    return scalar `diff $dir/dump.src $dir/dump.tgt`;
}

sub same_rows {
    my ($r, @skip) = @_;
    my %skip = map { $_ => 1 } @skip;
    my @diff;
    for my $t (@{ user_tables($r->{src}) }) {
        next if $t->[0] =~ /^scratch/ || $skip{"$t->[0].$t->[1]"};
        my ($rows, $d) = compare_table($r->{src}, $r->{tgt}, @$t);
        push @diff, $d if $d;
    }
    return join("\n", @diff);
}

$cases{during_copy} = "UPDATE app.t SET a = a + 1 WHERE id = 1;\n";
$cases{crash_copy} = "UPDATE app.t SET a = a + 1 WHERE id = 2;\n";
my @names = sort keys %cases;
my %run;
# during_copy last: the creation of the other cases' databases takes longer than its slowed copy
for my $name ((grep { $_ ne 'during_copy' } @names), 'during_copy') {
    $run{$name} = plan_for($name);
    $run{$name}{log} = "$dir/$name.err";
    my %env = $name eq 'crash' ? (PGSHIFT_TEST_HOOKS => 1, PGSHIFT_TEST_CRASH_AT => 'cdc.ddl_applied')
        : $name eq 'during_copy' ? (PGSHIFT_TEST_HOOKS => 1, PGSHIFT_TEST_COPY_DELAY_US => 100000)
        : $name eq 'crash_copy' ? (PGSHIFT_TEST_HOOKS => 1, PGSHIFT_TEST_COPY_DELAY_US => 250000) : ();
    $run{$name}{pid} = start_apply($run{$name}, $run{$name}{log}, %env);
}
{
    my $r = $run{during_copy};
    ok(wait_for_run(sub { slurp($r->{log}) =~ /copy:app\.t: started/ }, 120, $r),
       'during_copy: the copy of app.t started') or diag(slurp($r->{log}));
    run_statements(as_app($r->{src}), $during_copy);
    unlike(slurp($r->{log}), qr/copy:app\.t: done/, 'during_copy: the DDL ran while app.t was being copied');
    run_statements(as_app($r->{src}), $during_copy_late);
}
# crash_copy: the same DDL during the copy, then kill -9 before the copy ends; the
# resume (the slot's snapshot gone) restores schema.post's archive dumped on it
{
    my $r = $run{crash_copy};
    ok(wait_for_run(sub { slurp($r->{log}) =~ /copy:app\.t: started/ }, 120, $r),
       'crash_copy: the copy of app.t started') or diag(slurp($r->{log}));
    run_statements(as_app($r->{src}), $during_copy);
    ok(!run_ended($r) && slurp($r->{log}) !~ /copy:app\.t: done|schema\.post: started/,
       'crash_copy: the DDL ran while app.t was being copied, before schema.post')
        or diag(slurp($r->{log}));
    kill 'KILL', $r->{pid};
    waitpid($r->{pid}, 0);
    $r->{log} = "$dir/crash_copy.resume.err";
    $r->{pid} = start_apply($r, $r->{log});
}
for my $name (@names) {
    my $r = $run{$name};
    ok(wait_for_run(sub { slurp($r->{log}) =~ /cutover gate: waiting for approval/ }, 120, $r),
       "$name: apply reaches the cutover gate") or diag(slurp($r->{log}));
}

{
    my $r = $run{main};
    is(psql($r->{src}, "SELECT string_agg(evtname || ':' || evtevent, ',' ORDER BY evtname) FROM pg_event_trigger"),
       'pgshift_ddl_capture_drop:sql_drop,pgshift_ddl_capture_end:ddl_command_end',
       'main: the capture event triggers are on the source');
    is(psql($r->{tgt}, "SELECT count(*) FROM pg_event_trigger"), '0',
       'main: and not on the target (pg_dump of the source left them out)');
    my $plan = run_pgshift($r->{env}, 'plan', $r->{plan});
    like($plan->{out}, qr/event triggers pgshift_ddl_capture_end \(ddl_command_end\) and pgshift_ddl_capture_drop \(sql_drop\)/,
         'pgshift plan names the event triggers it creates');
    like($plan->{out}, qr/PASS\s+ddl_event_triggers\s+"postgres" is a superuser: it can create event triggers/,
         'preflight: a superuser may create the event triggers');
    # the application's role is no superuser: plan fails with the fix
    my $probe = write_plan(<<"YAML", tempdir(CLEANUP => 1));
version: 1
name: probe
source: { uri: "\${SOURCE_URI}" }
target: { uri: "\${TARGET_URI}" }
cdc: { ddl: replicate }
YAML
    my $p = run_pgshift({ SOURCE_URI => as_app($r->{src}), TARGET_URI => $r->{tgt} }, 'plan', $probe);
    is($p->{rc}, 2, 'preflight: plan exits 2 for a role that cannot create event triggers');
    like($p->{out}, qr/FAIL\s+ddl_event_triggers\s+"ddl_app" is not a superuser and no provider admin role: it cannot create event triggers \(cdc\.ddl: replicate\)/,
         'preflight: ddl_event_triggers names the role') or diag($p->{out});
    like($p->{out}, qr/ALTER ROLE "ddl_app" SUPERUSER \(on RDS\/Aurora: GRANT rds_superuser TO "ddl_app"\), or set cdc\.ddl: stop/,
         'preflight: and the fix');
}

# the DDL under writes: pgbench as the application's role on main
my $script = "$dir/load.sql";
open(my $sfh, '>', $script) or die;
print $sfh "\\set id random(1, 200)\nUPDATE app.p SET v = v WHERE id = :id % 100;\nINSERT INTO app.load (v) VALUES (:id);\n";
close $sfh;
my $load = fork() // die;
if ($load == 0) {
    open(STDOUT, '>', "$dir/pgbench.out"); open(STDERR, '>&', \*STDOUT);
    exec("$pgbin/pgbench", '-n', '-c', '2', '-T', '120', '-f', $script, as_app($run{main}{src})) or die;
}
sleep 1;
for my $name (@names) {
    run_statements(as_app($run{$name}{src}), $cases{$name});
}
# extensions need a superuser here
run_statements($run{main}{src}, <<'SQL');
CREATE EXTENSION citext SCHEMA app;
CREATE TABLE app.ci (id int PRIMARY KEY, v app.citext);
INSERT INTO app.ci VALUES (1, 'Abc');
CREATE EXTENSION hstore SCHEMA app;
DROP EXTENSION hstore;
CREATE SCHEMA extra;
CREATE TABLE extra.t (id int PRIMARY KEY, v text);
INSERT INTO extra.t SELECT g, 'e' || g FROM generate_series(1, 30) g;
CREATE SCHEMA extra2 CREATE TABLE t2 (id int PRIMARY KEY) CREATE INDEX t2_idx ON t2 (id);
INSERT INTO extra2.t2 VALUES (1), (2);
CREATE SCHEMA scratch_new;
CREATE TABLE scratch_new.x (id int PRIMARY KEY);
INSERT INTO scratch_new.x VALUES (1);
SQL
kill 'TERM', $load;
waitpid($load, 0);
ok(psql($run{main}{src}, "SELECT count(*) FROM app.load") > 0, 'pgbench wrote during the DDL');

# streamed: pgoutput sent the big transaction in chunks (the counter is the slot's, gone after cleanup)
ok(wait_for_run(sub { psql($run{streamed}{src}, "SELECT coalesce(sum(stream_txns), 0) FROM pg_stat_replication_slots WHERE slot_name = 'pgshift_streamed'") > 0 }, 30),
   'streamed: the source streamed the big transaction (pg_stat_replication_slots.stream_txns)');

# crash: SIGKILL right after the DDL committed on the target, then resume
{
    my $r = $run{crash};
    ok(wait_for_run(sub { run_ended($r) }, 60), 'crash: apply dies at cdc.ddl_applied');
    is($r->{signal}, 9, 'crash: by SIGKILL') or diag(slurp($r->{log}));
    like(slurp($r->{log}), qr/cdc\.ddl: applying ALTER TABLE of source transaction \d+ \(commit [0-9A-F]+\/[0-9A-F]+\)/,
         'crash: after applying the ALTER TABLE');
    is(psql($r->{tgt}, "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 't' AND column_name = 'c'"),
       '1', 'crash: the column is on the target, committed with the applied LSN');
    $r->{log} = "$dir/crash.resume.err";
    $r->{pid} = start_apply($r, $r->{log});
    ok(wait_for_run(sub { slurp($r->{log}) =~ /cutover gate: waiting for approval/ }, 120, $r),
       'crash: the resume reaches the gate') or diag(slurp($r->{log}));
    run_statements(as_app($r->{src}), $crash_more);
    unlike(slurp($r->{log}), qr/applying ALTER TABLE/, 'crash: the resume did not run the ALTER TABLE again');
    # killed again once the new table and index are on the target: the next
    # resume finds them in the source catalog, made by the stream, not drift
    ok(wait_for_run(sub { psql($r->{tgt}, "SELECT count(*) FROM pg_class WHERE relname = 'made_later'") eq '1' }, 60, $r),
       'crash: the new table reached the target');
    kill 'KILL', $r->{pid};
    waitpid($r->{pid}, 0);
    $r->{log} = "$dir/crash.resume2.err";
    $r->{pid} = start_apply($r, $r->{log});
    ok(wait_for_run(sub { slurp($r->{log}) =~ /cutover gate: waiting for approval/ }, 120, $r),
       'crash: a second resume reaches the gate') or diag(slurp($r->{log}));
    like(slurp($r->{log}), qr/resume: \d+ step\(s\) of objects created on the source during CDC are not run: the replicated DDL made them on the target/,
         'crash: and does not run the new table\'s and index\'s steps');
}

# the failing ones stop at the gate already: their applier refused the DDL
like(slurp($run{crash_copy}{log}), qr/schema\.post: restoring the archive dumped on the replication slot's snapshot/,
     'crash_copy: the resume restored the archive dumped on the slot\'s snapshot');
for my $name (qw(main crash during_copy crash_copy nokey streamed)) {
    my $a = run_pgshift($run{$name}{env}, 'cutover', $run{$name}{plan});
    is($a->{rc}, 0, "$name: the cutover is approved") or diag($a->{err});
}
my %want = (main => 0, crash => 0, during_copy => 0, crash_copy => 0, needs_excluded => 1, nested => 1, nokey => 1,
            volatile => 1, ctas => 1, unlogged => 1, move_in => 1, move_out => 1, using_volatile => 1,
            using_clock => 1, mv_volatile => 1, grant_role => 1, streamed => 0);
for my $name (@names) {
    my $r = $run{$name};
    my $rc = wait_for_run(sub { run_ended($r) }, 180) ? $r->{rc} : -1;
    is($rc, $want{$name}, "$name: apply exits $want{$name}") or diag(slurp($r->{log}));
}

{
    my $log = slurp($run{needs_excluded}{log});
    like($log, qr/statement: ALTER TABLE app\.t ADD COLUMN r int REFERENCES scratch\.ref \(id\)/,
         'needs_excluded: the error names the statement');
    like($log, qr/replicated DDL.*commit [0-9A-F]+\/[0-9A-F]+|commit [0-9A-F]+\/[0-9A-F]+.*replicated DDL/s,
         'needs_excluded: and its source LSN');
    like($log, qr/the target refused it: schema "scratch" does not exist/, 'needs_excluded: and what the target said');
    $log = slurp($run{nokey}{log});
    like($log, qr/tables created on the source during CDC without a primary key or replica identity have rows that were not replicated \(at the stop position\): app\.nokey/,
         'nokey: a new table without a key and with rows stops the cutover, naming it');
    $log = slurp($run{nested}{log});
    like($log, qr/the ALTER TABLE ran inside a function, procedure or DO block/, 'nested: the error says why');
    like($log, qr/statement: DO \$\$ BEGIN EXECUTE/, 'nested: and names the statement');
    like($log, qr/commit [0-9A-F]+\/[0-9A-F]+/, 'nested: and its source LSN');
    my ($first) = $log =~ /^(.*error: .*)$/m;
    like($first // '', qr/applier stopped/, 'nested: the first error line is the applier\'s, not the waiting gate\'s')
        or diag($log);
    unlike($log, qr/stopped while waiting for approval/, 'nested: the gate does not claim the run was stopped');
    like($log, qr/hint: nothing of this source transaction was applied.*start over: pgshift reset PLAN --yes, then pgshift apply PLAN/,
         'nested: the hint gives one way on');
    $log = slurp($run{volatile}{log});
    like($log, qr/column ts of app\.t is added with a default that is not immutable \(now\(\)\): the target would compute other values/,
         'volatile: ADD COLUMN with a stable default stops, saying why');
    like($log, qr/statement: ALTER TABLE app\.t ADD COLUMN ts timestamptz DEFAULT now\(\)/, 'volatile: and names the statement');
    is(psql($run{volatile}{tgt}, "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'ts'"),
       '0', 'volatile: the column is not on the target');
    $log = slurp($run{move_in}{log});
    like($log, qr/table app\.mv was moved into the migrated schemas \(SET SCHEMA\): its rows are not in the stream/,
         'move_in: a table moved from an excluded schema into a migrated one stops, naming it');
    like($log, qr/hint: nothing of this source transaction was applied.*start over: pgshift reset PLAN --yes, then pgshift apply PLAN/,
         'move_in: the hint is to start over (the new copy has its rows)');
    is(psql($run{move_in}{tgt}, "SELECT count(*) FROM pg_class WHERE relname = 'mv'"), '0',
       'move_in: nothing of it reached the target');
    $log = slurp($run{move_out}{log});
    like($log, qr/table scratch\.t was moved out of the migrated schemas \(SET SCHEMA\): the target would keep it where the source no longer has it/,
         'move_out: a table moved out of the migrated schemas stops, naming it');
    $log = slurp($run{unlogged}{log});
    like($log, qr/table app\.unl is UNLOGGED: its rows are not written to the WAL, so CDC cannot carry them/,
         'unlogged: CREATE UNLOGGED TABLE in a migrated schema stops, naming the table');
    like(`psql -X -d '$run{unlogged}{src}' -c 'ALTER TABLE app.t SET UNLOGGED' 2>&1`,
         qr/cannot change table "t" to unlogged because it is part of a publication/,
         'unlogged: the source itself refuses SET UNLOGGED of a migrated (published) table');
    $log = slurp($run{ctas}{log});
    like($log, qr/CREATE TABLE AS fills the new table on the source without publishing its rows/,
         'ctas: CREATE TABLE AS stops, saying why');
    like($log, qr/statement: CREATE TABLE app\.x AS SELECT id, random\(\)/, 'ctas: and names the statement');
    for (['using_volatile', 'random', 'a TYPE bigint USING a \+ \(random\(\) \* 10\)::int', 'a', 'integer'],
         ['using_clock', 'clock_timestamp', 'b TYPE timestamptz USING clock_timestamp\(\)', 'b', 'text']) {
        my ($name, $fn, $stmt, $col, $type) = @$_;
        $log = slurp($run{$name}{log});
        like($log, qr/ALTER COLUMN \.\.\. TYPE \.\.\. USING calls $fn, not immutable: the target would compute other values/,
             "$name: ALTER COLUMN TYPE USING $fn() stops, saying why");
        like($log, qr/statement: ALTER TABLE app\.t ALTER COLUMN $stmt/, "$name: and names the statement");
        like($log, qr/could not apply source transaction \d+ \(commit [0-9A-F]+\/[0-9A-F]+\)/, "$name: and its transaction and LSN");
        like($log, qr/hint: nothing of this source transaction was applied.*start over: pgshift reset PLAN --yes, then pgshift apply PLAN/,
             "$name: and the one way on");
        is(psql($run{$name}{tgt}, "SELECT data_type FROM information_schema.columns WHERE table_name = 't' AND column_name = '$col'"),
           $type, "$name: the column keeps its type on the target");
    }
    $log = slurp($run{mv_volatile}{log});
    like($log, qr/the query of materialized view app\.mvr is not immutable: the target would compute other rows/,
         'mv_volatile: a materialized view of random() stops, saying why');
    like($log, qr/statement: CREATE MATERIALIZED VIEW app\.mvr AS SELECT id, random\(\)/, 'mv_volatile: and names the statement');
    $log = slurp($run{grant_role}{log});
    like($log, qr/could not apply source transaction \d+ \(commit [0-9A-F]+\/[0-9A-F]+\): replicated DDL: the target refused it: role "ddl_auditor" does not exist/,
         'grant_role: a GRANT to a role the target lacks stops, naming the role, the transaction and the LSN') or diag($log);
    like($log, qr/statement: GRANT SELECT ON app\.t TO ddl_auditor/, 'grant_role: and the statement');
    like($log, qr/hint: nothing of this source transaction was applied \(cdc\.ddl: replicate\); roles are not replicated: create role "ddl_auditor" on the target \(as on the source\), then pgshift apply PLAN again: it resumes at the applied LSN/,
         'grant_role: and the fix');
}

# grant_role: the fix the hint gives, then the resume goes on from the applied LSN
{
    my $r = $run{grant_role};
    psql($tgt0, "CREATE ROLE ddl_auditor NOLOGIN");
    $r->{log} = "$dir/grant_role.resume.err";
    $r->{pid} = start_apply($r, $r->{log});
    ok(wait_for_run(sub { slurp($r->{log}) =~ /cutover gate: waiting for approval/ }, 120, $r),
       'grant_role: after CREATE ROLE on the target, apply resumes to the gate') or diag(slurp($r->{log}));
    like(slurp($r->{log}), qr/cdc\.ddl: applying GRANT of source transaction/, 'grant_role: and applies the GRANT');
    run_statements(as_app($r->{src}), "INSERT INTO app.t (id, a) VALUES (1002, 2);\n");
    my $a = run_pgshift($r->{env}, 'cutover', $r->{plan});
    is($a->{rc}, 0, 'grant_role: the cutover is approved') or diag($a->{err});
    my $rc = wait_for_run(sub { run_ended($r) }, 180) ? $r->{rc} : -1;
    is($rc, 0, 'grant_role: the resumed apply exits 0') or diag(slurp($r->{log}));
    is(psql($r->{tgt}, "SELECT has_table_privilege('ddl_auditor', 'app.t', 'SELECT')"), 't',
       'grant_role: the grant is on the target');
    is(psql($r->{tgt}, "SELECT count(*) FROM app.t WHERE id IN (1001, 1002)"), '2',
       'grant_role: the rows of the stopped transaction and after it arrived');
}

{
    my $r = $run{streamed};
    is(psql($r->{tgt}, "SELECT count(*) || ',' || sum(s) FROM app.t WHERE s IS NOT NULL"),
       psql($r->{src}, "SELECT count(*) || ',' || sum(s) FROM app.t WHERE s IS NOT NULL"),
       'streamed: the rows written with the new column arrived');
}

for my $name (qw(main crash during_copy crash_copy streamed grant_role)) {
    my $r = $run{$name};
    my $s = schema_dump($r->{src}, '--exclude-schema=scratch', "--exclude-schema='scratch_*'", '--exclude-table=app.skip_me');
    my $t = schema_dump($r->{tgt});
    like($s, qr/CREATE TABLE app\.newt|CREATE INDEX t_c_idx|CREATE INDEX t_a_idx|    s integer|TO ddl_auditor/, "$name: the source dump has the new objects");
    is($t, $s, "$name: pg_dump --schema-only of the target equals the source's")
        or diag(dump_diff($s, $t));
    is(same_rows($r, 'app.skip_me'), '', "$name: every migrated table has the same rows on both sides");
}

{
    my $r = $run{main};
    like(slurp($r->{log}), qr/cdc\.ddl: skipped ALTER TABLE of source transaction \d+ \(commit [0-9A-F]+\/[0-9A-F]+\): the plan's filters exclude what it changes/,
         'main: the DDL on the excluded table was skipped');
    like(slurp($r->{log}), qr/cdc\.ddl: skipped CREATE TABLE of source transaction \d+ \(commit [0-9A-F]+\/[0-9A-F]+\): the plan's filters exclude what it changes/,
         'main: the DDL in the excluded schema was skipped, saying so');
    is(psql($r->{tgt}, "SELECT count(*) FROM pg_class WHERE relname IN ('skip_me', 'more')"), '0',
       'main: and the excluded table is not on the target');
    is(psql($r->{tgt}, "SELECT (SELECT count(*) FROM extra.t) || ',' || (SELECT count(*) FROM extra2.t2)"), '30,2',
       'main: schemas created during CDC that the filters include arrived, with their tables and rows');
    like(slurp($r->{log}), qr/cdc\.ddl: skipped CREATE SCHEMA of source transaction/,
         'main: a schema created during CDC that the filters exclude is skipped');
    is(psql($r->{tgt}, "SELECT count(*) FROM pg_namespace WHERE nspname = 'scratch_new'"), '0',
       'main: and is not on the target');
    my ($mv_rows, $mv_diff) = compare_table($r->{src}, $r->{tgt}, 'app', 'mv');
    is($mv_diff // '', '', 'main: the materialized view created and refreshed during CDC has the same rows on both sides');
    is($mv_rows, 23, 'main: the rows the REFRESH added too (19 of id <= 20, 4 above 1000)');
    is(psql($r->{tgt}, "SELECT string_agg(relname || ':' || relispopulated, ',' ORDER BY relname) FROM pg_class WHERE relkind = 'm'"),
       'mv:true,mv_later:false', 'main: populated as on the source (WITH NO DATA stays unpopulated)');
    is(psql($r->{tgt}, "SELECT data_type FROM information_schema.columns WHERE table_name = 'newt' AND column_name = 'w'"), 'bigint',
       'main: ALTER COLUMN TYPE with an immutable USING was replicated');
    is(psql($r->{tgt}, "SELECT count(*) || ',' || max(id) FROM app.newt2"), '21,1000',
       'main: identity values as the source gave them (after RESTART too)');
    is(psql($r->{tgt}, "SELECT relreplident FROM pg_class WHERE oid = 'app.newt'::regclass"), 'f',
       'main: REPLICA IDENTITY FULL was replicated');
    is(psql($r->{tgt}, "SELECT count(*) FROM pg_index WHERE indisclustered AND indrelid = 'app.t'::regclass"), '1',
       'main: CLUSTER marked the same index');
    like(slurp($r->{log}), qr/cdc\.ddl: CLUSTER ON marks set on the target as on the source \(CLUSTER fires no event trigger\): app\.t \(t_pkey\)/,
         'main: at the stop position, as CLUSTER is not captured');
    my $seq = "SELECT last_value FROM app.newt2_id_seq";
    is(psql($r->{tgt}, $seq), psql($r->{src}, $seq),
       'main: sync_sequences moved the sequence of a table created during CDC');
    is(psql($r->{tgt}, "SELECT a FROM app.t WHERE id = 3"), psql($r->{src}, "SELECT a FROM app.t WHERE id = 3"),
       'main: a value only bigint holds arrived');
    is(psql($r->{tgt}, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'app.newt'::regclass"), 'ddl_app',
       'main: a replicated table belongs to the role that created it');
    is(psql($r->{src}, "SELECT count(*) FROM pg_event_trigger"), '0', 'main: cleanup dropped the event triggers');
    is(psql($r->{src}, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgshift'"), '0',
       'main: and schema pgshift on the source');
}

{
    my $r = $run{crash};
    my $reset = run_pgshift($r->{env}, 'reset', $r->{plan}, '--yes');
    is($reset->{rc}, 0, 'crash: reset') or diag($reset->{err});
    is(psql($r->{tgt}, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app'"),
       '0', 'crash: reset dropped every table, made_later (replicated DDL) too');
    my $clean = run_pgshift($r->{env}, 'cleanup', $r->{plan}, '--unfence');
    is($clean->{rc}, 0, 'crash: cleanup') or diag($clean->{err});
    is(psql($r->{src}, "SELECT count(*) FROM pg_event_trigger"), '0', 'crash: cleanup dropped the event triggers');
}

for my $name (@names) {
    psql($src0, "ALTER DATABASE $name RESET default_transaction_read_only");
}
done_testing();
