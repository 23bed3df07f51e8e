# Every change applies exactly (issue 12), through `pgshift apply` with CDC
# on real servers. apply copies, waits at the manual gate while the applier
# replays; the source then makes the changes the applier used to get wrong
# or refuse, and once the applied LSN passes the source's WAL position,
# Compare.pm (no code shared with pgshift) must find every table identical:
#   1. REPLICA IDENTITY FULL rows that are "=" but not the same value
#      (numeric 1.0 / 1.00, float 0 / -0, citext, a nondeterministic
#      collation): only the row the source changed is changed;
#   2. FULL identity on types without "=" or untyped input: a domain over
#      json, jsonpath, pg_snapshot, a composite of point and json, arrays
#      of them, xml;
#   3. triggers and rules ENABLE ALWAYS / ENABLE REPLICA do not fire during
#      replay (they are disabled, recorded in pgshift.held_triggers, which a
#      run resumed after kill -9 still knows) and get their exact state back
#      at wait_for_catchup, before traffic moves;
#   4. GENERATED ALWAYS identity: an UPDATE that only rewrites a TOASTed
#      column, and UPDATE ... SET id = DEFAULT (key and FULL identity);
#   5. a table without columns, FULL identity: INSERT DEFAULT VALUES, DELETE;
#   6. TRUNCATE parent CASCADE whose child is in exclude_table_data;
#   7. sync_sequences with a margin next to MAXVALUE / MINVALUE and CYCLE:
#      the margin is dropped with a warning, the target's next value is the
#      source's; elsewhere it is the source's plus the margin;
#   9. CHECK constraints, generated columns and expression indexes calling
#      functions whose bodies name other functions unqualified, in the copy,
#      the index build and the replay;
#   8. a LATIN1 source database with non-ASCII rows and a UTF8 target:
#      verify checksum (at cutover and `pgshift verify`) finds them equal.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(sleep time);
use PgShift::Cluster;
use PgShift::Run;
use PgShift::Compare qw(user_tables compare_table);

my $c = start_clusters();
my ($src0, $tgt0) = ($c->{source_uri}, $c->{target_uri});
my $dir = tempdir(CLEANUP => 1);

sub db_uri { my ($uri, $db) = @_; (my $u = $uri) =~ s{/postgres$}{/$db}; return $u; }
sub q_or_empty { my ($uri, $sql) = @_; return eval { psql($uri, $sql) } // ''; }
sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return ''; local $/; return <$fh> // ''; }

sub wait_until {
    my ($cond, $secs, $pid) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        return 1 if $cond->();
        return 0 if $pid && waitpid($pid, 1) == $pid;
        sleep 0.1;
    }
    return 0;
}

sub plan_file {
    my ($name, $extra, $steps) = @_;
    return write_plan(<<"YAML", tempdir(CLEANUP => 1));
version: 1
name: $name
source:
  uri: \${SOURCE_URI}
target:
  uri: \${TARGET_URI}
$extra
copy:
  table_jobs: 2
  index_jobs: 2
  vacuum_analyze: false
cdc:
  enabled: true
  replica_identity: fail
  max_lag: 2s
cutover:
  approval: manual
  steps:
$steps
cleanup:
  keep_state: true
YAML
}

sub start_apply {
    my ($plan, $env, $log) = @_;
    my $pid = fork() // die;
    if ($pid == 0) {
        $ENV{$_} = $env->{$_} for keys %$env;
        open(STDIN, '<', '/dev/null'); open(STDOUT, '>', "$log.out"); open(STDERR, '>', $log);
        exec(pgshift_bin(), 'apply', $plan, '--yes', '--no-progress', '-v') or die;
    }
    return $pid;
}

sub caught_up {
    my ($src, $tgt, $plan_name, $label) = @_;
    psql($src, "SET synchronous_commit = on; CREATE TEMP TABLE flush_wal (); DROP TABLE flush_wal");
    my $w = psql($src, "SELECT pg_current_wal_lsn()");
    ok(wait_until(sub { q_or_empty($tgt, "SELECT applied_lsn >= '$w' FROM pgshift.runs WHERE plan = '$plan_name'") eq 't' }, 60),
       "$label: the applied LSN passes the source's WAL position $w");
}

