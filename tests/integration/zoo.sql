-- The catalog zoo (issue 15): one of each object class the PostgreSQL
-- regression database holds that pgshift once failed on or left out, and a
-- few that always worked, small enough to migrate in seconds. zoo.t loads
-- it on the source and migrates it offline and online.

CREATE SCHEMA zoo;
SET search_path = zoo, public;

-- a key on every level of a partition hierarchy three deep
CREATE TABLE pk (a int PRIMARY KEY) PARTITION BY RANGE (a);
CREATE TABLE pk1 PARTITION OF pk FOR VALUES FROM (0) TO (1000);
CREATE TABLE pk5 PARTITION OF pk FOR VALUES FROM (1000) TO (2000) PARTITION BY RANGE (a);
CREATE TABLE pk51 PARTITION OF pk5 FOR VALUES FROM (1000) TO (1500);
CREATE TABLE pk52 PARTITION OF pk5 FOR VALUES FROM (1500) TO (2000) PARTITION BY LIST (a);
CREATE TABLE pk521 PARTITION OF pk52 FOR VALUES IN (1500, 1501, 1502);
CREATE TABLE pk52d PARTITION OF pk52 DEFAULT;
INSERT INTO pk SELECT g FROM generate_series(1, 1999, 7) g;
INSERT INTO pk VALUES (1500), (1501);

-- an FK to the hierarchy: PostgreSQL names its clones on the partitions itself
CREATE TABLE fkref (a int REFERENCES pk);
INSERT INTO fkref SELECT a FROM pk WHERE a % 3 = 0;

-- a partitioned FK table, its partitions' FKs merged at ATTACH, detached and
-- attached again: the target names the clones differently from the source
CREATE TABLE notpart_pk (a int, b int, PRIMARY KEY (a, b));
INSERT INTO notpart_pk VALUES (1, 1), (150, 150), (2, 2);
CREATE TABLE part_fk (a int, b int, FOREIGN KEY (a, b) REFERENCES notpart_pk)
  PARTITION BY LIST (a);
CREATE TABLE part_fk_4 (a int, b int, FOREIGN KEY (a, b) REFERENCES notpart_pk (a, b)
  ON UPDATE CASCADE ON DELETE CASCADE) PARTITION BY RANGE (b, a);
CREATE TABLE part_fk_4_1 PARTITION OF part_fk_4 FOR VALUES FROM (1, 1) TO (100, 100);
CREATE TABLE part_fk_4_2 (a int, b int, FOREIGN KEY (a, b) REFERENCES notpart_pk (a, b)
  ON UPDATE SET NULL);
ALTER TABLE part_fk_4 ATTACH PARTITION part_fk_4_2 FOR VALUES FROM (100, 100) TO (1000, 1000);
ALTER TABLE part_fk ATTACH PARTITION part_fk_4 FOR VALUES IN (1, 150);
ALTER TABLE part_fk DETACH PARTITION part_fk_4;
ALTER TABLE part_fk ATTACH PARTITION part_fk_4 FOR VALUES IN (1, 150);
CREATE TABLE part_fk_d PARTITION OF part_fk DEFAULT;
INSERT INTO part_fk VALUES (1, 1), (150, 150), (2, 2);

-- a table access method, a table using it, and the default set while it is created
CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
COMMENT ON ACCESS METHOD heap2 IS 'heap under another name';
CREATE TABLE am_t (id int PRIMARY KEY, v text) USING heap2;
SET default_table_access_method = heap2;
CREATE TABLE am_default (id int PRIMARY KEY, v text);
RESET default_table_access_method;
CREATE MATERIALIZED VIEW am_mv USING heap2 AS SELECT id, v FROM am_t;
INSERT INTO am_t SELECT g, 'am ' || g FROM generate_series(1, 50) g;
INSERT INTO am_default SELECT g, 'default ' || g FROM generate_series(1, 20) g;
REFRESH MATERIALIZED VIEW am_mv;

-- user casts, one used by a view (the view cannot be created without it)
CREATE TYPE pair AS (x int, y int);
CREATE FUNCTION int_to_pair(int) RETURNS pair LANGUAGE sql IMMUTABLE
  AS 'SELECT ROW($1, $1 * 2)::zoo.pair';
