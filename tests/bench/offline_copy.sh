#!/usr/bin/env bash
# Benchmark: one generated dataset moved from a source to an empty target by
#   pgshift apply (cdc.enabled: false), pg_dump -Fd -j | pg_restore -j,
#   pgcopydb clone, and native logical replication's initial sync
# on two throwaway local clusters; prints wall times and ratios to pgshift.
# A benchmark, not a test: run it by hand (make bench), on an idle machine.
#
#   tests/bench/offline_copy.sh [ROWS]     default 2,000,000 rows (~0.6 GB)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${1:-2000000}
JOBS=${JOBS:-2}

if [ -z "${SOURCE_URI:-}" ]; then
  exec tests/lib/pg_clusters.sh run "$0" "$@"
fi

command -v pgcopydb >/dev/null || { echo "pgcopydb not installed (apt-get install pgcopydb)" >&2; exit 3; }
[ -x ./pgshift ] || make -s pgshift
base=${TARGET_URI%/postgres}
work=$(mktemp -d /tmp/pgshift-bench.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres: "$work"
trap 'rm -rf "$work"' EXIT
psql_src() { psql -X -q -v ON_ERROR_STOP=1 -d "$SOURCE_URI" "$@"; }
psql_dst() { psql -X -q -v ON_ERROR_STOP=1 -d "$base/$1" -c "$2"; }

echo "generating $ROWS rows on the source..."
psql_src <<SQL
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE);
INSERT INTO customers (name, email) SELECT 'customer ' || g, 'c' || g || '@example.com'
  FROM generate_series(1, $ROWS / 20) g;
CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers(id), placed_at timestamptz NOT NULL,
  amount numeric(12,2), note text);
INSERT INTO orders (customer_id, placed_at, amount, note)
  SELECT 1 + g % ($ROWS / 20), timestamptz '2024-01-01' + g * interval '1 second',
         (g % 10000) / 100.0, md5(g::text) || md5((g * 7)::text)
  FROM generate_series(1, $ROWS) g;
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE INDEX orders_placed_idx ON orders (placed_at);
CREATE TABLE events (id bigint, at date NOT NULL, payload jsonb, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_a PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2024-07-01');
CREATE TABLE events_b PARTITION OF events FOR VALUES FROM ('2024-07-01') TO ('2025-01-01');
INSERT INTO events SELECT g, date '2024-01-01' + (g % 360), jsonb_build_object('n', g, 's', md5(g::text))
  FROM generate_series(1, $ROWS / 2) g;
VACUUM ANALYZE;
CREATE PUBLICATION bench FOR ALL TABLES;
SQL
size=$(psql_src -Atc "SELECT pg_size_pretty(pg_database_size(current_database()))")
echo "source database: $size"

seconds() { local t0=$1; echo "$(date +%s.%N) - $t0" | bc; }
declare -A took

for db in pgshift dumprestore pgcopydb logical; do
  psql -X -q -d "$TARGET_URI" -c "CREATE DATABASE $db"
done

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
  split_tables_larger_than: 128MB
cdc:
  enabled: false
cutover:
  approval: auto
  steps:
    - sync_sequences: { margin: 0 }
YAML

t0=$(date +%s.%N)
BENCH_TARGET="$base/pgshift" ./pgshift apply "$work/plan.yaml" --yes --no-progress -q
took[pgshift]=$(seconds "$t0")

# DESIGN.md §4 verify: a checksum of every row should cost no more than the copy
t0=$(date +%s.%N)
BENCH_TARGET="$base/pgshift" ./pgshift verify "$work/plan.yaml" --level checksum -q >"$work/verify.txt" \
  || { cat "$work/verify.txt" >&2; exit 1; }
verify_took=$(seconds "$t0")
echo "pgshift apply: ${took[pgshift]} s; pgshift verify --level checksum: $verify_took s ($(grep '^summary' "$work/verify.txt"))"

t0=$(date +%s.%N)
pg_dump -d "$SOURCE_URI" -Fd -j "$JOBS" -f "$work/dump" --no-publications
pg_restore -d "$base/dumprestore" -j "$JOBS" --no-owner "$work/dump"
took[dumprestore]=$(seconds "$t0")

t0=$(date +%s.%N)
pgcopydb clone --source "$SOURCE_URI" --target "$base/pgcopydb" --table-jobs "$JOBS" \
  --index-jobs "$JOBS" --dir "$work/pgcopydb" --no-owner >"$work/pgcopydb.log" 2>&1 \
  || { tail -20 "$work/pgcopydb.log" >&2; exit 1; }
took[pgcopydb]=$(seconds "$t0")

# native logical replication: schema first, then the subscription's initial sync
t0=$(date +%s.%N)
pg_dump -d "$SOURCE_URI" --schema-only --no-publications | psql -X -q -d "$base/logical" >/dev/null
psql_dst logical "CREATE SUBSCRIPTION bench CONNECTION '$SOURCE_URI' PUBLICATION bench WITH (copy_data = true)"
until [ "$(psql -X -Atq -d "$base/logical" -c "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")" = 0 ]; do
  sleep 0.2
done
took[logical]=$(seconds "$t0")
psql_dst logical "DROP SUBSCRIPTION bench"

rows_ok=yes
for db in pgshift dumprestore pgcopydb logical; do
  n=$(psql -X -Atq -d "$base/$db" -c "SELECT count(*) FROM orders")
  [ "$n" = "$ROWS" ] || { echo "$db: orders has $n rows, expected $ROWS" >&2; rows_ok=no; }
done

printf '\n%-36s %10s %12s\n' "tool ($ROWS order rows, $size, $JOBS jobs)" "seconds" "vs pgshift"
for tool in pgshift dumprestore pgcopydb logical; do
  printf '%-36s %10.2f %11.2fx\n' "$tool" "${took[$tool]}" "$(echo "${took[$tool]} / ${took[pgshift]}" | bc -l)"
done
echo "row counts identical on every target: $rows_ok"
