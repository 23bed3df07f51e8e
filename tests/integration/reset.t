# `pgshift reset` is the exact inverse of apply (DESIGN.md §4b, issue 13):
#   a. a zoo of object kinds (extension, types, domain, range, functions,
#      aggregate, procedure, operator, operator family/class, collation,
#      cast, conversion, text search objects, tables with an FK cycle,
#      partitions, views, a materialized view, sequences, two tables and a
#      view in a cycle through policies, a transform, a foreign server with a
#      user mapping, large objects (one below OID 16384),
#      in public and in new schemas) is applied, then reset: the target's
#      catalog is exactly what it was before (objects that were there before
#      apply, in public too, stay); a re-apply after reset works.
#   b. objects apply did not create that depend on migrated ones (a view on
#      a migrated table, a table in a schema apply created) make reset
#      refuse, exit 1, naming each and what it depends on, with nothing
#      dropped; --cascade then drops them with the rest.
#   c. after a run with keep_state: false, reset still drops everything
#      (the manifest outlives the state), never "nothing to drop".
#   d. an apply killed after schema.pre, then reset: the target is as before.
#   e. default privileges apply set for roles it did not create (in no
#      schema, and in public) are put back by reset.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use PgShift::Cluster;
use PgShift::Compare qw(compare_tables);
use PgShift::Run;

my $c = start_clusters();
my ($src0, $tgt0) = ($c->{source_uri}, $c->{target_uri});

sub db_uri { my ($uri, $db) = @_; (my $u = $uri) =~ s{/postgres$}{/$db}; return $u; }

