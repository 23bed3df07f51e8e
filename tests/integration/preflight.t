# Preflight on real servers (DESIGN.md §3): the clusters are put into one
# state per scenario with psql, then build/pgtest/test_preflight asserts the
# exact status and observed value of the checks that state changes. Each
# scenario's TAP is shown indented (as a subtest) and counts as one test here.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use PgShift::Cluster;
use PgShift::CTest;

my $bin = "$FindBin::Bin/../../build/pgtest/test_preflight";
plan skip_all => "$bin not built (make check builds it)" unless -x $bin;

# max_prepared_transactions lets the dirty scenario leave a prepared transaction
$ENV{PGSHIFT_PG_EXTRA_CONF} = 'max_prepared_transactions = 4';
my $c = start_clusters();
my ($src, $dst) = ($c->{source_uri}, $c->{target_uri});

sub scenario {
    my ($name, %env) = @_;
    run_c_test($bin, "preflight scenario: $name", SOURCE_URI => $src, TARGET_URI => $dst,
               PGSHIFT_SCENARIO => $name, %env);
}

# ALTER SYSTEM and ROLLBACK PREPARED refuse a multi-statement string (a transaction block).
sub psql_each {
    my ($uri, @sql) = @_;
    psql($uri, $_) for @sql;
}

sub uri_as {
    my ($user) = @_;
    return "postgresql://$user\@127.0.0.1:$c->{source_port}/postgres";
}

# The clean clusters: t1 (with a key) exists empty on both.
psql($_, 'CREATE TABLE t1 (id int PRIMARY KEY)') for $src, $dst;
scenario('clean');

# Roles without and with a way to replicate.
psql($src, q{CREATE ROLE app LOGIN;
             CREATE ROLE rds_replication NOLOGIN;
             CREATE ROLE app_rds LOGIN IN ROLE rds_replication;
             CREATE ROLE app_repl LOGIN REPLICATION});
scenario('roles', SOURCE_URI_APP => uri_as('app'), SOURCE_URI_RDS => uri_as('app_rds'),
         SOURCE_URI_REPL => uri_as('app_repl'));

# An earlier attempt left its slot, publication and state; the target has rows
# and other defaults. The slot comes before the prepared transaction: creating
# it waits for every running transaction, prepared ones too.
psql($src, q{SELECT pg_create_logical_replication_slot('pgshift_x', 'pgoutput')});
psql($src, 'CREATE PUBLICATION pgshift_x FOR TABLE t1');
psql($src, q{CREATE TABLE pt (id int); BEGIN; INSERT INTO pt VALUES (1); PREPARE TRANSACTION 'pf1'});
psql_each($src, q{ALTER SYSTEM SET wal_sender_timeout = '5s'}, 'SELECT pg_reload_conf()');
psql($dst, q{CREATE SCHEMA pgshift;
             INSERT INTO t1 VALUES (1);
             CREATE TABLE nopk01 (v int);
             CREATE TABLE sessions (v int); INSERT INTO sessions VALUES (1);
             CREATE TABLE "odd ""name" (id int PRIMARY KEY); INSERT INTO "odd ""name" VALUES (1)});
psql_each($dst, q{ALTER SYSTEM SET TimeZone = 'Asia/Tokyo'}, q{ALTER SYSTEM SET max_wal_size = '2GB'},
          'ALTER DATABASE postgres SET search_path = app, public', 'SELECT pg_reload_conf()');
scenario('dirty');

# State in pgshift.runs: another plan's rows are not this plan's leftovers.
psql_each($src, q{SELECT pg_drop_replication_slot('pgshift_x')}, 'DROP PUBLICATION pgshift_x',
          q{ROLLBACK PREPARED 'pf1'}, 'ALTER SYSTEM RESET wal_sender_timeout', 'SELECT pg_reload_conf()');
psql_each($dst, q{DROP SCHEMA pgshift; TRUNCATE t1; DROP TABLE "odd ""name"},
          'ALTER SYSTEM RESET TimeZone', 'ALTER SYSTEM RESET max_wal_size',
          'ALTER DATABASE postgres RESET search_path', 'SELECT pg_reload_conf()');
psql($dst, q{CREATE SCHEMA pgshift; CREATE TABLE pgshift.runs (plan text);
             INSERT INTO pgshift.runs VALUES ('other')});
scenario('state_other');
psql($dst, q{INSERT INTO pgshift.runs VALUES ('x')});
scenario('state_this');
psql($dst, 'DROP SCHEMA pgshift CASCADE');

# The source restarted with wal_level = replica.
psql($src, 'ALTER SYSTEM SET wal_level = replica');
my @as_pg = $> == 0 ? ('runuser', '-u', 'postgres', '--') : ();
my $pgbin = $ENV{PGBIN} // '/usr/lib/postgresql/15/bin';
system(@as_pg, "$pgbin/pg_ctl", '-D', "$c->{dir}/source", '-l', "$c->{dir}/source.log",
       '-s', '-w', '-t', '60', 'restart') == 0 or die "could not restart the source\n";
is(psql($src, 'SHOW wal_level'), 'replica', 'source restarted with wal_level = replica');
scenario('replica');

done_testing();
