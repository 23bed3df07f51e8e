# Catalog introspection of a real source (engine/pg/catalog*.c): a torture
# schema goes on a throwaway source, then tests/pg/test_catalog.c loads the
# catalog through two plans' filters on a read-only session and asserts its
# exact contents. The TAP comes from that binary; this file only prepares the
# server and passes the output on (no exec, so the clusters are stopped).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PgShift::Cluster;

$| = 1;
my $bin = "$FindBin::Bin/../../build/pgtest/test_catalog";
unless (-x $bin) {
    print "1..0 # SKIP $bin is not built (make check builds it)\n";
    exit 0;
}

my $schema = <<'SQL';
CREATE SCHEMA app;
CREATE SCHEMA "select";
CREATE SCHEMA scratch;

CREATE TABLE app.customers (
    id bigserial PRIMARY KEY,
    email text NOT NULL,
    referred_by bigint REFERENCES app.customers (id),
    CONSTRAINT customers_email_key UNIQUE (email));
INSERT INTO app.customers (email) VALUES ('a@example.com'), ('b@example.com'), ('c@example.com');
ANALYZE app.customers;

CREATE TABLE app.orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES app.customers (id),
    qty integer NOT NULL,
    price numeric(10,2) NOT NULL,
    total numeric(12,2) GENERATED ALWAYS AS (qty * price) STORED,
    note text);
ALTER TABLE app.orders ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID;
CREATE INDEX orders_lower_note ON app.orders (lower(note));

CREATE TABLE app.events (id bigint NOT NULL, at timestamptz NOT NULL, payload jsonb,
    PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE app.events_2023 PARTITION OF app.events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE app.events_2024 PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE app.events_default PARTITION OF app.events DEFAULT;
CREATE TABLE app.event_notes (event_id bigint, event_at timestamptz, body text,
    FOREIGN KEY (event_id, event_at) REFERENCES app.events (id, at));

CREATE TABLE app.metrics (kind text NOT NULL, v double precision) PARTITION BY LIST (kind);
CREATE TABLE app.metrics_a PARTITION OF app.metrics FOR VALUES IN ('a');
CREATE TABLE app.metrics_b PARTITION OF app.metrics FOR VALUES IN ('b');
CREATE TABLE app.tmp_log (at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE app.log_2024 PARTITION OF app.tmp_log FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE app."MixedCase" (id integer PRIMARY KEY, "Value" text);
ALTER TABLE app."MixedCase" REPLICA IDENTITY FULL;
CREATE TABLE app."we""ird table" (id integer PRIMARY KEY, "sp ace" text);
CREATE TABLE app.nopk (a integer, b text);
CREATE TABLE app.keyed (code text NOT NULL, CONSTRAINT keyed_code_key UNIQUE (code));
ALTER TABLE app.keyed REPLICA IDENTITY USING INDEX keyed_code_key;
CREATE TABLE "select"."from" (id integer PRIMARY KEY, customer_id bigint REFERENCES app.customers (id));

CREATE TABLE app.tmp_scratch (id serial PRIMARY KEY);
CREATE TABLE app.audit (id integer PRIMARY KEY, scratch_id integer REFERENCES app.tmp_scratch (id));
CREATE TABLE app.sessions (id integer PRIMARY KEY, data text);
CREATE TABLE app.ext_owned (id integer);
ALTER EXTENSION plpgsql ADD TABLE app.ext_owned;
CREATE TABLE scratch.junk (id integer);
CREATE SCHEMA pgshift;
CREATE TABLE pgshift.state (id integer PRIMARY KEY);

CREATE VIEW app.order_totals AS SELECT customer_id, sum(total) AS total FROM app.orders GROUP BY customer_id;
CREATE MATERIALIZED VIEW app.customer_count AS SELECT count(*) AS n FROM app.customers;
CREATE SEQUENCE app.free_seq;
CREATE SEQUENCE app.tmp_seq;
SQL

my $c = start_clusters();
psql($c->{source_uri}, $schema);
my $pgcrypto = psql($c->{source_uri},
    "SELECT count(*) FROM pg_available_extensions WHERE name = 'pgcrypto'");
psql($c->{source_uri}, 'CREATE EXTENSION pgcrypto') if $pgcrypto;

$ENV{SOURCE_URI} = $c->{source_uri};
$ENV{HAVE_PGCRYPTO} = $pgcrypto ? 1 : 0;
my $out = `$bin 2>&1`;
my $rc = $? == 0 ? 0 : 1;
print $out;
print "# test_catalog exited with status $?\n" if $rc;
exit $rc;
