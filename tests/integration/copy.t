# Table copy on real servers (engine/steps/step_copy.c, DESIGN.md §4): a
# torture set of tables goes on the source, the same DDL on the target, then
# tests/pg/test_copy.c runs the snapshot and copy steps (split parts in
# parallel threads) and PgShift::Compare checks, independently of pgshift,
# that every table's rows are byte for byte the same on both servers. Done
# for copy.format text and binary, then for the atomicity of a failing copy.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use PgShift::Cluster;
use PgShift::CTest;
use PgShift::Compare qw(compare_tables compare_table);

my $bin = "$FindBin::Bin/../../build/pgtest/test_copy";
plan skip_all => "$bin not built (make check builds it)" unless -x $bin;

my $ddl = <<'SQL';
CREATE TYPE mood AS ENUM ('sad', 'ok', 'it''s "fine"');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TYPE pair AS (a integer, b text, c double precision);
CREATE SCHEMA "select";

CREATE TABLE nasty (
    id integer PRIMARY KEY,
    t text, f8 double precision, f4 real, n numeric, by bytea,
    ta text[], ia integer[], j json, jb jsonb,
    ts timestamptz, tsn timestamp, d date, iv interval, tm time, tmtz timetz,
    u uuid, ip inet, net cidr, m money, bv bit varying(64), pi posint, md mood,
    pr pair, x xml, "MixedCase" text, "with space" text, "quote""d" text);

CREATE TABLE toasty (id integer PRIMARY KEY, body text, blob bytea);

CREATE TABLE gen (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    a integer,
    twice integer GENERATED ALWAYS AS (a * 2) STORED,
    b text);

CREATE TABLE "select"."we""ird tab le" ("Id" integer, "the ""value""" text, "select" int);

CREATE TABLE events (id integer NOT NULL, at date NOT NULL, v text) PARTITION BY RANGE (at);
CREATE TABLE events_2023 PARTITION OF events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_other PARTITION OF events DEFAULT;

CREATE TABLE big (id bigint PRIMARY KEY, k integer, payload text, f double precision);
-- nearly all of it TOAST: its split must cut the heap's pages, not its size
CREATE TABLE docs (id integer PRIMARY KEY, doc text);
ALTER TABLE docs ALTER doc SET STORAGE EXTERNAL;
CREATE TABLE probe (id integer PRIMARY KEY, v text);
CREATE TABLE nocols ();
CREATE TABLE replaced (id integer PRIMARY KEY, v text);
CREATE TABLE guarded (id integer PRIMARY KEY, v text);
SQL

# Rows of the source; NULL, quotes, backslashes, control characters and
# extreme numbers each get a row of their own, so a difference names them.
my $data = <<'SQL';
INSERT INTO nasty (id, t) VALUES
    (1, 'null'), (2, 'NULL'), (3, NULL), (4, 'it''s'), (5, '''''hello world'''''),
    (6, E'back\\slash \\\\ double'), (7, E'\\N'), (8, E'tab\there'), (9, E'new\nline'),
    (10, E'carriage\rreturn\r\n'), (11, 'emoji 🐘🎉 and ZWJ 👩‍👩‍👧'), (12, E'combining e\u0301 a\u0308'),
    (13, 'RTL שלום עליכם مرحبا'), (14, ''), (15, ' '), (16, E'\\.'), (17, E'end\\'),
    (18, E'"double" ''single'' `back`'), (19, E'\x01\x02\x1f\x7f ctl');
INSERT INTO nasty (id, f8, f4, n) VALUES
    (20, 'NaN', 'NaN', 'NaN'), (21, 'Infinity', 'Infinity', 'Infinity'),
    (22, '-Infinity', '-Infinity', '-Infinity'), (23, '-0', '-0', '-0.0'),
    (24, 1e308, 3.4028235e38, 1e-1000), (25, 5e-324, 1.4e-45, 123456789012345678901234567890.123456789),
    (26, 2.2250738585072014e-308, 1.17549435e-38, -0.000000000000000000001),
    (27, 0.1, 0.1, 0.1), (28, 1.7976931348623157e308, 16777217, 1e131071);
INSERT INTO nasty (id, by) VALUES
    (30, '\x00'), (31, '\x0001ff00'), (32, ''), (33, E'\\x5c5c00275c4e'), (34, decode(repeat('00ff', 5000), 'hex'));
