#!/usr/bin/env bash
# Benchmark: the offline copy of issue 20's data sets, side by side in one run.
# SET=big (the default): the source gets `pgbench -i -s SCALE`, a TOAST-heavy
# table (DOCS rows of a 4 kB incompressible text each) and a key-less table
# (NOPK rows). SET=fk: a small application schema with many foreign keys
# (customers, products, orders, order_items, payments, addresses, shipments,
# reviews, about ROWS customers and 6 x ROWS order items, secondary indexes
# on every FK column). Each tool then moves it to a new, empty target
# database, ROUNDS times in turn:
#   pgshift          pgshift apply, cdc.enabled: false
#   pgshift-base     the same with the binary PGSHIFT_BASE (a baseline build)
#   pgcopydb         pgcopydb clone
#   pgcopydb-split   pgcopydb clone --split-tables-larger-than SPLIT
#   raw-pipe         pre-data restore; psql COPY TO | psql COPY FROM, JOBS at
#                    a time; post-data pg_restore -j JOBS
#   dump-restore     pg_dump -Fd -j JOBS | pg_restore -j JOBS
# and prints each tool's median wall time (to a target with data, indexes and
# constraints) and its ratio to pgshift's. Row counts are checked on every
# target. A benchmark, not a test: run it by hand, on an idle machine.
#
#   SCALE=30 DOCS=200000 NOPK=500000 ROUNDS=3 JOBS=2 SPLIT=128MB tests/bench/copy_compare.sh
#   (the defaults: about 1.4 GB)
#   SET=fk ROWS=200000 ROUNDS=3 tests/bench/copy_compare.sh      (about 220 MB)
#
# SAMPLE=DIR keeps a timeline of every run in DIR: TOOL-ROUND.source and
# .target, the sessions at work on each server (pg_stat_activity every
# 100 ms: epoch|pid|wait event or CPU|state|query), TOOL-ROUND.start (the
# run's start, epoch) and, for pgshift, TOOL-ROUND.log (its JSON log).
set -euo pipefail
cd "$(dirname "$0")/../.."
SCALE=${SCALE:-30}
DOCS=${DOCS:-200000}
NOPK=${NOPK:-500000}
ROUNDS=${ROUNDS:-3}
JOBS=${JOBS:-2}
SPLIT=${SPLIT:-128MB}
SET=${SET:-big}
ROWS=${ROWS:-200000}
TOOLS=${TOOLS:-pgshift pgcopydb pgcopydb-split raw-pipe dump-restore}
SAMPLE=${SAMPLE:-}

if [ -z "${SOURCE_URI:-}" ]; then
  exec tests/lib/pg_clusters.sh run "$0" "$@"
fi

