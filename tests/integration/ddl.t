# The DDL steps (engine/steps/step_schema.c, step_index.c, step_constraint.c,
# step_vacuum.c, step_blobs.c, cutover_sequences.c) on real servers: a source
# with every kind of object the target must keep as it was, then
# tests/pg/test_ddl.c runs the compiled DAG's steps twice into the target as
# a superuser, and twice into a database owned by a role that is not one.
# The TAP comes from that binary; this file prepares the servers.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PgShift::Cluster;

$| = 1;
my $bin = "$FindBin::Bin/../../build/pgtest/test_ddl";
unless (-x $bin) {
    print "1..0 # SKIP $bin is not built (make check builds it)\n";
    exit 0;
}

my $schema = <<'SQL';
CREATE SCHEMA app;
CREATE SCHEMA "select";
CREATE SCHEMA scratch;
CREATE EXTENSION pgcrypto;
CREATE EXTENSION hstore;

CREATE TABLE app.customers (
    id bigserial PRIMARY KEY,
    email text NOT NULL,
    referred_by bigint REFERENCES app.customers (id),
    CONSTRAINT customers_email_key UNIQUE (email));
COMMENT ON TABLE app.customers IS 'people who buy';
INSERT INTO app.customers (email) VALUES ('a@x'), ('b@x'), ('c@x');
CREATE TABLE app.orders (
    id bigint GENERATED ALWAYS AS IDENTITY (START WITH 100 INCREMENT BY 5 CACHE 3) PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES app.customers (id),
    qty integer NOT NULL CHECK (qty < 1000000),
    price numeric(10,2) NOT NULL,
    total numeric(12,2) GENERATED ALWAYS AS (qty * price) STORED,
    note text);
INSERT INTO app.orders (customer_id, qty, price) VALUES (1, 0, 9);
ALTER TABLE app.orders ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID;
CREATE INDEX orders_lower_note ON app.orders (lower(note));
CREATE INDEX orders_big ON app.orders (price) WHERE qty > 100;
CREATE TABLE app."We""ird.Table*" (id integer PRIMARY KEY, "sp ace" text, cust bigint);
INSERT INTO app."We""ird.Table*" VALUES (1, 'x', 99);
ALTER TABLE app."We""ird.Table*" ADD CONSTRAINT "fk Cust" FOREIGN KEY (cust) REFERENCES app.customers (id) NOT VALID;
CREATE TABLE "select"."from" (id integer PRIMARY KEY, customer_id bigint REFERENCES app.customers (id));
CREATE TABLE app.booking (id serial PRIMARY KEY, room int, during tstzrange,
    EXCLUDE USING gist (during WITH &&));
CREATE TABLE app.events (id bigint NOT NULL, at timestamptz NOT NULL, payload jsonb,
    PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE app.events_2023 PARTITION OF app.events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE app.events_2024 PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE INDEX events_payload ON app.events (at DESC);
CREATE TABLE app.keyed (code text NOT NULL, CONSTRAINT keyed_code_key UNIQUE (code));
ALTER TABLE app.keyed REPLICA IDENTITY USING INDEX keyed_code_key;
ALTER TABLE app.customers REPLICA IDENTITY FULL;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.note := coalesce(NEW.note, 'touched'); RETURN NEW; END$$;
CREATE TRIGGER orders_touch BEFORE INSERT ON app.orders FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE TRIGGER orders_off BEFORE UPDATE ON app.orders FOR EACH ROW EXECUTE FUNCTION app.touch();
ALTER TABLE app.orders DISABLE TRIGGER orders_off;
CREATE RULE keyed_nodelete AS ON DELETE TO app.keyed DO INSTEAD NOTHING;
ALTER TABLE app.customers ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON app.customers USING (email = current_user);
CREATE MATERIALIZED VIEW app.customer_count AS SELECT count(*) AS n FROM app.customers;
CREATE UNIQUE INDEX customer_count_n ON app.customer_count (n);
CREATE MATERIALIZED VIEW app.empty_mv AS SELECT 1 AS x WITH NO DATA;
CREATE STATISTICS app.orders_stats ON qty, price FROM app.orders;
CREATE TABLE app.tmp_scratch (id serial PRIMARY KEY);
CREATE TABLE scratch.junk (id integer);
CREATE SEQUENCE app.free_seq INCREMENT BY 7 MINVALUE 3 START 10 CACHE 5;
INSERT INTO app.orders (customer_id, qty, price) VALUES (1, 2, 3.5), (2, 200, 1), (3, 5, 9);
SELECT nextval('app.free_seq'), nextval('app.free_seq');
SELECT lo_from_bytea(424242, 'hello large object'), lo_from_bytea(424243, '\x00ff'::bytea);
SQL

my $c = start_clusters();
my $have = psql($c->{source_uri},
    "SELECT count(*) FROM pg_available_extensions WHERE name IN ('pgcrypto', 'hstore')");
unless ($have == 2) {
    print "1..0 # SKIP pgcrypto and hstore (postgresql-contrib) are not installed\n";
    exit 0;
}
psql($c->{source_uri}, $schema);
# a role that owns its target database and nothing else, as on managed services
psql($c->{target_uri}, "CREATE ROLE migrator LOGIN NOSUPERUSER NOCREATEROLE");
psql($c->{target_uri}, "CREATE DATABASE mig OWNER migrator");

$ENV{SOURCE_URI} = $c->{source_uri};
$ENV{TARGET_URI} = $c->{target_uri};
($ENV{MIGRATOR_URI} = $c->{target_uri}) =~ s{//postgres@(.*)/postgres$}{//migrator\@$1/mig};
my $out = `$bin 2>&1`;
my $rc = $? == 0 ? 0 : 1;
print $out;
print "# test_ddl exited with status $?\n" if $rc;
exit $rc;