sub same_tables {
    my ($src, $tgt, $label, $min) = @_;
    my $tables = user_tables($src);
    my @diff;
    for my $t (@$tables) {
        my ($rows, $d) = compare_table($src, $tgt, @$t);
        push @diff, $d if $d;
    }
    ok(@$tables >= $min && !@diff, "$label: all " . scalar(@$tables) . " tables identical (Compare.pm)")
        or diag(scalar(@$tables) . " tables, " . scalar(@diff) . " differ:\n" . join("\n", @diff));
}

sub finish_cutover {
    my ($plan, $env, $pid, $log, $label) = @_;
    my $r = run_pgshift($env, 'cutover', $plan);
    is($r->{rc}, 0, "$label: pgshift cutover approves") or diag($r->{err});
    is(finish_within($pid, 300), 0, "$label: apply finishes the cutover") or diag(`tail -30 $log`);
}

# ---- one plan for items 1-7 and 9
my ($src, $tgt) = (db_uri($src0, 'exact'), db_uri($tgt0, 'exact'));
psql($src0, 'CREATE DATABASE exact');
psql($tgt0, 'CREATE DATABASE exact');
psql($src, <<'SQL');
CREATE EXTENSION citext;
CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
-- 1. equal under "=", different values
CREATE TABLE fx_num (n numeric);
CREATE TABLE fx_float (f double precision);
CREATE TABLE fx_citext (c citext);
CREATE TABLE fx_ci (t text COLLATE ci);
ALTER TABLE fx_num REPLICA IDENTITY FULL;
ALTER TABLE fx_float REPLICA IDENTITY FULL;
ALTER TABLE fx_citext REPLICA IDENTITY FULL;
ALTER TABLE fx_ci REPLICA IDENTITY FULL;
INSERT INTO fx_num VALUES (1.0), (1.00), (1.000);
INSERT INTO fx_float VALUES (0), ('-0'), (0);
INSERT INTO fx_citext VALUES ('abc'), ('ABC'), ('Abc');
INSERT INTO fx_ci VALUES ('abc'), ('ABC'), ('Abc');
-- 2. no "=" or no untyped input
CREATE DOMAIN jdom AS json;
CREATE TYPE pj AS (p point, j json);
CREATE TABLE fx_types (d jdom, jp jsonpath, s pg_snapshot, c pj, pts point[], cs pj[], x xml, j json,
                       m money DEFAULT 1.5);
ALTER TABLE fx_types REPLICA IDENTITY FULL;
INSERT INTO fx_types VALUES
  ('{"a": 1}', '$.a[*] ? (@ > 1)', '10:20:10,14', ROW('(1,2)', '{"k": [1]}'),
   '{"(1,2)","(3,4)"}', ARRAY[ROW('(0,0)', 'null')::pj], '<a>1</a>', '{"x": 1}'),
  ('{"a": 2}', '$.b', '30:30:', ROW('(5,6)', '"s"'), '{}', '{}', '<b/>', '[]'),
  ('{"a": 2}', '$.b', '30:30:', ROW('(5,6)', '"s"'), '{}', '{}', '<b/>', '[]');
-- 3. triggers and rules that fire in the replica role, with a foreign key around
CREATE TABLE tr_main (id int PRIMARY KEY, v text);
CREATE TABLE tr_log (main_id int PRIMARY KEY REFERENCES tr_main ON DELETE CASCADE, at_insert text);
CREATE TABLE tr_count (k text PRIMARY KEY, n int NOT NULL);
INSERT INTO tr_count VALUES ('replica', 0);
CREATE FUNCTION log_it() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO public.tr_log VALUES (NEW.id, NEW.v); RETURN NEW; END$$;
CREATE FUNCTION count_it() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN UPDATE public.tr_count SET n = n + 1 WHERE k = 'replica'; RETURN NEW; END$$;
CREATE TRIGGER always_log AFTER INSERT ON tr_main FOR EACH ROW EXECUTE FUNCTION log_it();
ALTER TABLE tr_main ENABLE ALWAYS TRIGGER always_log;
CREATE TRIGGER replica_count AFTER UPDATE ON tr_main FOR EACH ROW EXECUTE FUNCTION count_it();
ALTER TABLE tr_main ENABLE REPLICA TRIGGER replica_count;
CREATE TRIGGER plain_count AFTER DELETE ON tr_main FOR EACH ROW EXECUTE FUNCTION count_it();
CREATE TABLE rl_src (id int PRIMARY KEY);
CREATE TABLE rl_log (id int PRIMARY KEY);
CREATE RULE rl_also AS ON INSERT TO rl_src DO ALSO INSERT INTO rl_log VALUES (NEW.id);
ALTER TABLE rl_src ENABLE ALWAYS RULE rl_also;
INSERT INTO tr_main VALUES (1, 'before'), (2, 'before');
INSERT INTO rl_src VALUES (1);
-- 4. GENERATED ALWAYS identity
CREATE TABLE id_key (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, big text, v text);
CREATE TABLE id_full (id int GENERATED ALWAYS AS IDENTITY, v text);
ALTER TABLE id_full REPLICA IDENTITY FULL;
CREATE TABLE id_toast (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, big text);
INSERT INTO id_key (big, v) SELECT (SELECT string_agg(md5(g::text || k), '') FROM generate_series(1, 300) k), 'v' || g
  FROM generate_series(1, 3) g;
