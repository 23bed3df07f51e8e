# The catalog zoo (issue 15): zoo.sql holds one of each object class the
# PostgreSQL regression database has that pgshift failed on or left out —
# a key at every level of a three-deep partition hierarchy, FKs whose
# partition clones PostgreSQL names itself, a table access method (a table,
# a default and a materialized view using it), user casts a view needs, a
# transform, a procedural language, foreign-data wrappers, servers, user
# mappings and a foreign table, event triggers — and classes that always
# worked. It is migrated
#   1. offline, and
#   2. online, with writes to the partitions, the access method's table and
#      the cast's types during CDC;
# each time the rows must be identical (Compare.pm), `pg_dump --schema-only`
# of both databases the same lines, and `pgshift verify --level schema`
# IDENTICAL;
#   3. verify --level schema then fails naming an event trigger, a server,
#      its user mapping, a transform and a publication's member dropped on
#      the target, and a publication whose operations differ;
#   4. with filters.exclude_object_classes: the classes left out are not
#      moved nor compared, and preflight FAILs naming the migrated objects
#      that need an excluded one (a table its access method, a function its
#      language); an unknown class is a plan error with a suggestion.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use PgShift::Cluster;
use PgShift::Run;
use PgShift::Compare qw(user_tables compare_table);

my $c = start_clusters();
my ($src, $tgt0) = ($c->{source_uri}, $c->{target_uri});
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
    my ($name, $cdc, $filters) = @_;
    $filters = $filters ? "filters:\n  $filters\n" : '';
    my $approval = $cdc eq 'true' ? 'manual' : 'auto';
    my $catchup = $cdc eq 'true' ? "    - wait_for_catchup: { timeout: 2m }\n" : '';
    return write_plan(<<"YAML", tempdir(CLEANUP => 1));
version: 1
name: $name
source:
  uri: \${SOURCE_URI}
target:
  uri: \${TARGET_URI}
${filters}copy:
  table_jobs: 2
  index_jobs: 2
cdc:
  enabled: $cdc
  replica_identity: full
  max_lag: 2s
cutover:
  approval: $approval
  steps:
$catchup    - sync_sequences: { margin: 0 }
    - verify: { level: schema }
    - verify: { level: count }
cleanup:
  keep_state: true
YAML
}

# Every line of the schema as pg_dump writes it, sorted: column order is the
# only thing pg_dump | pg_restore itself may change, and sorting hides it.
sub schema_lines {
    my ($uri) = @_;
    my $out = `pg_dump --schema-only --no-owner --no-privileges --exclude-schema=pgshift -d '$uri' 2>&1`;
    die "pg_dump failed: $out" if $?;
    # the user mapping with a password is left behind on purpose (checked apart)
    $out =~ s/^CREATE USER MAPPING FOR public SERVER loopback OPTIONS \(.*?\);\n//ms;
    return join("\n", sort grep { /\S/ && !/^--/ && !/^\\(un)?restrict / } split /\n/, $out);
}

sub same_schema {
    my ($uri, $label) = @_;
    my ($a, $b) = (schema_lines($src), schema_lines($uri));
    my %in_b = map { $_ => 1 } split /\n/, $b;
    my %in_a = map { $_ => 1 } split /\n/, $a;
    my @only_src = grep { !$in_b{$_} } split /\n/, $a;
    my @only_tgt = grep { !$in_a{$_} } split /\n/, $b;
    ok(!@only_src && !@only_tgt && length($a) > 5000, "$label: pg_dump --schema-only of both sides is the same")
        or diag("only on the source:\n  " . join("\n  ", @only_src) . "\nonly on the target:\n  " . join("\n  ", @only_tgt));
}

sub same_tables {
    my ($uri, $label) = @_;
    my $tables = user_tables($src);
    my @diff;
    for my $t (@$tables) {
        my (undef, $d) = compare_table($src, $uri, @$t);
        push @diff, $d if $d;
    }
    ok(@$tables >= 13 && !@diff, "$label: all " . scalar(@$tables) . " tables identical (Compare.pm)")
        or diag(join("\n", @diff));
}

sub verify_identical {
    my ($plan, $env, $label) = @_;
    my $r = run_pgshift($env, 'verify', $plan, '--level', 'schema');
    is($r->{rc}, 0, "$label: verify --level schema passes") or diag($r->{out} . $r->{err});
    like($r->{out}, qr/result: IDENTICAL/, "$label: verify says IDENTICAL");
    like($r->{out}, qr/WARN\s+user mapping user mapping for public on server loopback: missing on the target: it holds a password/,
         "$label: verify warns about the user mapping left behind");
}

