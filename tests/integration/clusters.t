# The test harness itself: two clusters start on free loopback ports with
# wal_level=logical, answer queries, and are gone after stop.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use PgShift::Cluster;

my $c = start_clusters();
isnt($c->{source_port}, $c->{target_port}, 'source and target listen on different ports');
is(psql($c->{source_uri}, 'SHOW wal_level'), 'logical', 'source has wal_level=logical');
is(psql($c->{target_uri}, 'SHOW wal_level'), 'logical', 'target has wal_level=logical');
like(psql($c->{source_uri}, 'SHOW server_version'), qr/^15\./, 'source is PostgreSQL 15');
is(psql($c->{source_uri}, "SHOW listen_addresses"), '127.0.0.1', 'listens on loopback only');

PgShift::Cluster::stop_all();
ok(!-d $c->{dir}, 'cluster directory removed after stop');
ok(system("pg_isready -q -h 127.0.0.1 -p $c->{source_port}") != 0, 'source no longer answers');

done_testing();