CREATE CAST (int AS pair) WITH FUNCTION int_to_pair(int);
CREATE CAST (pair AS text) WITH INOUT AS ASSIGNMENT;
COMMENT ON CAST (int AS pair) IS 'a number as a pair';
CREATE VIEW pair_v AS SELECT id, id::pair AS p, (id::pair)::text AS t FROM am_t;
CREATE DOMAIN small_int AS int CHECK (VALUE < 1000);
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE cast_t (id int PRIMARY KEY, p pair, n small_int, m mood);
INSERT INTO cast_t SELECT g, g::pair, g, (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::mood
  FROM generate_series(1, 30) g;

-- a transform (as the regression database has one: built-in functions, LANGUAGE sql)
CREATE TRANSFORM FOR int LANGUAGE sql (
  FROM SQL WITH FUNCTION prsd_lextype(internal),
  TO SQL WITH FUNCTION int4recv(internal));

-- a procedural language of the user's, on plpgsql's C handler (pg_dump
-- writes a bare CREATE LANGUAGE when the handler is in pg_catalog)
CREATE FUNCTION zoo_handler() RETURNS language_handler LANGUAGE c
  AS '$libdir/plpgsql', 'plpgsql_call_handler';
CREATE LANGUAGE zoo_plpgsql HANDLER zoo_handler;
CREATE FUNCTION in_zoo_lang() RETURNS int LANGUAGE zoo_plpgsql AS 'BEGIN RETURN 42; END';

-- foreign data: an FDW without handler and its server; postgres_fdw's
-- server, user mapping and a foreign table (not copied: its rows live elsewhere)
CREATE FOREIGN DATA WRAPPER useless;
CREATE SERVER useless_server FOREIGN DATA WRAPPER useless OPTIONS (why 'nothing');
CREATE USER MAPPING FOR CURRENT_USER SERVER useless_server OPTIONS (user 'nobody');
CREATE EXTENSION postgres_fdw;
CREATE SERVER loopback FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER loopback;
-- a password pgshift must not copy: preflight names the mapping instead
CREATE USER MAPPING FOR PUBLIC SERVER loopback OPTIONS (user 'app', password 'zoo-secret');
CREATE FOREIGN TABLE remote_t (id int, v text) SERVER loopback
  OPTIONS (schema_name 'zoo', table_name 'am_t');
CREATE VIEW remote_v AS SELECT id FROM remote_t;

-- an event trigger, disabled, and one enabled that does nothing
CREATE FUNCTION evt_noop() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END';
CREATE EVENT TRIGGER zoo_evt_off ON ddl_command_end EXECUTE FUNCTION evt_noop();
ALTER EVENT TRIGGER zoo_evt_off DISABLE;
CREATE EVENT TRIGGER zoo_evt ON sql_drop WHEN TAG IN ('DROP TABLE') EXECUTE FUNCTION evt_noop();

-- what always worked: collation, operator, text search, trigger, rule,
-- policy, statistics, generated and identity columns, exclusion constraint
CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE FUNCTION pair_eq(pair, pair) RETURNS bool LANGUAGE sql IMMUTABLE
  AS 'SELECT $1.x = $2.x';
CREATE OPERATOR === (LEFTARG = pair, RIGHTARG = pair, FUNCTION = pair_eq);
CREATE TEXT SEARCH CONFIGURATION zoo_ts (COPY = simple);
CREATE TABLE misc (
  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text COLLATE ci NOT NULL,
  during tstzrange,
  twice int GENERATED ALWAYS AS (id * 2) STORED,
  EXCLUDE USING gist (during WITH &&)
);
CREATE STATISTICS misc_stats (dependencies) ON id, twice FROM misc;
CREATE FUNCTION misc_touch() RETURNS trigger LANGUAGE plpgsql
  AS 'BEGIN NEW.name := upper(NEW.name); RETURN NEW; END';
CREATE TRIGGER misc_touch BEFORE INSERT ON misc FOR EACH ROW EXECUTE FUNCTION misc_touch();
CREATE RULE misc_no_delete AS ON DELETE TO misc WHERE OLD.id < 0 DO INSTEAD NOTHING;
ALTER TABLE misc ENABLE ROW LEVEL SECURITY;
CREATE POLICY misc_public ON misc USING (id > 0);
INSERT INTO misc (name, during) SELECT 'n' || g,
  tstzrange(timestamptz '2024-01-01' + g * interval '1 day', timestamptz '2024-01-01' + (g + 1) * interval '1 day')
  FROM generate_series(1, 40) g;

-- publications (moved by schema.post, pgshift's own never): one of tables
-- with a column list and a row filter, one of a schema, one of all tables
CREATE PUBLICATION zoo_pub FOR TABLE am_t (id, v) WHERE (id > 10), cast_t
  WITH (publish = 'insert, update');
COMMENT ON PUBLICATION zoo_pub IS 'filtered rows of two tables';
CREATE PUBLICATION zoo_pub_schema FOR TABLES IN SCHEMA zoo WITH (publish_via_partition_root = true);
CREATE PUBLICATION zoo_pub_all FOR ALL TABLES WITH (publish = 'insert');