my $zoo = <<'SQL';
CREATE EXTENSION citext;
CREATE SCHEMA app;
CREATE SCHEMA ledger;
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE public.pair AS (a int, b text);
CREATE TYPE app.span AS RANGE (subtype = float8);
CREATE DOMAIN public.posint AS int CHECK (VALUE > 0);
CREATE COLLATION public.nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE FUNCTION public.add1(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1';
CREATE FUNCTION app.pair_text(public.pair) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1.b';
CREATE AGGREGATE public.total(int) (SFUNC = int4pl, STYPE = int, INITCOND = '0');
CREATE AGGREGATE public.rows_seen(*) (SFUNC = int8inc, STYPE = int8, INITCOND = '0');
CREATE PROCEDURE app.noop() LANGUAGE sql AS 'SELECT 1';
CREATE PROCEDURE app.twin(OUT a int, IN b int, IN c int) LANGUAGE sql AS 'SELECT 1';
CREATE PROCEDURE app.twin(IN a int, IN b int, IN c int) LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION public.int_eq(int, int) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT $1 = $2';
CREATE OPERATOR public.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = public.int_eq);
CREATE OPERATOR FAMILY public.rev_ops USING btree;
CREATE FUNCTION public.rev_cmp(int, int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT btint4cmp($2, $1)';
CREATE OPERATOR CLASS public.rev_ops FOR TYPE int USING btree FAMILY public.rev_ops AS
  OPERATOR 1 > , OPERATOR 2 >= , OPERATOR 3 = , OPERATOR 4 <= , OPERATOR 5 < ,
  FUNCTION 1 public.rev_cmp(int, int);
CREATE CAST (public.pair AS text) WITH FUNCTION app.pair_text(public.pair);
CREATE CONVERSION public.my_latin FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
CREATE TEXT SEARCH DICTIONARY public.simple_dict (TEMPLATE = simple);
CREATE TEXT SEARCH CONFIGURATION public.my_ts (COPY = simple);
CREATE SEQUENCE app.ticket START 100;
CREATE TABLE public.people (id serial PRIMARY KEY, name citext COLLATE "default", m public.mood,
  p public.pair, n public.posint, nick text COLLATE public.nocase, bumped int DEFAULT public.add1(1),
  ticket bigint DEFAULT nextval('app.ticket'));
CREATE TABLE app.a (id int PRIMARY KEY, b_id int);
CREATE TABLE app.b (id int PRIMARY KEY, a_id int REFERENCES app.a);
ALTER TABLE app.a ADD FOREIGN KEY (b_id) REFERENCES app.b;
CREATE TABLE ledger.entries (id bigint GENERATED ALWAYS AS IDENTITY, at date NOT NULL, r app.span,
  PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE ledger.entries_2024 PARTITION OF ledger.entries FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE ledger.entries_2025 PARTITION OF ledger.entries FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE INDEX people_rev ON public.people (n public.rev_ops);
CREATE VIEW public.happy AS SELECT id, name FROM public.people WHERE m = 'happy';
CREATE VIEW app.happy_count AS SELECT count(*) AS n FROM public.happy;
CREATE MATERIALIZED VIEW app.moods AS SELECT m, count(*) FROM public.people GROUP BY m;
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN NEW.bumped := NEW.bumped + 1; RETURN NEW; END';
CREATE TRIGGER people_touch BEFORE UPDATE ON public.people FOR EACH ROW EXECUTE FUNCTION public.touch();
CREATE STATISTICS public.people_stats ON m, n FROM public.people;
INSERT INTO public.people (name, m, p, n, nick) SELECT 'n' || g, (ARRAY['sad','ok','happy'])[1 + g % 3]::public.mood,
  ROW(g, 'p' || g)::public.pair, g, 'Nick' || g FROM generate_series(1, 300) g;
INSERT INTO app.a VALUES (1, NULL), (2, NULL);
INSERT INTO app.b VALUES (1, 1), (2, 2);
UPDATE app.a SET b_id = id;
INSERT INTO ledger.entries (at, r) VALUES ('2024-05-01', '[1,2)'), ('2025-02-01', '[3,4)');
REFRESH MATERIALIZED VIEW app.moods;
CREATE TABLE app.s1 (a int);
CREATE TABLE app.s2 (a int);
CREATE VIEW app.v2 AS SELECT a FROM app.s2;
CREATE POLICY p1 ON app.s1 USING (a IN (SELECT a FROM app.v2));
CREATE POLICY p2 ON app.s2 USING (a IN (SELECT a FROM app.s1));
CREATE TRANSFORM FOR int LANGUAGE SQL (FROM SQL WITH FUNCTION prsd_lextype(internal), TO SQL WITH FUNCTION int4recv(internal));
CREATE FOREIGN DATA WRAPPER zoo_fdw;
CREATE SERVER zoo_srv FOREIGN DATA WRAPPER zoo_fdw;
CREATE USER MAPPING FOR public SERVER zoo_srv;
SELECT lo_from_bytea(4242, 'a large object below OID 16384');
SELECT lo_from_bytea(0, 'a large object with a new OID');
SQL

# Objects the target holds before apply, in public and elsewhere: they must survive every reset.
my $existing = <<'SQL';
CREATE TABLE public.keep (id int PRIMARY KEY);
CREATE FUNCTION public.keep_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE TYPE public.keep_t AS ENUM ('x');
CREATE SCHEMA kept;
CREATE VIEW kept.v AS SELECT * FROM public.keep;
SQL

# Every object of the target database outside the state schema, by description.
my $catalog_sql = <<'SQL';
SELECT string_agg(d, E'\n' ORDER BY d) FROM (
  SELECT pg_describe_object(classid, objid, 0) AS d FROM (
    SELECT 'pg_class'::regclass AS classid, oid AS objid FROM pg_class WHERE relnamespace <> 'pg_toast'::regnamespace
    UNION ALL SELECT 'pg_type'::regclass, oid FROM pg_type UNION ALL SELECT 'pg_proc'::regclass, oid FROM pg_proc
    UNION ALL SELECT 'pg_namespace'::regclass, oid FROM pg_namespace UNION ALL SELECT 'pg_operator'::regclass, oid FROM pg_operator
    UNION ALL SELECT 'pg_opclass'::regclass, oid FROM pg_opclass UNION ALL SELECT 'pg_opfamily'::regclass, oid FROM pg_opfamily
    UNION ALL SELECT 'pg_collation'::regclass, oid FROM pg_collation UNION ALL SELECT 'pg_cast'::regclass, oid FROM pg_cast
    UNION ALL SELECT 'pg_conversion'::regclass, oid FROM pg_conversion UNION ALL SELECT 'pg_ts_config'::regclass, oid FROM pg_ts_config
    UNION ALL SELECT 'pg_ts_dict'::regclass, oid FROM pg_ts_dict UNION ALL SELECT 'pg_extension'::regclass, oid FROM pg_extension
    UNION ALL SELECT 'pg_publication'::regclass, oid FROM pg_publication UNION ALL SELECT 'pg_constraint'::regclass, oid FROM pg_constraint
    UNION ALL SELECT 'pg_trigger'::regclass, oid FROM pg_trigger UNION ALL SELECT 'pg_statistic_ext'::regclass, oid FROM pg_statistic_ext
    UNION ALL SELECT 'pg_rewrite'::regclass, oid FROM pg_rewrite UNION ALL SELECT 'pg_attrdef'::regclass, oid FROM pg_attrdef
    UNION ALL SELECT 'pg_transform'::regclass, oid FROM pg_transform
    UNION ALL SELECT 'pg_foreign_data_wrapper'::regclass, oid FROM pg_foreign_data_wrapper
    UNION ALL SELECT 'pg_foreign_server'::regclass, oid FROM pg_foreign_server
    UNION ALL SELECT 'pg_user_mapping'::regclass, oid FROM pg_user_mapping
    UNION ALL SELECT 'pg_largeobject'::regclass, oid FROM pg_largeobject_metadata
    UNION ALL SELECT 'pg_default_acl'::regclass, oid FROM pg_default_acl
  ) o WHERE objid >= 16384 OR classid = 'pg_largeobject'::regclass) x
WHERE d NOT LIKE '%pgshift%' AND d !~ 'pg_(toast_)?temp_'
SQL

sub catalog { my ($uri) = @_; return psql($uri, $catalog_sql); }

sub pair {
    my ($name, $keep_state) = @_;
    psql($src0, "CREATE DATABASE $name");
    psql($tgt0, "CREATE DATABASE $name");
    my ($src, $tgt) = (db_uri($src0, $name), db_uri($tgt0, $name));
    psql($src, $zoo);
        psql($tgt, $existing);
    my $plan = write_plan(<<"YAML", tempdir(CLEANUP => 1));
version: 1
name: $name
source:
  uri: \${SOURCE_URI}
target:
  uri: \${TARGET_URI}
schema:
  privileges: drop
copy:
  table_jobs: 2
  vacuum_analyze: false
cdc:
  enabled: false
cutover:
  approval: auto
  steps:
    - sync_sequences: { margin: 0 }
cleanup:
  keep_state: $keep_state
YAML
    return ($plan, { SOURCE_URI => $src, TARGET_URI => $tgt }, $src, $tgt);
}

sub identical {
    my ($src, $tgt, $what) = @_;
    my @diff = grep { defined $_->[2] } compare_tables($src, $tgt);
    @diff = grep { $_->[2] !~ /public\.keep\b/ } @diff;
    ok(!@diff, $what) or diag(join("\n", map { $_->[2] } @diff));
}

# ---- a. the zoo: apply, reset, the catalog as before; re-apply
my ($plan, $env, $src, $tgt) = pair('rs_zoo', 'true');
my $before = catalog($tgt);
like($before, qr/table keep/, 'the target holds its own objects before apply');
my $r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress');
is($r->{rc}, 0, 'apply of the zoo') or diag($r->{err});
identical($src, $tgt, 'the zoo is migrated');
my $applied = catalog($tgt);
for my $o ('type mood', 'type posint', 'function add1(integer)', 'operator ===(integer,integer)',
           'operator family rev_ops for access method btree', 'collation nocase',
           'cast from pair to text', 'conversion my_latin', 'text search configuration my_ts',
           'extension citext', 'schema app', 'table app.a', 'view happy', 'large object 4242',
           'transform for integer language sql', 'foreign-data wrapper zoo_fdw', 'server zoo_srv',
           'user mapping for public on server zoo_srv') {
    like($applied, qr/^\Q$o\E$/m, "apply created $o");
}
is(psql($tgt, "SELECT count(*) FROM pgshift.manifest WHERE plan = 'rs_zoo' AND schema_name = 'public'") > 10, 1,
   'the manifest lists the objects apply created in public');

$r = run_pgshift($env, 'reset', $plan);
is($r->{rc}, 3, 'reset without --yes exits 3');
like($r->{out}, qr/^  type public\.mood$/m, 'it lists a type in public');
like($r->{out}, qr/^  cast \(public\.pair AS pg_catalog\.text\)$/m, 'a cast');
like($r->{out}, qr/^  operator public\.===\(integer,integer\)$/m, 'an operator');
unlike($r->{out}, qr/keep/, 'and nothing the target held before');
my @order = map { /^  (\S.*)$/ ? $1 : () } split /\n/, $r->{out};
my %at; @at{@order} = (0 .. $#order);
ok($at{'view app.happy_count'} < $at{'view public.happy'} && $at{'view public.happy'} < $at{'table public.people'}
   && $at{'table public.people'} < $at{'type public.mood'} && $at{'table public.people'} < $at{'extension citext'}
   && $at{'table ledger.entries'} < $at{'schema ledger'} && $at{'table public.people'} < $at{'sequence app.ticket'}
   && $at{'sequence app.ticket'} < $at{'schema app'},
   'dependents come first: views, tables, then the types, sequences, extensions and schemas they use')
   or diag(join("\n", @order));
ok(!exists $at{'index public.people_rev'} && !exists $at{'sequence public.people_id_seq'}
   && !exists $at{'table ledger.entries_2024'}, 'what a table owns (index, serial, partitions) goes with it');

$r = run_pgshift($env, 'reset', $plan, '--yes');
is($r->{rc}, 0, 'reset --yes') or diag($r->{err});
like($r->{err}, qr/reset: table app\.s\d, view app\.v2, table app\.s\d depend on each other in a cycle: dropped one by one with CASCADE/,
     'a cycle of different kinds (through policies) is dropped member by member');
is(catalog($tgt), $before, "the target's catalog is exactly what it was before apply");
is(psql($tgt, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgshift'"), '0', 'the state is gone');

$r = run_pgshift($env, 'apply', $plan, '--yes', '--no-progress');
is($r->{rc}, 0, 'a re-apply after reset works') or diag($r->{err});
identical($src, $tgt, 'and migrates the zoo again');

# ---- b. objects apply did not create refuse the reset; --cascade drops them
psql($tgt, "CREATE VIEW public.watch AS SELECT id FROM public.people; CREATE TABLE app.extra (id int)");
$r = run_pgshift($env, 'reset', $plan, '--yes');
is($r->{rc}, 1, 'a reset over foreign dependents exits 1');
like($r->{err}, qr/2 object\(s\) that apply did not create depend on what it created; nothing was dropped/,
     'it refuses') or diag($r->{err});
like($r->{err}, qr/view public\.watch depends on column id of table public\.people/, 'naming the view and the table it depends on');
like($r->{err}, qr/table app\.extra depends on schema app/, 'and the table in a schema apply created');
like($r->{err}, qr/--cascade/, 'and says how to force it');
is(psql($tgt, "SELECT count(*) FROM public.people"), '300', 'nothing was dropped');
$r = run_pgshift($env, 'reset', $plan, '--yes', '--cascade');
is($r->{rc}, 0, 'reset --cascade') or diag($r->{err});
like($r->{err}, qr/reset --cascade: drops view public\.watch, not created by apply/, 'it says what it drops besides');
is(catalog($tgt), $before, 'the catalog is as before apply, the foreign objects gone too');

# ---- c. keep_state: false: the manifest outlives the state
my ($plan_c, $env_c, $src_c, $tgt_c) = pair('rs_nostate', 'false');
my $before_c = catalog($tgt_c);
$r = run_pgshift($env_c, 'apply', $plan_c, '--yes', '--no-progress');
is($r->{rc}, 0, 'apply with keep_state: false') or diag($r->{err});
is(psql($tgt_c, "SELECT count(*) FROM pgshift.runs"), '0', 'the run state is dropped at the end');
$r = run_pgshift($env_c, 'reset', $plan_c, '--yes');
is($r->{rc}, 0, 'reset after it') or diag($r->{err});
unlike($r->{out}, qr/nothing to drop/, 'does not say "nothing to drop"');
like($r->{out}, qr/^  table public\.people$/m, 'it lists the migrated tables');
is(catalog($tgt_c), $before_c, 'and leaves the catalog as before apply');

# ---- d. an apply killed after schema.pre, then reset
my ($plan_d, $env_d, $src_d, $tgt_d) = pair('rs_killed', 'true');
my $before_d = catalog($tgt_d);
$r = run_pgshift({ %$env_d, PGSHIFT_TEST_HOOKS => 1, PGSHIFT_TEST_CRASH_AT => 'after:schema.pre' },
                 'apply', $plan_d, '--yes', '--no-progress');
like($r->{err}, qr/test crash point "after:schema\.pre" reached: SIGKILL/, 'an apply killed after schema.pre');
is(psql($tgt_d, "SELECT to_regclass('public.people') IS NOT NULL"), 't', 'left the restored schema behind');
$r = run_pgshift($env_d, 'reset', $plan_d, '--yes');
is($r->{rc}, 0, 'reset after the killed apply') or diag($r->{err});
is(catalog($tgt_d), $before_d, 'the catalog is as before apply');
$r = run_pgshift($env_d, 'apply', $plan_d, '--yes', '--no-progress');
is($r->{rc}, 0, 'and a new apply migrates it') or diag($r->{err});
identical($src_d, $tgt_d, 'identical');

# ---- e. default privileges of existing roles, moved with the privileges
psql($src0, "CREATE DATABASE rs_acl");
psql($tgt0, "CREATE DATABASE rs_acl");
my ($src_e, $tgt_e) = (db_uri($src0, 'rs_acl'), db_uri($tgt0, 'rs_acl'));
psql($src_e, "CREATE TABLE public.t (id int PRIMARY KEY);"
     . " ALTER DEFAULT PRIVILEGES FOR ROLE pg_signal_backend REVOKE USAGE ON TYPES FROM PUBLIC;"
     . " ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON TABLES TO pg_read_all_stats");
my $plan_e = write_plan(<<"YAML", tempdir(CLEANUP => 1));
version: 1
name: rs_acl
source:
  uri: \${SOURCE_URI}
target:
  uri: \${TARGET_URI}
cdc:
  enabled: false
cutover:
  approval: auto
YAML
my $env_e = { SOURCE_URI => $src_e, TARGET_URI => $tgt_e };
my $before_e = catalog($tgt_e);
$r = run_pgshift($env_e, 'apply', $plan_e, '--yes', '--no-progress');
is($r->{rc}, 0, 'apply with the default privileges') or diag($r->{err});
is(psql($tgt_e, "SELECT count(*) FROM pg_default_acl"), '2', 'both default privileges entries moved');
$r = run_pgshift($env_e, 'reset', $plan_e, '--yes');
is($r->{rc}, 0, 'reset') or diag($r->{err});
like($r->{err}, qr/put back default acl for role pg_signal_backend on types/, 'it puts back the global one');
is(psql($tgt_e, "SELECT count(*) FROM pg_default_acl"), '0', 'no default privileges entry is left');
is(catalog($tgt_e), $before_e, 'the catalog is as before apply');

done_testing();