command -v pgcopydb >/dev/null || { echo "pgcopydb not installed (apt-get install pgcopydb)" >&2; exit 3; }
[ -x ./pgshift ] || make -s pgshift
base=${TARGET_URI%/postgres}
work=$(mktemp -d /tmp/pgshift-bench-copy.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres: "$work"
trap 'rm -rf "$work"' EXIT
q() { psql -X -Atq -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
now() { date +%s.%N; }

gen_big() {
  echo "generating the source: pgbench -s $SCALE, $DOCS TOASTed docs, $NOPK key-less rows..."
  pgbench -i -q -s "$SCALE" "$SOURCE_URI" >/dev/null 2>&1
  psql -X -q -v ON_ERROR_STOP=1 -d "$SOURCE_URI" <<SQL
CREATE TABLE docs (id bigint PRIMARY KEY, title text NOT NULL, body text);
ALTER TABLE docs ALTER body SET STORAGE EXTERNAL;
INSERT INTO docs SELECT g, 'doc ' || g,
  (SELECT string_agg(md5((g * 131 + i)::text), '') FROM generate_series(1, 128) i)
  FROM generate_series(1, $DOCS) g;
CREATE INDEX docs_title_idx ON docs (title);
CREATE TABLE nopk (a bigint, b text, c timestamptz);
INSERT INTO nopk SELECT g, md5(g::text), timestamptz '2024-01-01' + g * interval '1 second'
  FROM generate_series(1, $NOPK) g;
VACUUM ANALYZE;
SQL
}
gen_fk() {
  echo "generating the source: an application schema with many FKs, $ROWS customers..."
  psql -X -q -v ON_ERROR_STOP=1 -d "$SOURCE_URI" <<SQL
CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, name text,
  created timestamptz NOT NULL);
INSERT INTO customers SELECT g, 'c' || g || '@example.com', md5(g::text),
  timestamptz '2020-01-01' + g * interval '1 minute' FROM generate_series(1, $ROWS) g;
CREATE TABLE products (id bigint PRIMARY KEY, sku text NOT NULL UNIQUE, price numeric(10,2));
INSERT INTO products SELECT g, 'sku-' || g, (g % 1000) / 10.0 FROM generate_series(1, $ROWS / 10) g;
CREATE TABLE addresses (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers,
  street text, city text);
INSERT INTO addresses SELECT g, g, md5(g::text), 'city ' || g % 500 FROM generate_series(1, $ROWS) g;
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers,
  address_id bigint REFERENCES addresses, placed timestamptz NOT NULL, status text);
INSERT INTO orders SELECT g, 1 + g % $ROWS, 1 + g % $ROWS,
  timestamptz '2023-01-01' + g * interval '10 seconds', 'paid' FROM generate_series(1, $ROWS * 2) g;
CREATE TABLE order_items (order_id bigint NOT NULL REFERENCES orders,
  line int NOT NULL, product_id bigint NOT NULL REFERENCES products, qty int,
  PRIMARY KEY (order_id, line));
INSERT INTO order_items SELECT 1 + g / 3, g % 3, 1 + g % ($ROWS / 10), 1 + g % 5
  FROM generate_series(0, $ROWS * 6 - 1) g;
CREATE TABLE payments (id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders,
  amount numeric(12,2), paid timestamptz);
INSERT INTO payments SELECT g, g, g % 997, timestamptz '2023-01-01' + g * interval '10 seconds'
  FROM generate_series(1, $ROWS * 2) g;
CREATE TABLE shipments (id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders,
  address_id bigint NOT NULL REFERENCES addresses, shipped timestamptz);
INSERT INTO shipments SELECT g, g, 1 + g % $ROWS, timestamptz '2023-01-02' + g * interval '10 seconds'
  FROM generate_series(1, $ROWS * 2) g;
CREATE TABLE reviews (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers,
  product_id bigint NOT NULL REFERENCES products, stars int CHECK (stars BETWEEN 1 AND 5), body text);
INSERT INTO reviews SELECT g, 1 + g % $ROWS, 1 + g % ($ROWS / 10), 1 + g % 5, md5(g::text)
  FROM generate_series(1, $ROWS) g;
CREATE INDEX ON addresses (customer_id);
CREATE INDEX ON orders (customer_id);
CREATE INDEX ON orders (address_id);
CREATE INDEX ON orders (placed);
CREATE INDEX ON order_items (product_id);
CREATE INDEX ON payments (order_id);
CREATE INDEX ON shipments (order_id);
CREATE INDEX ON shipments (address_id);
CREATE INDEX ON reviews (customer_id);
CREATE INDEX ON reviews (product_id);
VACUUM ANALYZE;
SQL
}
case $SET in
  big) gen_big ;;
  fk) gen_fk ;;
  *) echo "SET must be big or fk" >&2; exit 2 ;;
esac
size=$(q "$SOURCE_URI" "SELECT pg_size_pretty(pg_database_size(current_database()))")
tables=$(q "$SOURCE_URI" "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
                          WHERE schemaname = 'public' ORDER BY pg_table_size(format('%I.%I', schemaname, tablename)::regclass) DESC")
# one query that counts the rows of every table and the FKs left valid, in
# public only: pgshift's own state schema on its target has FKs too
count_sql="SELECT concat_ws('/', $(printf "(SELECT count(*) FROM %s), " $tables)
  (SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated
     AND connamespace = 'public'::regnamespace))"
expected=$(q "$SOURCE_URI" "$count_sql")
echo "source database: $size"

cat >"$work/plan.yaml" <<YAML
version: 1
name: bench
source:
  uri: \${SOURCE_URI}
target:
  uri: \${BENCH_TARGET}
copy:
  table_jobs: $JOBS
  index_jobs: $JOBS
  split_tables_larger_than: $SPLIT
cdc:
  enabled: false
cutover:
  approval: auto
  steps:
    - sync_sequences: { margin: 0 }
YAML