INSERT INTO nasty (id, ta, ia) VALUES
    (40, ARRAY['a', NULL, 'NULL', 'null', 'it''s', 'say "hi"', E'back\\slash', '', ' ', '{}', ',', E'new\nline'], '{{1,2},{3,NULL}}'),
    (41, '{}', '{}'), (42, ARRAY[NULL]::text[], '[0:1]={7,8}');
INSERT INTO nasty (id, j, jb) VALUES
    (50, '{"a": 1,  "a": 2,   "b" : [1, 2 ,3]}', '{"a": 1, "a": 2, "b": [1, 2, 3]}'),
    (51, '"null"', 'null'), (52, 'null', '"null"'),
    (53, E'{"s": "quote \\" back \\\\ nl \\n uni \\u00e9 \\ud83d\\ude00"}', E'{"s": "quote \\" back \\\\ nl \\n uni \\u00e9"}'),
    (54, '  [ 1.000, 1e2, -0 ]  ', '[1.000, 1e2, -0, 12345678901234567890.12345678901234567890]');
INSERT INTO nasty (id, ts, tsn, d, iv, tm, tmtz) VALUES
    (60, 'infinity', 'infinity', 'infinity', '178000000 years', '24:00:00', '24:00:00+1559'),
    (61, '-infinity', '-infinity', '-infinity', '-178000000 years', '00:00:00', '00:00:00-1559'),
    (62, '0044-03-15 12:00:00 BC', '4713-01-01 00:00:00 BC', '4713-11-24 BC', '1 year 2 mons -3 days 04:05:06.789',
         '23:59:59.999999', '12:34:56.789+05:30'),
    (63, '2024-02-29 23:59:59.999999+14', '294276-12-31 23:59:59.999999', '5874897-12-31', '-00:00:00.000001',
         '12:00', '12:00-00:01:30'),
    (64, '1900-01-01 00:00:00+00:19:32', '2000-01-01', '2000-01-01', '0', '00:00:00.5', '00:00:00+00');
INSERT INTO nasty (id, u, ip, net, m, bv, pi, md, pr, x) VALUES
    (70, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', '10.0.0.0/8', '-92233720368547758.08',
         B'1010101', 1, 'it''s "fine"', ROW(1, 'a "b", c', 'NaN'), '<a x="1">t &amp; &lt;</a>'),
    (71, '00000000-0000-0000-0000-000000000000', '::ffff:1.2.3.4', '2001:db8::/32', '92233720368547758.07',
         B'', 2147483647, 'sad', ROW(NULL, NULL, NULL), 'just text'),
    (72, NULL, 'fe80::1', '0.0.0.0/0', '0', B'1', NULL, NULL, ROW(NULL, '', '-Infinity'),
         '<?xml version="1.0"?><r>é</r>');
INSERT INTO nasty (id, "MixedCase", "with space", "quote""d") VALUES (80, 'Mixed', 'spaced', 'quo"ted');

INSERT INTO toasty VALUES
    (1, repeat('x', 1100000), NULL),
    (2, (SELECT string_agg(md5(i::text), E'\t\\\n') FROM generate_series(1, 40000) i), NULL),
    (3, NULL, (SELECT string_agg(decode(md5(i::text), 'hex'), '\x00'::bytea) FROM generate_series(1, 70000) i));

INSERT INTO gen (a, b) SELECT i, 'g' || i FROM generate_series(1, 50) i;
DELETE FROM gen WHERE id % 7 = 0;
INSERT INTO gen (a, b) VALUES (NULL, NULL);

INSERT INTO "select"."we""ird tab le" VALUES (1, 'one', 1), (NULL, NULL, NULL), (2, E'two\ttab', 2);
INSERT INTO events SELECT i, DATE '2022-12-20' + (i % 800), 'e' || i FROM generate_series(1, 3000) i;
INSERT INTO big SELECT i, i % 1000, md5(i::text) || repeat('p', i % 40), i / 7.0
    FROM generate_series(1, 20000) i;
-- dead rows and free space in the middle of the table, as a live table has
DELETE FROM big WHERE id % 11 = 0 AND id < 10000;
UPDATE big SET payload = payload || ' updated' WHERE id % 13 = 0;
INSERT INTO docs SELECT i, repeat(md5(i::text), 80) FROM generate_series(1, 2000) i;
INSERT INTO probe VALUES (1, 'before');
INSERT INTO nocols SELECT FROM generate_series(1, 3);
INSERT INTO replaced VALUES (1, 'source one'), (2, 'source two');
INSERT INTO guarded VALUES (1, 'fine'), (2, 'forbidden'), (3, 'fine too');
SQL

