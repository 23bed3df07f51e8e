# pgshift plan: the dry run on real servers. It reads the source catalog,
# runs preflight and prints the DAG in every format, and changes nothing on
# either server (catalogs compared before and after).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;
use PgShift::Cluster;
use PgShift::Run;

my $c = start_clusters();
my ($src, $dst) = ($c->{source_uri}, $c->{target_uri});

psql($src, <<'SQL');
CREATE SCHEMA "select";
CREATE TABLE public.customers (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE public.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id int REFERENCES public.customers(id), amount numeric(10,2),
  total numeric GENERATED ALWAYS AS (amount * 2) STORED);
CREATE INDEX orders_customer_idx ON public.orders (customer_id);
CREATE TABLE public."MixedCase" (id int PRIMARY KEY, "Val" text);
CREATE TABLE "select"."we""ird table" (id int PRIMARY KEY, "from" text);
CREATE TABLE public.events (id int, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.nopk (a int, b text);
CREATE TABLE public.tmp_scratch (id int PRIMARY KEY);
CREATE TABLE public.sessions (id int PRIMARY KEY, data text);
INSERT INTO public.customers (name) SELECT 'c' || g FROM generate_series(1, 100) g;
INSERT INTO public.nopk SELECT g, 'x' FROM generate_series(1, 10) g;
ANALYZE;
SQL

# Everything a dry run must not create or change, on one server.
sub fingerprint {
    my ($uri) = @_;
    return join("\n",
        psql($uri, "SELECT count(*) FROM pg_replication_slots"),
        psql($uri, "SELECT coalesce(string_agg(pubname, ',' ORDER BY pubname), '') FROM pg_publication"),
        psql($uri, "SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace"),
        psql($uri, "SELECT string_agg(c.oid::regclass::text || ':' || relkind::text, ',' ORDER BY c.oid) FROM pg_class c WHERE relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace, 'pg_toast'::regnamespace)"),
        psql($uri, "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables"),
        psql($uri, "SELECT count(*) FROM pg_largeobject_metadata"),
        psql($uri, "SELECT coalesce(string_agg(setconfig::text, ','), '') FROM pg_db_role_setting"),
    );
}

my $dir = tempdir(CLEANUP => 1);
sub plan_yaml {
    my (%o) = @_;
    my $ri = $o{replica_identity} // 'fail';
    my $include = $o{include_tables} // '[]';
    return <<"YAML";
version: 1
name: dryrun
source:
  uri: \${SOURCE_URI}
target:
  uri: \${TARGET_URI}
filters:
  include_tables: $include
  exclude_tables: ["public.tmp_*"]
  exclude_table_data: ["public.sessions"]
cdc:
  replica_identity: $ri
YAML
}

my %env = (SOURCE_URI => $src, TARGET_URI => $dst);
my $before_src = fingerprint($src);
my $before_dst = fingerprint($dst);

# A table without a primary key blocks CDC with replica_identity: fail.
my $plan = write_plan(plan_yaml(), $dir);
my $r = run_pgshift(\%env, 'plan', $plan);
is($r->{rc}, 2, 'a table without PK or replica identity: preflight FAIL, exit 2') or diag($r->{err});
like($r->{out}, qr/^FAIL  replica_identity .*public\.nopk/m, 'the FAIL names the table');
like($r->{out}, qr/dry run: every session was read-only/, 'the output says it is a dry run');
like($r->{out}, qr/^Summary\n  tables /m, 'text output starts with the summary');

$plan = write_plan(plan_yaml(replica_identity => 'full'), $dir);
$r = run_pgshift(\%env, 'plan', $plan, '--format', 'json', '--out', "$dir/saved.json");
is($r->{rc}, 0, 'replica_identity: full: nothing blocks, exit 0') or diag($r->{err} . $r->{out});
my $j = eval { decode_json($r->{out}) };
ok($j, 'json output parses');
is($j->{format_version}, 1, 'json format_version 1');
ok($j->{dry_run}, 'json says dry_run');
my %steps = map { $_->{id} => $_ } @{ $j->{steps} };
ok($steps{'copy:public.MixedCase'}, 'mixed-case table copied');
ok($steps{'copy:select.we"ird table'}, 'odd identifiers in a schema named "select" copied');
ok($steps{'copy:public.events_2024'} && $steps{'copy:public.events_2025'}, 'partition leaves copied');
ok(!$steps{'copy:public.events'}, 'the partitioned parent itself is not copied');
ok(!$steps{'copy:public.tmp_scratch'}, 'excluded table has no step');
ok(!$steps{'copy:public.sessions'}, 'exclude_table_data: no copy step');
ok($steps{'index:public.orders_customer_idx'}, 'index step from the source catalog');
is_deeply($steps{'index:public.orders_customer_idx'}{after}, ['copy:public.orders'], 'index after its table');
ok($steps{'constraint:public.orders.orders_customer_id_fkey'}, 'FK constraint step');
ok((grep { $_ eq 'constraint:public.customers.customers_pkey' }
    @{ $steps{'constraint:public.orders.orders_customer_id_fkey'}{after} }), 'FK after the referenced key');
ok($steps{'cdc.stream'} && $steps{'cutover.gate'} && $steps{'cleanup'}, 'cdc, gate and cleanup steps');
unlike($r->{out}, qr/password/i, 'no password field in json');
my %checks = map { $_->{name} => $_ } @{ $j->{preflight}{checks} };
is($checks{wal_level}{status}, 'PASS', 'wal_level check passes');
is($checks{replica_identity}{status}, 'WARN', 'replica_identity full is a WARN that says what it will do');

# The text form summarises each stage (count, the largest steps); --verbose
# lists every step. Both are checked against the JSON's step list.
my (%per_stage, @stage_order);
for my $st (@{ $j->{steps} }) {
    push @stage_order, $st->{stage} unless $per_stage{ $st->{stage} }++;
}
my $text = run_pgshift(\%env, 'plan', $plan)->{out};
my @text_stages = $text =~ /^  \[([a-z]+)\] \d+ steps?/mg;
is_deeply(\@text_stages, \@stage_order, 'text: one line per stage, in DAG order');
for my $stage (@stage_order) {
    my ($n, $block) = $text =~ /^  \[\Q$stage\E\] (\d+) steps?[^\n]*\n((?:    [^\n]*\n)*)/m;
    is($n, $per_stage{$stage}, "text: stage $stage counts its steps");
    my @listed = $block =~ /^    (?!\.\.\.)(.*?) +(?:[\d.]+ k?M?G?T?B +)?after: /mg;
    my ($more) = $block =~ /^    \.\.\. and (\d+) more$/m;
    my $want = $per_stage{$stage} < 5 ? $per_stage{$stage} : 5;
    is(scalar(@listed), $want, "text: stage $stage lists its $want largest steps");
    is($more // 0, $per_stage{$stage} - $want, "text: stage $stage says how many more");
}
my ($constraints_more) = $text =~ /^  \[constraint\] \d+ steps\n(?:    [^\n]*\n){5}    \.\.\. and (\d+) more/m;
ok(defined $constraints_more, 'text: a stage of more than 5 steps is cut at 5') or diag($text);
my $verbose = run_pgshift(\%env, 'plan', $plan, '--verbose')->{out};
my @every = $verbose =~ /^    (.*?) +(?:[\d.]+ k?M?G?T?B +)?after: /mg;
is_deeply(\@every, [map { $_->{id} } @{ $j->{steps} }], '--verbose: every step, in the JSON order');
unlike($verbose, qr/\.\.\. and \d+ more/, '--verbose: no step left out');

ok(-s "$dir/saved.json", '--out wrote the saved plan');
my $saved = decode_json(do { local $/; open my $f, '<', "$dir/saved.json" or die; <$f> });
like($saved->{catalog_fingerprint}, qr/^[0-9a-f]{64}$/, 'saved plan holds the catalog fingerprint');
like($saved->{plan}{sha256}, qr/^[0-9a-f]{64}$/, 'saved plan holds the plan hash');

$r = run_pgshift(\%env, 'plan', $plan, '--format', 'markdown');
like($r->{out}, qr/^### pgshift plan `dryrun`/m, 'markdown heading');
like($r->{out}, qr/<details><summary>\d+ steps<\/summary>/, 'markdown step list is collapsed');
like($r->{out}, qr/^\| preflight \| status \| observed \| fix \|/m, 'markdown preflight table');

$r = run_pgshift(\%env, 'plan', $plan, '--format', 'dot');
like($r->{out}, qr/^digraph pgshift \{/, 'dot output');
like($r->{out}, qr/"copy:select\.we\\"ird table" -> /, 'dot escapes quotes in ids');

$plan = write_plan(plan_yaml(replica_identity => 'full', include_tables => '["public.nope*"]'), $dir);
$r = run_pgshift(\%env, 'plan', $plan);
is($r->{rc}, 2, 'an include filter matching nothing is a preflight FAIL');
like($r->{out}, qr/public\.nope\*/, 'the FAIL names the pattern');

is(fingerprint($src), $before_src, 'source catalog unchanged by the dry runs');
is(fingerprint($dst), $before_dst, 'target catalog unchanged by the dry runs');

# target_tables_empty asks 100 tables per query: 250 tables that exist on
# both servers, a row in a few of them (in the first, a middle and the
# last, partial, batch), one the target login may not read. The tables
# with rows are counted on the target table by table, independently.
psql($src, "DO \$\$ BEGIN FOR i IN 1..250 LOOP EXECUTE format('CREATE TABLE public.many_%s (id int PRIMARY KEY)', i); END LOOP; END \$\$");
psql($dst, "DO \$\$ BEGIN FOR i IN 1..250 LOOP EXECUTE format('CREATE TABLE public.many_%s (id int PRIMARY KEY)', i); END LOOP; END \$\$");
psql($dst, "INSERT INTO public.many_$_ VALUES (1)") for 3, 117, 200, 249;
psql($dst, q{CREATE ROLE limited LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public TO limited;
             REVOKE SELECT ON public.many_150 FROM limited});
sub target_check {
    my ($uri) = @_;
    my $out = run_pgshift({SOURCE_URI => $src, TARGET_URI => $uri}, 'plan', $plan, '--format', 'json')->{out};
    my ($ck) = grep { $_->{name} eq 'target_tables_empty' } @{ decode_json($out)->{preflight}{checks} };
    return $ck;
}
sub listed {
    my ($observed, $what) = @_;
    my $re = $what eq 'with rows' ? qr/(\d+) with rows: ([^;]*)/ : qr/could not read (\d+): ([^;]*)/;
    my ($n, $names) = $observed =~ $re or return (0, '');
    return ($n, join(',', sort split /, /, $names));
}
my $with_rows = psql($dst, q{SELECT string_agg('public.' || c.relname, ',' ORDER BY 'public.' || c.relname)
  FROM pg_class c WHERE c.relname LIKE 'many\_%' AND c.relkind = 'r' AND (xpath('/row/n/text()', query_to_xml(
  format('SELECT count(*) AS n FROM %s', c.oid::regclass), false, true, '')))[1]::text::int > 0});
$plan = write_plan(plan_yaml(replica_identity => 'full'), $dir);
my $ck = target_check($dst);
is($ck->{status}, 'FAIL', 'target_tables_empty: tables with rows on the target FAIL (require_empty_target)');
my ($n, $names) = listed($ck->{observed}, 'with rows');
is($n, 4, 'as many tables with rows as the target has') or diag($ck->{observed});
is($names, join(',', sort split /,/, $with_rows),
   'the same tables, a one-row table in every batch') or diag($ck->{observed});
my $limited = $dst =~ s{//postgres\@}{//limited\@}r;
$ck = target_check($limited);
($n, $names) = listed($ck->{observed}, 'with rows');
is($names, join(',', sort map { "public.many_$_" } 3, 117, 200, 249),
   'a table the login may not read leaves the rows of its batch seen') or diag($ck->{observed});
is_deeply([listed($ck->{observed}, 'could not read')], [1, 'public.many_150'], 'and is named as unreadable')
    or diag($ck->{observed});
psql($dst, "DELETE FROM public.many_$_") for 3, 117, 200, 249;
$ck = target_check($dst);
is($ck->{status}, 'PASS', 'the same tables emptied: PASS') or diag($ck->{observed});
is($ck->{observed}, 'none', 'none with rows');

# The JSON form goes out in parts of 64 kB: the 250 tables' plan is several,
# on stdout and in the saved plan alike.
$r = run_pgshift({SOURCE_URI => $src, TARGET_URI => $dst}, 'plan', $plan, '--format', 'json',
                 '--out', "$dir/many.json");
is($r->{rc}, 0, 'plan of 250 tables, json and --out: exit 0') or diag($r->{err});
cmp_ok(length($r->{out}), '>', 2 * 65536, 'its json is more than two parts long');
$j = eval { decode_json($r->{out}) };
ok($j && @{ $j->{steps} } == $j->{summary}{steps} && $j->{steps}[-1]{id},
   'it parses, with every step the summary counts');
is(do { local $/; open my $f, '<', "$dir/many.json" or die; <$f> }, $r->{out},
   'the saved plan is the same bytes as stdout');

# Offline: no connection at all.
$r = run_pgshift({SOURCE_URI => 'postgresql://u:sekrit@127.0.0.1:1/x', TARGET_URI => 'host=127.0.0.1 port=1'},
                 'plan', $plan, '--offline', '--format', 'json');
is($r->{rc}, 0, '--offline needs no server');
$j = decode_json($r->{out});
ok($j->{offline}, 'json says offline');
ok((grep { $_->{id} eq 'copy:*' } @{ $j->{steps} }), 'offline DAG is stage level');
unlike($r->{out} . $r->{err}, qr/sekrit/, 'offline output has no password');

# A plan written to a full disk is an error, in every format.
for my $format (qw(json text markdown)) {
    local $ENV{SOURCE_URI} = 'postgresql://u:sekrit@127.0.0.1:1/x';
    local $ENV{TARGET_URI} = 'host=127.0.0.1 port=1';
    my $bin = pgshift_bin();
    my $err = `'$bin' plan '$plan' --offline --format $format 2>&1 >/dev/full`;
    is($? >> 8, 1, "$format to a full disk: exit 1");
    like($err, qr/could not write (to standard output: No space left on device|all of the output to standard output)/,
         "$format to a full disk: says so");
}

# Unreachable source: exit 1, redacted URI and libpq's reason.
$r = run_pgshift({SOURCE_URI => 'postgresql://u:sekrit@127.0.0.1:1/x', TARGET_URI => $dst}, 'plan', $plan);
is($r->{rc}, 1, 'cannot connect: exit 1');
like($r->{err}, qr/could not connect to the source \(postgresql:\/\/u:\*\*\*\@127\.0\.0\.1:1\/x\): .*refused/s,
     'error names the redacted URI and the reason');
unlike($r->{out} . $r->{err}, qr/sekrit/, 'the password is never printed');

done_testing();