run_pgshift() {
  if [ -n "$SAMPLE" ]; then
    BENCH_TARGET="$base/$1" ./pgshift apply "$work/plan.yaml" --yes --no-progress \
      --log-format json 2>"$SAMPLE/$tag.log"
  else
    BENCH_TARGET="$base/$1" ./pgshift apply "$work/plan.yaml" --yes --no-progress -q
  fi
}
# another pgshift build (PGSHIFT_BASE=path), e.g. main's, timed in the same run
run_pgshift_base() {
  BENCH_TARGET="$base/$1" "$PGSHIFT_BASE" apply "$work/plan.yaml" --yes --no-progress -q
}
run_pgcopydb() {
  pgcopydb clone --source "$SOURCE_URI" --target "$base/$1" --table-jobs "$JOBS" \
    --index-jobs "$JOBS" --dir "$work/pgcopydb-$1" --no-owner "${@:2}" >"$work/pgcopydb.log" 2>&1 \
    || { tail -20 "$work/pgcopydb.log" >&2; return 1; }
}
run_pgcopydb_split() { run_pgcopydb "$1" --split-tables-larger-than "$SPLIT"; }
run_raw_pipe() {
  pg_dump -d "$SOURCE_URI" --section=pre-data -Fc -f "$work/pre-$1.dump"
  pg_restore -d "$base/$1" --no-owner "$work/pre-$1.dump"
  # shellcheck disable=SC2016
  printf '%s\n' $tables | SRC="$SOURCE_URI" DST="$base/$1" xargs -P "$JOBS" -I{} sh -c \
    'psql -X -q -d "$SRC" -c "COPY {} TO STDOUT" | psql -X -q -d "$DST" -c "COPY {} FROM STDIN"'
  pg_dump -d "$SOURCE_URI" --section=post-data -Fd -f "$work/post-$1"
  pg_restore -d "$base/$1" -j "$JOBS" --no-owner "$work/post-$1"
}
run_dump_restore() {
  pg_dump -d "$SOURCE_URI" -Fd -j "$JOBS" -f "$work/dump-$1"
  pg_restore -d "$base/$1" -j "$JOBS" --no-owner "$work/dump-$1"
}

# the sessions at work on one server, every 100 ms, until killed
sample() {
  psql -X -Atq -F '|' -d "$1" >"$2" 2>/dev/null <<'SQL' &
SELECT extract(epoch FROM clock_timestamp()), pid, coalesce(wait_event_type || '/' || wait_event, 'CPU'),
       state, left(regexp_replace(query, '\s+', ' ', 'g'), 80)
  FROM pg_stat_activity
 WHERE backend_type IN ('client backend', 'parallel worker', 'autovacuum worker')
   AND pid <> pg_backend_pid() AND state <> 'idle' \watch 0.1
SQL
  samplers="$samplers $!"
}

[ -z "$SAMPLE" ] || mkdir -p "$SAMPLE"
declare -A times
for round in $(seq 1 "$ROUNDS"); do
  for tool in $TOOLS; do
    db="t_${tool//-/_}_$round"
    q "$TARGET_URI" "CREATE DATABASE $db"
    # no tool pays for the dirty pages of the generation or of the tool before it
    q "$SOURCE_URI" "CHECKPOINT"
    q "$TARGET_URI" "CHECKPOINT"
    tag="$tool-$round" samplers=
    if [ -n "$SAMPLE" ]; then
      sample "$SOURCE_URI" "$SAMPLE/$tag.source"
      sample "$TARGET_URI" "$SAMPLE/$tag.target"
    fi
    t0=$(now)
    [ -z "$SAMPLE" ] || echo "$t0" >"$SAMPLE/$tag.start"
    "run_${tool//-/_}" "$db"
    took=$(echo "$(now) - $t0" | bc)
    # shellcheck disable=SC2086
    [ -z "$samplers" ] || { kill $samplers; wait $samplers 2>/dev/null || true; }
    got=$(q "$base/$db" "$count_sql")
    [ "$got" = "$expected" ] || { echo "$tool round $round: rows $got, expected $expected" >&2; exit 1; }
    printf 'round %d %-16s %8.2f s\n' "$round" "$tool" "$took"
    times[$tool]="${times[$tool]:-} $took"
    q "$TARGET_URI" "DROP DATABASE $db"
    rm -rf "$work"/pgcopydb-* "$work"/pre-* "$work"/post-* "$work"/dump-*
  done
done

median() { printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
first=${TOOLS%% *}
base_median=$(median "${times[$first]}")
printf '\n%-18s %10s %12s   (%s, %s jobs, medians of %s)\n' tool seconds "$first/tool" "$size" "$JOBS" "$ROUNDS"
for tool in $TOOLS; do
  m=$(median "${times[$tool]}")
  printf '%-18s %10.2f %11.2fx\n' "$tool" "$m" "$(echo "$base_median / $m" | bc -l)"
done
echo "row counts (per table, then valid FKs) identical on every target: yes ($expected)"