# The target only: a trigger that would fail every insert, and the
# constraint that makes the guarded table's copy fail.
my $target_only = <<'SQL';
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'trigger fired on %', TG_TABLE_NAME; END $$;
CREATE TRIGGER refuse BEFORE INSERT ON nasty FOR EACH ROW EXECUTE FUNCTION refuse();
CREATE TRIGGER refuse BEFORE INSERT ON big FOR EACH ROW EXECUTE FUNCTION refuse();
CREATE TRIGGER refuse BEFORE INSERT ON events_2024 FOR EACH ROW EXECUTE FUNCTION refuse();
ALTER TABLE guarded ADD CONSTRAINT no_forbidden CHECK (v <> 'forbidden');
SQL

my $c = start_clusters();
my ($src, $dst) = ($c->{source_uri}, $c->{target_uri});
psql($_, $ddl) for $src, $dst;
psql($src, $data);
psql($src, 'VACUUM ANALYZE');    # sizes for the split decision
psql($dst, $target_only);

sub run_bin {
    my ($name, %env) = @_;
    run_c_test($bin, $name, SOURCE_URI => $src, TARGET_URI => $dst, %env);
}

sub compare_all {
    my ($what) = @_;
    my @skip = ('public.guarded', 'public.replaced');
    for my $r (compare_tables($src, $dst)) {
        my ($name, $rows, $diff) = @$r;
        next if grep { $_ eq $name } @skip;
        ok(!defined $diff, "$what: $name identical on both servers ($rows rows)") or diag($diff);
    }
}

my @data_tables = ('nasty', 'toasty', 'gen', '"select"."we""ird tab le"', 'events_2023',
                   'events_2024', 'events_other', 'big', 'docs', 'probe', 'nocols');
for my $format (qw(text binary auto)) {
    # start from empty targets, so a copy that did nothing cannot pass
    psql($dst, 'TRUNCATE ' . join(', ', @data_tables));
    run_bin("copy with format $format", PGSHIFT_SCENARIO => 'copy', COPY_FORMAT => $format);
    compare_all("format $format");
}
is(psql($dst, 'SELECT count(*) FROM big'), psql($src, 'SELECT count(*) FROM big'),
   'big: every row arrived exactly once');
# an unsplit table is emptied in its copy's transaction, so COPY FREEZE wrote
# it frozen and all-visible; a split table's parts cannot be
psql($dst, 'CREATE EXTENSION IF NOT EXISTS pg_visibility');
my $vm = q{SELECT all_visible || '/' || all_frozen || '/' || pg_relation_size('%s') / 8192
           FROM pg_visibility_map_summary('%s')};
like(psql($dst, sprintf($vm, 'gen', 'gen')), qr{^([1-9]\d*)/\1/\1$},
     'gen (unsplit): every page all-visible and all-frozen after the copy');
# autovacuum may have marked pages all-visible meanwhile, but never frozen
like(psql($dst, sprintf($vm, 'big', 'big')), qr{^\d+/0/[1-9]},
     'big (split): its parts are not frozen');
is(psql($dst, 'SELECT count(*) FROM (SELECT id FROM big GROUP BY id HAVING count(*) > 1) d'), 0,
   'big: no row twice');
is(psql($dst, 'SELECT string_agg(id || ' . "'=' || twice, ',' ORDER BY id) FROM gen WHERE id < 5"),
   '1=2,2=4,3=6,4=8', 'generated column recomputed on the target');

# The guarded table's copy fails on the target; its old rows must survive.
psql($dst, q{INSERT INTO guarded VALUES (10, 'target ten'), (11, 'target eleven');
             INSERT INTO replaced VALUES (7, 'target seven')});
run_bin('a failing copy rolls back, a copy replaces old rows', PGSHIFT_SCENARIO => 'atomic',
        COPY_FORMAT => 'text');
is(psql($dst, "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM guarded"),
   '10:target ten,11:target eleven', 'guarded: the target kept its previous rows');
my ($rows, $diff) = compare_table($src, $dst, 'public', 'replaced');
ok(!defined $diff, "replaced: old target rows replaced by the source's ($rows rows)") or diag($diff);

done_testing();
