#!/usr/bin/env bash
# Benchmark: the reverse stream of rollback.enabled, on two throwaway local
# clusters.
#
#   1. pgbench -i on the source (pgbench_history given a key: the reverse
#      stream publishes it on the target); pgshift apply cuts over at once
#      (approval auto), leaving the reverse slot on the target.
#   2. pgbench -c CLIENTS -T DURATION on the TARGET: the backlog, in the
#      reverse slot.
#   3. pgshift rollback --follow is started and timed until the source's
#      reverse applied LSN passes the target's WAL position: the catch-up.
#   4. the follower is stopped and pgshift rollback --yes timed: fence, the
#      little left to catch up, sequences, checksum verify of every row,
#      unfence. Then pgshift verify --level checksum compares again.
# A benchmark, not a test: run it by hand, on an idle machine.
#
#   SCALE=10 CLIENTS=4 DURATION=30 tests/bench/rollback_catchup.sh   (the defaults)
set -euo pipefail
cd "$(dirname "$0")/../.."
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-4}
DURATION=${DURATION:-30}
root=$PWD
work=$(mktemp -d /tmp/pgshift-bench-rb.XXXXXX)
chmod 755 "$work"   # the clusters run as the postgres OS user when run as root
tests/lib/pg_clusters.sh start "$work/c" >/dev/null
trap 'tests/lib/pg_clusters.sh stop "$work/c"; rm -rf "$work"' EXIT
. "$work/c/env"

q() { psql -qXtA -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
now() { date +%s.%N; }

for uri in "$SOURCE_URI" "$TARGET_URI"; do
	q "$uri" "CREATE ROLE app LOGIN"
	q "$uri" "CREATE DATABASE bench"
done
src=${SOURCE_URI%/postgres}/bench
tgt=${TARGET_URI%/postgres}/bench
pgbench -q -i -s "$SCALE" "$src" >/dev/null 2>&1
q "$src" "ALTER TABLE pgbench_history ADD COLUMN id bigserial PRIMARY KEY"
cat >"$work/plan.yaml" <<YAML
version: 1
name: bench
source: { uri: "$src" }
target: { uri: "$tgt" }
copy: { table_jobs: 2, index_jobs: 2 }
cutover:
  approval: auto
  steps: [fence_writes: { roles: [app] }, wait_for_catchup: { timeout: 5m },
          sync_sequences: {}, verify: { level: count }]
rollback: { enabled: true }
YAML
"$root/pgshift" -q apply "$work/plan.yaml" --yes --no-progress

tx=$(pgbench -n -c "$CLIENTS" -j 2 -T "$DURATION" "$tgt" 2>/dev/null |
	sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
wal=$(q "$tgt" "SELECT pg_current_wal_insert_lsn()")
behind=$(q "$tgt" "SELECT pg_size_pretty(pg_wal_lsn_diff('$wal', confirmed_flush_lsn))
	FROM pg_replication_slots WHERE slot_name = 'pgshift_rb_bench'")
echo "backlog: $tx pgbench transactions on the target, $behind of WAL behind the reverse slot"

t0=$(now)
"$root/pgshift" -q rollback "$work/plan.yaml" --follow &
follower=$!
until [ "$(q "$src" "SELECT applied_lsn >= '$wal' FROM pgshift.runs WHERE plan = 'pgshift_rb_bench'")" = t ]; do
	kill -0 "$follower" || { echo "the follower died" >&2; exit 1; }
	sleep 0.1
done
t1=$(now)
kill -TERM "$follower"
wait "$follower" || true
awk -v a="$t0" -v b="$t1" -v n="$tx" \
	'BEGIN { printf "catch-up (rollback --follow): %.2f s, %.0f transactions/s\n", b - a, n / (b - a) }'

t0=$(now)
"$root/pgshift" -q rollback "$work/plan.yaml" --yes
t1=$(now)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "pgshift rollback --yes (fence ... checksum verify, unfence): %.2f s\n", b - a }'
"$root/pgshift" verify "$work/plan.yaml" --level checksum | tail -1