INSERT INTO id_toast (big) SELECT (SELECT string_agg(md5(g::text || k), '') FROM generate_series(1, 300) k)
  FROM generate_series(1, 2) g;
INSERT INTO id_full (v) VALUES ('a'), ('b'), ('b');
-- 5. no columns
CREATE TABLE zero ();
ALTER TABLE zero REPLICA IDENTITY FULL;
INSERT INTO zero DEFAULT VALUES;
-- 6. TRUNCATE ... CASCADE into a table whose rows are not migrated
CREATE TABLE tp (id int PRIMARY KEY);
CREATE TABLE tc (id int PRIMARY KEY, p int REFERENCES tp);
INSERT INTO tp VALUES (1), (2);
INSERT INTO tc VALUES (10, 1), (20, 2);
-- 7. sequences next to their bounds
CREATE SEQUENCE s_max MAXVALUE 100;
CREATE SEQUENCE s_cycle MAXVALUE 100 CYCLE;
CREATE SEQUENCE s_desc INCREMENT -1 MINVALUE -100 MAXVALUE -1;
CREATE SEQUENCE s_plain;
SELECT setval('s_max', 95), setval('s_cycle', 96), setval('s_desc', -97), setval('s_plain', 10);
-- 9. functions whose bodies name others unqualified
-- (plpgsql: pg_restore itself inlines a SQL function in a generated column with
-- an empty search_path, which no session setting of pgshift's can change)
CREATE FUNCTION helper() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 1000';
CREATE FUNCTION small_enough(x int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
  'BEGIN RETURN x < helper(); END';
CREATE FUNCTION twice(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
  'BEGIN RETURN x * 2 + helper() - helper(); END';
CREATE TABLE sp (id int PRIMARY KEY, x int CHECK (small_enough(x)), g int GENERATED ALWAYS AS (twice(x)) STORED);
CREATE INDEX sp_twice ON sp (twice(id));
INSERT INTO sp (id, x) SELECT g, g FROM generate_series(1, 50) g;
SQL

# a write between two wait_for_catchup steps: only the last one stops the applier
my $hook = "$dir/between.lua";
open(my $hf, '>', $hook) or die;
print $hf <<'LUA';
return function(event, ctx)
  pgshift.query("source", "INSERT INTO public.tr_main VALUES ($1, 'between the catchups')", 6)
  return true
end
LUA
close $hf;
my $plan = plan_file('exact1', "filters:\n  exclude_table_data: [\"public.tc\"]", <<"STEPS");
    - wait_for_catchup: { timeout: 60s }
    - lua: $hook
    - wait_for_catchup: { timeout: 60s }
    - sync_sequences: { margin: 1000 }
    - verify: { level: checksum }
STEPS
my $env = { SOURCE_URI => $src, TARGET_URI => $tgt };
my $log = "$dir/apply1.err";
my $pid = start_apply($plan, $env, $log);
ok(wait_until(sub { slurp($log) =~ /cutover gate: waiting for approval/ }, 120, $pid),
   'apply copies (CHECK, generated column and expression index on functions with unqualified names) and reaches the gate')
    or diag(`tail -30 $log`);
# copy.format auto (the default): binary for built-in types, text where a
# type is an extension's, a domain or a composite; all identical below
like(slurp($log), qr/copy:public\.fx_num: binary COPY/, 'auto: fx_num (numeric) copied in binary');
like(slurp($log), qr/copy:public\.fx_citext: text COPY/, 'auto: fx_citext (an extension type) copied as text');
like(slurp($log), qr/copy:public\.fx_types: text COPY/, 'auto: fx_types (a domain, composites) copied as text');

is(psql($tgt, q{SELECT string_agg(tgname || '=' || tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger
                 WHERE tgrelid = 'public.tr_main'::regclass AND NOT tgisinternal}),
   'always_log=D,plain_count=O,replica_count=D',
   'during replay the ALWAYS and REPLICA triggers are disabled on the target, the plain one untouched');
is(psql($tgt, q{SELECT ev_enabled FROM pg_rewrite WHERE rulename = 'rl_also'}), 'D', 'and so is the ALWAYS rule');
is(psql($tgt, q{SELECT string_agg(kind || ':' || table_name || '.' || object_name || '=' || enabled, ',' ORDER BY kind, table_name, object_name)
                 FROM pgshift.held_triggers WHERE plan = 'exact1'}),
   'rule:rl_src.rl_also=A,trigger:tr_main.always_log=A,trigger:tr_main.replica_count=R',
   'their exact states are recorded in pgshift.held_triggers');

psql($src, <<'SQL');
UPDATE fx_num SET n = 2.0 WHERE n::text = '1.00';
DELETE FROM fx_num WHERE n::text = '1.000';
DELETE FROM fx_float WHERE f::text = '-0';
UPDATE fx_float SET f = 5 WHERE ctid = (SELECT max(ctid) FROM fx_float);
UPDATE fx_citext SET c = 'changed' WHERE c::text = 'ABC';
DELETE FROM fx_citext WHERE c::text = 'Abc';
UPDATE fx_ci SET t = 'changed' WHERE t::bytea = 'ABC'::bytea;
DELETE FROM fx_ci WHERE t::bytea = 'Abc'::bytea;
UPDATE fx_types SET j = '{"y": 2}' WHERE d::text = '{"a": 1}';
DELETE FROM fx_types WHERE ctid = (SELECT max(ctid) FROM fx_types);
INSERT INTO fx_types VALUES ('{"n": null}', 'strict $.c', '5:9:5,7', ROW(NULL, NULL), '{NULL}', NULL, NULL, 'null');
UPDATE fx_types SET x = '<c>3</c>' WHERE jp::text = 'strict $."c"';
INSERT INTO tr_main VALUES (3, 'replayed'), (4, 'replayed');
UPDATE tr_main SET v = 'updated' WHERE id = 1;
DELETE FROM tr_main WHERE id = 2;
INSERT INTO rl_src VALUES (2), (3);
UPDATE id_toast SET big = big WHERE id = 1;
UPDATE id_key SET id = DEFAULT WHERE id = 2;
UPDATE id_key SET id = DEFAULT, v = 'moved' WHERE id = 3;
UPDATE id_full SET id = DEFAULT WHERE id = 3;
INSERT INTO id_key (big, v) VALUES ('small', 'new');
INSERT INTO zero DEFAULT VALUES;
INSERT INTO zero DEFAULT VALUES;
INSERT INTO zero DEFAULT VALUES;
DELETE FROM zero WHERE ctid = (SELECT min(ctid) FROM zero);
TRUNCATE tp CASCADE;
INSERT INTO tp VALUES (3);
INSERT INTO sp (id, x) VALUES (51, 51), (52, 999);
UPDATE sp SET x = x + 1 WHERE id <= 5;
SQL
caught_up($src, $tgt, 'exact1', 'edge cases');
same_tables($src, $tgt, 'every change applied exactly', 17);
is(psql($tgt, 'SELECT count(*) FROM tr_log') . '/' . psql($tgt, 'SELECT n FROM tr_count'),
   psql($src, 'SELECT count(*) FROM tr_log') . '/' . psql($src, 'SELECT n FROM tr_count'),
   'the triggers\' effects arrived once, as changes, not again from a trigger on the target');
is(psql($tgt, 'SELECT count(*) FROM zero'), 3, 'three rows of the zero-column table on the target');
is(psql($tgt, 'SELECT count(*) FROM tc'), 0, 'the excluded child was emptied by the cascade, as on the source');
unlike(slurp($log), qr/could not apply/, 'the applier refused nothing');

# a resumed run knows what is held: kill -9 at the gate, apply again
kill 'KILL', $pid; waitpid($pid, 0);
$log = "$dir/apply1b.err";
$pid = start_apply($plan, $env, $log);
ok(wait_until(sub { slurp($log) =~ /cutover gate: waiting for approval/ }, 120, $pid),
   'after kill -9 at the gate, the resumed apply reaches the gate') or diag(`tail -30 $log`);
is(psql($tgt, q{SELECT string_agg(object_name || '=' || enabled, ',' ORDER BY object_name)
                 FROM pgshift.held_triggers WHERE plan = 'exact1'}),
   'always_log=A,replica_count=R,rl_also=A', 'the resumed run still has the states to restore');
psql($src, "INSERT INTO tr_main VALUES (5, 'after the resume'); INSERT INTO rl_src VALUES (4)");
caught_up($src, $tgt, 'exact1', 'after the resume');
same_tables($src, $tgt, 'after the resume, triggers still quiet', 17);
finish_cutover($plan, $env, $pid, $log, 'exact1');
same_tables($src, $tgt, 'after cutover (a row written between the two catchups applied once)', 17);
is(psql($tgt, 'SELECT at_insert FROM tr_log WHERE main_id = 6'), 'between the catchups',
   'the row written between the catchups arrived, with its trigger\'s log row once');
my $trig = q{SELECT string_agg(c.relname || '.' || t.tgname || '=' || t.tgenabled::text, ',' ORDER BY c.relname, t.tgname)
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal};
is(psql($tgt, $trig), psql($src, $trig), 'after cutover every trigger has the source\'s enabled state');
my $rule = q{SELECT string_agg(rulename || '=' || ev_enabled::text, ',') FROM pg_rewrite WHERE rulename = 'rl_also'};
is(psql($tgt, $rule), psql($src, $rule), 'and the rule too');
is(psql($tgt, "SELECT count(*) FROM pgshift.held_triggers"), 0, 'pgshift.held_triggers is empty once restored');
my $after = slurp($log);
like($after, qr/restored the ENABLE ALWAYS \/ ENABLE REPLICA state of 3 trigger\(s\) and rule\(s\)/,
     'apply says it restored them');
my $restored = index($after, 'restored the ENABLE ALWAYS');
ok($restored > index($after, 'cutover.3:wait_for_catchup: started')
   && $restored < index($after, 'cutover.4:sync_sequences: started'),
   'they were restored by the last wait_for_catchup, not the first, before the later cutover steps');
like($after, qr/cutover\.5:verify: done/, 'the cutover verify (level checksum) passed');
for my $s (qw(s_max s_cycle s_desc)) {
    like($after, qr/sequence "public"\."$s" is at -?\d+, closer than the margin of 1000 to its (MAXVALUE|MINVALUE)/,
         "sync_sequences warns that $s gets no margin");
}
unlike($after, qr/sequence "public"\."s_plain" is at/, 'but not for s_plain');
for my $s (qw(s_max s_cycle s_desc)) {
    my ($t, $o) = (psql($tgt, "SELECT nextval('$s')"), psql($src, "SELECT nextval('$s')"));
    is($t, $o, "$s: the target's next value is the source's ($o): no value handed out twice, no early failure");
}
is(psql($tgt, "SELECT nextval('s_plain')"), psql($src, "SELECT nextval('s_plain')") + 1000,
   's_plain: the target\'s next value is the source\'s plus the margin');
my $idseq = "pg_get_serial_sequence('public.id_key', 'id')";
is(psql($tgt, "SELECT nextval($idseq)"), psql($src, "SELECT nextval($idseq)") + 1000,
   'the identity sequence moved by SET id = DEFAULT is synced too');

# ---- 3b. a migration abandoned at the gate: `pgshift cleanup` restores what was held
{
    my ($csrc, $ctgt) = (db_uri($src0, 'exact_abandon'), db_uri($tgt0, 'exact_abandon'));
    psql($src0, 'CREATE DATABASE exact_abandon');
    psql($tgt0, 'CREATE DATABASE exact_abandon');
    psql($csrc, <<'SQL');
CREATE TABLE ab (id int PRIMARY KEY);
CREATE TABLE ab_log (id int PRIMARY KEY);
CREATE FUNCTION ab_log_it() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO public.ab_log VALUES (NEW.id); RETURN NEW; END$$;
CREATE TRIGGER ab_always AFTER INSERT ON ab FOR EACH ROW EXECUTE FUNCTION ab_log_it();
ALTER TABLE ab ENABLE REPLICA TRIGGER ab_always;
SQL
    my $cplan = plan_file('exact_abandon', '', "    - wait_for_catchup: { timeout: 60s }\n");
    my $cenv = { SOURCE_URI => $csrc, TARGET_URI => $ctgt };
    my $clog = "$dir/apply3.err";
    my $cpid = start_apply($cplan, $cenv, $clog);
    ok(wait_until(sub { slurp($clog) =~ /cutover gate: waiting for approval/ }, 120, $cpid),
       'abandon: apply reaches the gate') or diag(`tail -30 $clog`);
    kill 'KILL', $cpid; waitpid($cpid, 0);
    my $state = q{SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'ab_always'};
    is(psql($ctgt, $state), 'D', 'abandon: the REPLICA trigger is disabled on the target after the kill');
    my $r = run_pgshift($cenv, 'cleanup', $cplan);
    is($r->{rc}, 0, 'abandon: pgshift cleanup succeeds') or diag($r->{err});
    like($r->{err}, qr/cleanup: restored the ENABLE ALWAYS \/ ENABLE REPLICA state of 1 trigger/,
         'abandon: cleanup says it restored the held trigger');
    is(psql($ctgt, $state), 'R', 'abandon: the target trigger is ENABLE REPLICA again, as on the source');
    $r = run_pgshift($cenv, 'reset', $cplan, '--yes');
    is($r->{rc}, 0, 'abandon: reset then drops what apply created') or diag($r->{err});
}

# ---- 8. LATIN1 source database, UTF8 target
my ($lsrc, $ltgt) = (db_uri($src0, 'latin'), db_uri($tgt0, 'latin'));
psql($src0, "CREATE DATABASE latin ENCODING 'LATIN1' TEMPLATE template0 LOCALE 'C'");
psql($tgt0, 'CREATE DATABASE latin');
is(psql($ltgt, 'SHOW server_encoding') . '/' . psql($lsrc, 'SHOW server_encoding'), 'UTF8/LATIN1',
   'a LATIN1 source database and a UTF8 target');
psql($lsrc, <<'SQL');
CREATE TABLE words (id int PRIMARY KEY, w text, n varchar(20));
CREATE TABLE words_full (w text, n text);
ALTER TABLE words_full REPLICA IDENTITY FULL;
INSERT INTO words VALUES (1, 'café', 'Müller'), (2, 'naïve façade', 'ÆØÅ æøå ß'), (3, 'plain', NULL);
INSERT INTO words_full VALUES ('crème brûlée', '½ ¼ ¾'), ('señor', 'año');
SQL
my $lplan = plan_file('exact_latin', '', <<'STEPS');
    - wait_for_catchup: { timeout: 60s }
    - verify: { level: checksum }
STEPS
my $lenv = { SOURCE_URI => $lsrc, TARGET_URI => $ltgt };
my $llog = "$dir/apply2.err";
$pid = start_apply($lplan, $lenv, $llog);
ok(wait_until(sub { slurp($llog) =~ /cutover gate: waiting for approval/ }, 120, $pid), 'latin: apply reaches the gate')
    or diag(`tail -30 $llog`);
like(slurp($llog), qr/copy:public\.words: text COPY/,
     'auto: text COPY between a LATIN1 and a UTF8 server (binary would not convert the text)');
psql($lsrc, <<'SQL');
INSERT INTO words VALUES (4, 'déjà vu', 'Zoë');
UPDATE words SET w = 'café crème' WHERE id = 1;
UPDATE words_full SET n = 'años' WHERE w = 'señor';
DELETE FROM words_full WHERE w = 'crème brûlée';
INSERT INTO words_full VALUES ('Ångström', '°C ±');
SQL
caught_up($lsrc, $ltgt, 'exact_latin', 'latin');
same_tables($lsrc, $ltgt, 'latin: LATIN1 rows identical on the UTF8 target', 2);
finish_cutover($lplan, $lenv, $pid, $llog, 'latin');
unlike(slurp($llog), qr/checksum differs/, 'the cutover verify found no checksum difference');
my $r = run_pgshift($lenv, 'verify', $lplan, '--level', 'checksum');
is($r->{rc}, 0, 'pgshift verify --level checksum: LATIN1 source and UTF8 target agree') or diag($r->{out} . $r->{err});

done_testing();
