# Names with spaces, quotes and capitals through an online run on real
# servers: schema "Weird Schema" with table Mixed "Case" T, a user
# publication "my pub" FOR TABLES IN SCHEMA "Weird Schema" and one on the
# table. pg_restore --list writes their entries with the spaces unquoted
# ("PUBLICATION TABLE Weird Schema pgshift_odd Mixed "Case" T"): pgshift's
# own publication must stay on the source, the user's must move. apply
# (CDC on, rows written during the stream) exits 0, the target's pg_dump
# --schema-only equals the source's (pgshift's publication left out of the
# source's) and every table's rows are the same.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use PgShift::Cluster;
use PgShift::Run;
use PgShift::Compare qw(compare_tables);

my $c = start_clusters();
my ($src, $tgt) = ($c->{source_uri}, $c->{target_uri});
my %env = (SOURCE_URI => $src, TARGET_URI => $tgt);

psql($src, <<'SQL');
CREATE SCHEMA "Weird Schema";
CREATE TABLE "Weird Schema"."Mixed ""Case"" T" (id int PRIMARY KEY, "a b" text);
INSERT INTO "Weird Schema"."Mixed ""Case"" T" SELECT g, 'v' || g FROM generate_series(1, 100) g;
CREATE SCHEMA "x pgshift_odd";
CREATE TABLE "x pgshift_odd".t (id int PRIMARY KEY);
INSERT INTO "x pgshift_odd".t VALUES (1), (2);
CREATE PUBLICATION "my pub" FOR TABLES IN SCHEMA "Weird Schema";
CREATE PUBLICATION p2 FOR TABLE "x pgshift_odd".t;
COMMENT ON PUBLICATION "my pub" IS 'the user''s';
SQL

my $plan = write_plan(<<'YAML');
version: 1
name: odd
source: { uri: "${SOURCE_URI}" }
target: { uri: "${TARGET_URI}" }
cdc: { enabled: true, max_lag: 2s }
cutover:
  approval: auto
  steps:
    - wait_for_catchup: { timeout: 60s }
    - verify: { level: checksum }
cleanup: { when: manual }
YAML

my $log = tempdir(CLEANUP => 1) . '/apply.err';
my $pid = PgShift::Run::start_pgshift(\%env, $log, 'apply', $plan, '--yes', '--no-progress');
ok(PgShift::Run::wait_until(sub { PgShift::Run::slurp($log) =~ /cdc\.stream: started/ }, 60, $pid),
   'the stream started') or diag(PgShift::Run::slurp($log));
psql($src, q{INSERT INTO "Weird Schema"."Mixed ""Case"" T" VALUES (101, 'during the stream')});
waitpid($pid, 0);
is($? >> 8, 0, 'apply exits 0') or diag(PgShift::Run::slurp($log));
unlike(PgShift::Run::slurp($log), qr/does not exist/, 'no restore of pgshift\'s own publication entries');

is(psql($tgt, "SELECT string_agg(pubname, ',' ORDER BY pubname) FROM pg_publication"), 'my pub,p2',
   'the user\'s publications moved, pgshift_odd stayed on the source');
is(psql($src, "SELECT count(*) FROM pg_publication WHERE pubname = 'pgshift_odd'"), '1',
   'pgshift\'s publication is on the source until cleanup');

sub schema_dump {
    my ($uri, @extra) = @_;
    my $out = `pg_dump --schema-only --exclude-schema=pgshift @extra '$uri' 2>&1`;
    die "pg_dump failed: $out" if $?;
    return join '', grep { !/^(--|\\restrict|\\unrestrict|\s*$)/ } split /^/m, $out;
}
# pgshift's publication is the one difference: cut its statements out of the source's
my $s = schema_dump($src);
$s =~ s/^CREATE PUBLICATION pgshift_odd [^;]*;\n//mg;
$s =~ s/^ALTER PUBLICATION pgshift_odd [^;]*;\n//mg;
is(schema_dump($tgt), $s, 'pg_dump --schema-only of the target equals the source\'s');
like($s, qr/ALTER PUBLICATION "my pub" ADD TABLES IN SCHEMA "Weird Schema";/, 'and holds the user\'s publication');
my @diff = grep { $_->[2] } compare_tables($src, $tgt);
is(scalar(@diff), 0, 'every table has the same rows') or diag(join "\n", map { $_->[2] } @diff);
is(psql($tgt, q{SELECT "a b" FROM "Weird Schema"."Mixed ""Case"" T" WHERE id = 101}), 'during the stream',
   'the row written during the stream arrived');

my $clean = run_pgshift(\%env, 'cleanup', $plan);
is($clean->{rc}, 0, 'cleanup') or diag($clean->{err});
done_testing();
