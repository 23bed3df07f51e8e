# Schema changes and large objects during CDC (DESIGN.md §4a, cdc.ddl: stop),
# through `pgshift apply` on real servers: one source database and one
# target database per case, every apply online (cdc.enabled) with a manual
# gate and the cutover fence_writes, wait_for_catchup, sync_sequences,
# verify (checksum). All applies run at once; each waits at its gate, then
# its case's change is made on the source and the cutover approved.
#   - each schema change the slot does not carry (or carries only as a new
#     Relation message) makes apply exit 1 naming the table, column, index
#     or constraint: CREATE TABLE + rows, ATTACH PARTITION + rows routed to
#     it, ADD COLUMN ... DEFAULT without DML, DROP COLUMN with and without
#     DML, RENAME COLUMN + DML, ALTER COLUMN TYPE + DML, DROP TABLE and
#     CREATE TABLE again + rows, CREATE INDEX, ADD CONSTRAINT;
#   - large objects created, written and unlinked during CDC are identical
#     on the target after the cutover, which exits 0 (as does a table
#     created in a schema the filters exclude).
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

my $c = start_clusters();
my ($src0, $tgt0) = ($c->{source_uri}, $c->{target_uri});
my $dir = tempdir(CLEANUP => 1);

my $base = <<'SQL';
CREATE SCHEMA app;
CREATE SCHEMA scratch;
CREATE TABLE app.t (id int PRIMARY KEY, a int NOT NULL, b text);
INSERT INTO app.t SELECT g, g * 10, 'b' || g FROM generate_series(1, 200) g;
CREATE TABLE app.p (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE app.p_1 PARTITION OF app.p FOR VALUES FROM (0) TO (100);
INSERT INTO app.p SELECT g, 'v' || g FROM generate_series(0, 99) g;
SELECT lo_from_bytea(5001, 'first'), lo_from_bytea(5002, 'second'), lo_from_bytea(5003, 'third');
SQL

# name => [SQL run on the source during CDC, what the failure must name, exit code]
my %cases = (
    create_table => ["CREATE TABLE app.newt (id int PRIMARY KEY, v text);"
                     . " INSERT INTO app.newt SELECT g, 'n' || g FROM generate_series(1, 50) g;",
                     qr/new table app\.newt|table app\.newt: .*missing on the target/, 1],
    attach_partition => ["CREATE TABLE app.p_2 (id int NOT NULL, v text);"
                         . " ALTER TABLE app.p ATTACH PARTITION app.p_2 FOR VALUES FROM (100) TO (200);"
                         . " INSERT INTO app.p SELECT g, 'w' || g FROM generate_series(100, 150) g;",
                         qr/partition app\.p_2 of app\.p|table app\.p_2: .*missing on the target/, 1],
    add_column_default => ["ALTER TABLE app.t ADD COLUMN c int DEFAULT 7;",
                           qr/column app\.t\.c \(integer\) was added|column "c" \(integer\) was added/, 1],
    drop_column_dml => ["ALTER TABLE app.t DROP COLUMN b; UPDATE app.t SET a = a + 1 WHERE id <= 5;"
                        . " INSERT INTO app.t VALUES (1000, 1);",
                        qr/column app\.t\.b \(text\) was dropped|table "app\.t" changed on the source since the copy: column "b" \(text\) was dropped/, 1],
    drop_column => ["ALTER TABLE app.t DROP COLUMN b;",
                    qr/column app\.t\.b \(text\) was dropped|column "b" \(text\) was dropped/, 1],
    alter_type => ["ALTER TABLE app.t ALTER COLUMN a TYPE bigint; UPDATE app.t SET a = a * 1000000000 WHERE id = 3;",
                   qr/column app\.t\.a changed type: integer -> bigint|column "a" changed type: integer -> bigint/, 1],
    rename_column => ["ALTER TABLE app.t RENAME COLUMN b TO bb; UPDATE app.t SET a = a + 1 WHERE id = 1;",
                      qr/column app\.t\.b \(text\) was dropped; column app\.t\.bb \(text\) was added|column "b" \(text\) was dropped or renamed; column "bb" \(text\) was added/, 1],
    recreate_table => ["DROP TABLE app.t; CREATE TABLE app.t (id int PRIMARY KEY, a int NOT NULL, b text);"
                       . " INSERT INTO app.t VALUES (1, 1, 'new');",
                       qr/table app\.t was dropped and created again \(oid \d+, the copy read oid \d+\)/, 1],
    create_index => ["CREATE INDEX t_b_idx ON app.t (b);",
                     qr/new index app\.t_b_idx|t_b_idx.*missing on the target/, 1],
    add_constraint => ["ALTER TABLE app.t ADD CONSTRAINT t_a_positive CHECK (a >= 0);",
                       qr/new constraint t_a_positive on app\.t|t_a_positive.*missing on the target/, 1],
    blobs => ["SELECT lo_from_bytea(5004, 'created during cdc');"
              . " SELECT lo_put(5002, 3, 'OND, longer than before');"
              . " SELECT lo_unlink(5003);"
              . " SELECT lo_from_bytea(5005, (SELECT string_agg(md5(g::text), '')::bytea FROM generate_series(1, 100000) g));"
              . " CREATE TABLE scratch.ignored (id int); INSERT INTO app.t VALUES (2000, 2, 'after');",
              undef, 0],
);

psql($src0, "CREATE ROLE ddl_app LOGIN");

sub uri_of { my ($uri, $db) = @_; (my $u = $uri) =~ s{/postgres$}{/$db}; return $u; }

sub plan_for {
    my ($name) = @_;
    psql($src0, "CREATE DATABASE $name");
    psql($tgt0, "CREATE DATABASE $name");
    my ($src, $tgt) = (uri_of($src0, $name), uri_of($tgt0, $name));
    psql($src, $base);
    my $pdir = tempdir(CLEANUP => 1);
    my $path = write_plan(<<"YAML", $pdir);
version: 1
name: $name
source: { uri: "\${SOURCE_URI}" }
target: { uri: "\${TARGET_URI}" }
filters: { exclude_schemas: [scratch] }
copy: { table_jobs: 2, index_jobs: 2, vacuum_analyze: false }
cdc: { enabled: true, max_lag: 2s, ddl: stop }
cutover:
  approval: manual
  steps:
    - fence_writes: { roles: [ddl_app] }
    - wait_for_catchup: { timeout: 60s }
    - sync_sequences: { margin: 0 }
    - verify: { level: checksum }
YAML
    return { plan => $path, src => $src, tgt => $tgt,
             env => { SOURCE_URI => $src, TARGET_URI => $tgt } };
}

sub start_apply {
    my ($r, $log) = @_;
    my $pid = fork() // die;
    if ($pid == 0) {
        $ENV{$_} = $r->{env}{$_} for keys %{ $r->{env} };
        open(STDIN, '<', '/dev/null'); open(STDOUT, '>', "$log.out"); open(STDERR, '>', $log);
        exec(pgshift_bin(), 'apply', $r->{plan}, '--yes', '--no-progress') or die;
    }
    return $pid;
}

sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return ''; local $/; return <$fh> // ''; }

# An apply that ended keeps its exit code in $r->{rc}.


sub blobs_of {
    my ($uri) = @_;
    return psql($uri, "SELECT oid || ':' || md5(lo_get(oid)) FROM pg_largeobject_metadata ORDER BY oid");
}

my @names = sort keys %cases;
my %run;
for my $name (@names) {
    $run{$name} = plan_for($name);
    $run{$name}{log} = "$dir/$name.err";
    $run{$name}{pid} = start_apply($run{$name}, $run{$name}{log});
}
for my $name (@names) {
    my $r = $run{$name};
    ok(wait_for_run(sub { slurp($r->{log}) =~ /cutover gate: waiting for approval/ }, 120, $r),
       "$name: apply reaches the cutover gate") or diag(slurp($r->{log}));
}
for my $name (@names) {
    my $r = $run{$name};
    psql($r->{src}, $cases{$name}[0]);
    my $a = run_pgshift($r->{env}, 'cutover', $r->{plan});
    is($a->{rc}, 0, "$name: the cutover is approved") or diag($a->{err});
}
for my $name (@names) {
    my $r = $run{$name};
    my ($sql, $names_it, $want) = @{ $cases{$name} };
    my $rc = wait_for_run(sub { run_ended($r) }, 120) ? $r->{rc} : -1;
    my $log = slurp($r->{log});
    is($rc, $want, "$name: apply exits $want") or diag($log);
    note("$name: $1") if $log =~ /^pgshift: error: (?!step )(.*)$/m;
    if ($names_it) {
        like($log, $names_it, "$name: the error names the change");
        like($log, qr/source (?:LSN|transaction)|commit [0-9A-F]+\/[0-9A-F]+/,
             "$name: and where on the source it was seen");
        like($log, qr/make the same change on the target/, "$name: and says how to continue");
    }
}

# the run that cut over: data and large objects as on the source
{
    my $r = $run{blobs};
    my @diff;
    for my $t (@{ user_tables($r->{src}) }) {
        next if $t->[0] eq 'scratch';
        my ($rows, $d) = compare_table($r->{src}, $r->{tgt}, @$t);
        push @diff, $d if $d;
    }
    ok(!@diff, 'blobs: every migrated table identical after the cutover') or diag(join("\n", @diff));
    my $want = blobs_of($r->{src});
    like($want, qr/^5001:.*\n5002:.*\n5004:.*\n5005:/, 'the source has large objects 5001, 5002, 5004, 5005');
    is(blobs_of($r->{tgt}), $want, 'blobs: large objects created, written and unlinked during CDC are identical on the target');
    like(slurp($r->{log}), qr/large objects: 2 created, 1 changed, 1 unlinked on the target/,
         'and the cutover says what it re-synchronised');
}

# continuing as the error says: the same DDL on the target, apply again
for my $case (['drop_column_dml', 'ALTER TABLE app.t DROP COLUMN b'],
              ['add_column_default', 'ALTER TABLE app.t ADD COLUMN c int DEFAULT 7']) {
    my ($name, $ddl) = @$case;
    my $r = $run{$name};
    psql($r->{tgt}, $ddl);
    # the approval given to the run that stopped was that run's: this one
    # is approved on its command line
    my $a = run_pgshift($r->{env}, 'apply', $r->{plan}, '--yes', '--approve', '--no-progress');
    is($a->{rc}, 0, "$name: after the same change on the target, apply resumes and cuts over")
        or diag($a->{err});
    my @diff;
    for my $t (@{ user_tables($r->{src}) }) {
        next if $t->[0] eq 'scratch';
        my ($rows, $d) = compare_table($r->{src}, $r->{tgt}, @$t);
        push @diff, $d if $d;
    }
    ok(!@diff, "$name: every migrated table identical after the resumed cutover") or diag(join("\n", @diff));
}

done_testing();