# the source's classes, so a fixture that lost one cannot pass unnoticed
my $zoo = "$FindBin::Bin/zoo.sql";
system('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $src, '-f', $zoo) == 0 or BAIL_OUT('zoo.sql does not load');
is(psql($src, q{SELECT (SELECT count(*) FROM pg_am WHERE amname = 'heap2')
    || ',' || (SELECT count(*) FROM pg_cast WHERE oid >= 16384)
    || ',' || (SELECT count(*) FROM pg_transform)
    || ',' || (SELECT count(*) FROM pg_language WHERE lanname = 'zoo_plpgsql')
    || ',' || (SELECT count(*) FROM pg_foreign_data_wrapper)
    || ',' || (SELECT count(*) FROM pg_foreign_server)
    || ',' || (SELECT count(*) FROM pg_user_mapping)
    || ',' || (SELECT count(*) FROM pg_event_trigger)
    || ',' || (SELECT count(*) FROM pg_class WHERE relkind = 'p' AND relispartition)
    || ',' || (SELECT count(*) FROM pg_publication)}),
   '1,2,1,1,2,2,3,2,3,3', 'the zoo holds every class: access method, casts, transform, language, FDWs, servers, user mappings, event triggers, sub-partitioned tables, publications');

my $pubs_sql = q{SELECT string_agg(format('%s:%s%s%s%s%s', pubname, pubinsert::int, pubupdate::int,
    pubdelete::int, pubviaroot::int, puballtables::int), ',' ORDER BY pubname) FROM pg_publication};
my $members_sql = q{SELECT string_agg(format('%s %s %s %s', pubname, schemaname || '.' || tablename,
    attnames, rowfilter), ',' ORDER BY 1) FROM pg_publication_tables WHERE pubname = 'zoo_pub'};

# ---- 1. offline
{
    psql($tgt0, 'CREATE DATABASE zoo_off');
    my $uri = db_uri($tgt0, 'zoo_off');
    my $env = { SOURCE_URI => $src, TARGET_URI => $uri };
    my $plan = plan_file('zoo_off', 'false');
    my $r = run_pgshift($env, 'plan', $plan);
    is($r->{rc}, 0, 'offline: plan finds nothing blocking') or diag($r->{out} . $r->{err});
    like($r->{out}, qr/PASS\s+global_objects\s+13 to move with the schema steps: access method heap2, cast from integer to zoo.pair/,
         'preflight lists the objects outside any schema it moves');
    like($r->{out}, qr/WARN\s+user_mapping_secrets\s+not moved, their passwords stay on the source: user mapping for public on server loopback/,
         'preflight names the user mapping whose password is not copied');
    like($r->{out}, qr/PASS\s+source_publications\s+3 moved by schema.post, with their migrated tables: publication zoo_pub, publication zoo_pub_all, publication zoo_pub_schema; pgshift's own stay on the source/,
         'preflight names the publications schema.post moves');
    unlike($r->{out}, qr/excluded_object_classes/, 'no excluded_object_classes check without the key');
    $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress');
    is($r->{rc}, 0, 'offline: apply migrates the zoo') or diag($r->{err});
    unlike($r->{out} . $r->{err}, qr/zoo-secret/, 'offline: the password appears in no output');
    is(psql($uri, q{SELECT count(*) FROM pg_user_mappings WHERE usename = 'public'}), '0',
       'offline: the user mapping with a password is not on the target');
    same_tables($uri, 'offline');
    same_schema($uri, 'offline');
    verify_identical($plan, $env, 'offline');
    is(psql($uri, $pubs_sql), psql($src, $pubs_sql), 'offline: the publications and their operations are on the target');
    is(psql($uri, $members_sql), psql($src, $members_sql), 'offline: zoo_pub has its tables, column list and row filter');
    like(psql($uri, $members_sql), qr/zoo_pub zoo.am_t \{id,v\} \(id > 10\)/, 'offline: the row filter and the column list are the source\'s');
    is(psql($uri, q{SELECT obj_description(oid, 'pg_publication') FROM pg_publication WHERE pubname = 'zoo_pub'}),
       'filtered rows of two tables', 'offline: the comment on the publication moved');
    is(psql($uri, 'SELECT zoo.in_zoo_lang()'), '42', 'offline: a function in the user\'s language runs on the target');
    is(psql($uri, "SELECT count(*) FROM zoo.pair_v WHERE p = ROW(id, id * 2)::zoo.pair"), '50',
       'offline: the view that needs the user cast answers');
    is(psql($uri, q{SELECT string_agg(c.relname || ':' || a.amname, ',' ORDER BY c.relname) FROM pg_class c
        JOIN pg_am a ON a.oid = c.relam WHERE c.relname IN ('am_t', 'am_default', 'am_mv')}),
       'am_default:heap2,am_mv:heap2,am_t:heap2', 'offline: the tables and the materialized view use heap2 on the target');

    # ---- 3. verify notices a missing object outside any schema
    psql($uri, 'DROP EVENT TRIGGER zoo_evt');
    psql($uri, 'DROP SERVER useless_server CASCADE');
    psql($uri, 'DROP TRANSFORM FOR int LANGUAGE sql CASCADE');
    psql($uri, 'ALTER PUBLICATION zoo_pub DROP TABLE zoo.cast_t');
    psql($uri, q{ALTER PUBLICATION zoo_pub_schema SET (publish = 'insert')});
    $r = run_pgshift($env, 'verify', $plan, '--level', 'schema');
    is($r->{rc}, 1, 'verify --level schema fails once objects outside any schema are dropped on the target');
    like($r->{out}, qr/FAIL\s+event trigger event trigger zoo_evt: event trigger missing on the target/, 'verify names the event trigger');
    like($r->{out}, qr/FAIL\s+server server useless_server: server missing on the target/, 'verify names the server');
    like($r->{out}, qr/FAIL\s+user mapping user mapping for postgres on server useless_server: user mapping missing/, 'verify names the user mapping');
    like($r->{out}, qr/FAIL\s+transform transform for integer language sql: transform missing/, 'verify names the transform');
    like($r->{out}, qr/FAIL\s+publication member publication of table zoo.cast_t in publication zoo_pub: publication member missing/,
         'verify names the table a publication lost');
    like($r->{out}, qr/FAIL\s+publication publication zoo_pub_schema: differs: publish = 'insert, update, delete, truncate', publish_via_partition_root = true on the source, publish = 'insert', publish_via_partition_root = true on the target/,
         'verify names the publication whose operations differ');
}

# ---- 2. online, with writes during CDC
{
    psql($tgt0, 'CREATE DATABASE zoo_on');
    my $uri = db_uri($tgt0, 'zoo_on');
    my $env = { SOURCE_URI => $src, TARGET_URI => $uri };
    my $plan = plan_file('zoo_on', 'true');
    my $log = "$dir/online.err";
    my $pid = fork() // die;
    if ($pid == 0) {
        $ENV{$_} = $env->{$_} for keys %$env;
        open(STDIN, '<', '/dev/null'); open(STDOUT, '>', "$log.out"); open(STDERR, '>', $log);
        exec(pgshift_bin(), 'apply', $plan, '--yes', '--no-progress') or die;
    }
    ok(wait_until(sub { slurp($log) =~ /cutover gate: waiting for approval/ }, 120, $pid),
       'online: apply reaches the cutover gate') or diag(slurp($log));
    psql($src, q{SET search_path = zoo;
        INSERT INTO pk VALUES (1502), (1777), (1003), (3);
        DELETE FROM pk WHERE a = 1501;
        UPDATE pk SET a = 1600 WHERE a = 1003;
        INSERT INTO fkref VALUES (1502), (1777);
        INSERT INTO part_fk VALUES (1, 1), (2, 2);
        INSERT INTO notpart_pk VALUES (3, 3);
        INSERT INTO am_t SELECT g, 'cdc ' || g FROM generate_series(51, 80) g;
        UPDATE am_t SET v = v || '!' WHERE id % 4 = 0;
        DELETE FROM am_default WHERE id > 15;
        INSERT INTO cast_t VALUES (31, 31::pair, 31, 'happy');
        UPDATE cast_t SET p = ROW(0, 0)::pair, m = 'sad' WHERE id < 5;
        INSERT INTO misc (name, during) VALUES ('late', tstzrange('2030-01-01', '2030-01-02'));});
    my $r = run_pgshift($env, 'cutover', $plan);
    is($r->{rc}, 0, 'online: pgshift cutover approves');
    waitpid($pid, 0);
    is($? >> 8, 0, 'online: apply finishes after the cutover (its verify steps passed)') or diag(`tail -20 $log`);
    same_tables($uri, 'online');
    is(psql($src, q{SELECT relreplident FROM pg_class WHERE oid = 'zoo.fkref'::regclass}), 'f',
       'online: pgshift gave the key-less table FULL identity on the source for CDC');
    is(psql($uri, q{SELECT relreplident FROM pg_class WHERE oid = 'zoo.fkref'::regclass}), 'd',
       'online: the target keeps the identity the source had before (DEFAULT)');
    $r = run_pgshift($env, 'cleanup', $plan, '--restore-identity');
    is($r->{rc}, 0, 'online: cleanup --restore-identity puts the source back') or diag($r->{err});
    same_schema($uri, 'online');
    verify_identical($plan, $env, 'online');
    is(psql($uri, q{SELECT count(*) FROM zoo.am_t WHERE v LIKE 'cdc %'}), '30', 'online: the rows written to the heap2 table during CDC are there');
    is(psql($uri, $pubs_sql), psql($src, $pubs_sql), 'online: the publications are on the target, pgshift\'s own is not');
    is(psql($src, q{SELECT count(*) FROM pg_publication WHERE pubname LIKE 'pgshift%'}), '0', 'online: cleanup dropped pgshift\'s own publication on the source');
}

# ---- 4. filters.exclude_object_classes
{
    psql($tgt0, 'CREATE DATABASE zoo_excl');
    my $uri = db_uri($tgt0, 'zoo_excl');
    my $env = { SOURCE_URI => $src, TARGET_URI => $uri };
    my $plan = plan_file('zoo_excl', 'false',
        'exclude_object_classes: [event_triggers, publications, transforms, user_mappings]');
    my $r = run_pgshift($env, 'plan', $plan);
    is($r->{rc}, 0, 'excluded classes: plan finds nothing blocking') or diag($r->{out} . $r->{err});
    like($r->{out}, qr/PASS\s+global_objects\s+7 to move with the schema steps: access method heap2, .*; left out by filters.exclude_object_classes: event_triggers, publications, transforms, user_mappings/,
         'excluded classes: global_objects names what it moves and the classes left out');
    like($r->{out}, qr/PASS\s+excluded_object_classes\s+no migrated object needs one of event_triggers, publications, transforms, user_mappings/,
         'excluded classes: no migrated object needs them');
    like($r->{out}, qr/PASS\s+source_publications\s+3 not moved \(filters.exclude_object_classes\)/, 'excluded classes: the publications are said not moved');
    $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress');
    is($r->{rc}, 0, 'excluded classes: apply migrates the rest') or diag($r->{err});
    is(psql($uri, q{SELECT (SELECT count(*) FROM pg_event_trigger) || ',' || (SELECT count(*) FROM pg_publication)
        || ',' || (SELECT count(*) FROM pg_transform) || ',' || (SELECT count(*) FROM pg_user_mapping)
        || ',' || (SELECT count(*) FROM pg_foreign_server) || ',' || (SELECT count(*) FROM pg_cast WHERE oid >= 16384)}),
       '0,0,0,0,2,2', 'excluded classes: no event trigger, publication, transform or user mapping on the target; servers and casts are');
    same_tables($uri, 'excluded classes');
    $r = run_pgshift($env, 'verify', $plan, '--level', 'schema');
    is($r->{rc}, 0, 'excluded classes: verify --level schema does not compare them') or diag($r->{out});
    like($r->{out}, qr/result: IDENTICAL/, 'excluded classes: verify says IDENTICAL');

    my $bad = plan_file('zoo_excl_needed', 'false', 'exclude_object_classes: [access_methods, languages]');
    $r = run_pgshift($env, 'plan', $bad);
    is($r->{rc}, 2, 'an excluded class that migrated objects need: plan exits 2') or diag($r->{out});
    like($r->{out}, qr/FAIL\s+excluded_object_classes\s+migrated objects need what the plan leaves out: .*table zoo.am_t needs access method heap2/,
         'preflight names the table that needs the excluded access method');
    like($r->{out}, qr/function zoo.in_zoo_lang\(\) needs language zoo_plpgsql/, 'preflight names the function that needs the excluded language');

    my $typo = plan_file('zoo_excl_typo', 'false', 'exclude_object_classes: [casts, cast, triggers]');
    $r = run_pgshift($env, 'validate', $typo);
    is($r->{rc}, 3, 'an unknown object class is a plan error (exit 3)');
    like($r->{err}, qr/plan.yaml:8:\d+: error: filters.exclude_object_classes: unknown object class "cast"; did you mean "casts"\?/,
         'the error names the line, the value and the class meant');
    like($r->{err}, qr/unknown object class "triggers".*expected one of access_methods, casts, event_triggers, foreign_data_wrappers, languages, publications, servers, transforms, user_mappings/,
         'every error of the list is reported, with the classes there are');
}

done_testing();
