#!/usr/bin/env bash
# Benchmark: steady-state CDC lag under load, pgshift vs native logical
# replication, on two throwaway local clusters.
#
#   1. pgbench -i on the source and, identically, on the target's "native"
#      database, which subscribes to the source (copy_data = false); pgshift
#      apply (cdc.enabled) copies the source into the target's "pgshift"
#      database and waits at the manual cutover gate, replaying on.
#   2. pgbench -c CLIENTS -T SECONDS on the source. Every 200 ms one session
#      on each target database reads how old the newest pgbench_history row
#      it can see is: clock_timestamp() minus its mtime, the source
#      transaction's start (both servers share this machine's clock). That
#      is source commit -> visible on the target, plus the transaction's own
#      few milliseconds, measured the same way on both sides by the servers
#      alone. (pgshift's own `status --json` lag_seconds, sampled every
#      second too, reads 0 whenever the applied LSN passed the source LSN
#      that apply records once a second, and native's replay_lag is what
#      the subscriber last reported: neither is the visible lag.)
#   3. Prints p50, p99 and max of each side's samples, ROUNDS times.
# MODE=separate (the default) measures the two one after the other, each
# alone under the same pgbench: ROUNDS rounds of pgshift (no subscription
# yet), then pgshift stopped, the subscription created and ROUNDS rounds of
# native. MODE=together runs both at once, as before: on a 2-core machine
# each then pays for the other's CPU (native's falling-behind apply worker
# shares the target cluster's CPU group with pgshift's applier session).
# pgbench's sessions commit with SOURCE_SYNC (synchronous_commit; on, the
# server default, unless set): the test clusters run synchronous_commit =
# off, and a walsender sends only WAL that is flushed, so with off every
# transaction waits up to wal_writer_delay (200 ms) for the WAL writer
# before any subscriber can receive it, whatever the tool.
# A benchmark, not a test: run it by hand (make bench-cdc), on an idle machine.
#
#   SCALE=10 CLIENTS=8 DURATION=120 ROUNDS=1 SOURCE_SYNC=on tests/bench/cdc_lag.sh   (the defaults)
#   PGSHIFT=/path/to/other/pgshift ...   measures that build instead of ./pgshift
set -euo pipefail
cd "$(dirname "$0")/../.."
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-8}
DURATION=${DURATION:-120}
ROUNDS=${ROUNDS:-1}
MODE=${MODE:-separate}
SOURCE_SYNC=${SOURCE_SYNC:-on}
case "$MODE" in separate|together) ;; *) echo "MODE must be separate or together, not $MODE" >&2; exit 2 ;; esac

if [ -z "${SOURCE_URI:-}" ]; then
  exec tests/lib/pg_clusters.sh run "$0" "$@"
fi

PGSHIFT=${PGSHIFT:-./pgshift}
[ -x "$PGSHIFT" ] || make -s pgshift
base=${TARGET_URI%/postgres}
work=$(mktemp -d /tmp/pgshift-bench-lag.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres: "$work"
apply_pid=
cleanup() {
  if [ -n "$apply_pid" ]; then kill "$apply_pid" 2>/dev/null; wait "$apply_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
q() { psql -X -Atq -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

q "$TARGET_URI" "CREATE DATABASE pgshift"
q "$TARGET_URI" "CREATE DATABASE native"
pgbench -q -i -s "$SCALE" "$SOURCE_URI" >/dev/null 2>&1
# identical rows on the native side: pgbench -i is deterministic
pgbench -q -i -s "$SCALE" "$base/native" >/dev/null 2>&1
q "$SOURCE_URI" "CREATE PUBLICATION native FOR ALL TABLES"
subscribe() {
  q "$base/native" "CREATE SUBSCRIPTION native CONNECTION '$SOURCE_URI' PUBLICATION native
    WITH (copy_data = false)"
}
[ "$MODE" = separate ] || subscribe

cat >"$work/plan.yaml" <<YAML
version: 1
name: benchlag
source:
  uri: \${SOURCE_URI}
target:
  uri: ${base}/pgshift
copy:
  table_jobs: 2
  index_jobs: 2
  vacuum_analyze: false
cdc:
  enabled: true
  replica_identity: full
  spool_dir: $work/spool
  max_lag: 1s
cutover:
  approval: manual
  steps:
    - wait_for_catchup: { timeout: 5m }
YAML

"$PGSHIFT" apply "$work/plan.yaml" --yes --no-progress >"$work/apply.log" 2>&1 &
apply_pid=$!
until grep -q 'cutover gate: waiting' "$work/apply.log"; do
  kill -0 "$apply_pid" 2>/dev/null || { cat "$work/apply.log" >&2; exit 1; }
  sleep 0.1
done

# an index on both targets only: the probe's max(mtime) stays cheap, the source's load unchanged
q "$base/pgshift" "CREATE INDEX bench_lag_mtime ON pgbench_history (mtime)"
q "$base/native" "CREATE INDEX bench_lag_mtime ON pgbench_history (mtime)"

# Samples DB's visible lag every 200 ms into FILE until killed: one session,
# a NOTICE per sample, a COMMIT after each so no snapshot is held.
probe() {
  psql -X -Atq -v ON_ERROR_STOP=1 -d "$1" 2>"$2" <<'SQL' >/dev/null &
DO $$ BEGIN LOOP
  RAISE NOTICE 'lag %', (SELECT extract(epoch FROM clock_timestamp()::timestamp - max(mtime))
                         FROM pgbench_history);
  COMMIT; PERFORM pg_sleep(0.2);
END LOOP; END $$;
SQL
}
status_lag() {
  "$PGSHIFT" status "$work/plan.yaml" --json | jq -r '.lag_seconds // 0'
}
# "p50 p99 max" of the numbers on stdin
stats() {
  sort -g | awk '{a[NR]=$1} END {
    i50 = int(NR * 0.50 + 0.5); i99 = int(NR * 0.99 + 0.5)
    if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
    printf "p50 %.3f s, p99 %.3f s, max %.3f s", a[i50], a[i99], a[NR] }'
}

# One pgbench run with the given sides' probes (ours, native): prints a round.
measure() {
  local round=$1 side pids=() load0 tps
  shift
  : >"$work/status"
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  PGOPTIONS="-c synchronous_commit=$SOURCE_SYNC" \
    pgbench -n -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" "$SOURCE_URI" >"$work/pgbench.log" 2>&1 &
  bench_pid=$!
  sleep 1
  for side in "$@"; do
    probe "$base/$( [ "$side" = ours ] && echo pgshift || echo native)" "$work/$side.raw"; pids+=($!)
  done
  while kill -0 "$bench_pid" 2>/dev/null; do
    if [ -n "$apply_pid" ]; then
      kill -0 "$apply_pid" 2>/dev/null || { cat "$work/apply.log" >&2; exit 1; }
      status_lag >>"$work/status"
    fi
    sleep 1
  done
  wait "$bench_pid"
  kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.log" | head -1)
  printf 'round %d, %s (pgbench -c %d -T %d, scale %d, synchronous_commit %s, %s tx/s, load %s -> %s):\n' "$round" \
    "$( [ $# = 2 ] && echo both at once || echo "$( [ "$1" = ours ] && echo pgshift || echo native) alone")" \
    "$CLIENTS" "$DURATION" "$SCALE" "$SOURCE_SYNC" "$tps" "$load0" "$(cut -d' ' -f1-3 /proc/loadavg)"
  for side in "$@"; do
    sed -n 's/^NOTICE:  lag \([0-9.]*\)$/\1/p' "$work/$side.raw" >"$work/$side"
    printf '  %s visible lag: %s (%d samples)\n' "$( [ "$side" = ours ] && echo pgshift || echo native)" \
      "$(stats <"$work/$side")" "$(wc -l <"$work/$side")"
  done
  [ -z "$apply_pid" ] || [ "$1" != ours ] ||
    printf '  pgshift status lag_seconds: %s (%d samples)\n' "$(stats <"$work/status")" "$(wc -l <"$work/status")"
}

if [ "$MODE" = together ]; then
  for round in $(seq 1 "$ROUNDS"); do measure "$round" ours native; done
else
  for round in $(seq 1 "$ROUNDS"); do measure "$round" ours; done
  kill "$apply_pid"; wait "$apply_pid" 2>/dev/null || true
  apply_pid=
  subscribe
  # streaming once the worker has heard from the walsender
  until [ "$(q "$base/native" "SELECT count(*) FROM pg_stat_subscription
               WHERE subname = 'native' AND last_msg_receipt_time IS NOT NULL")" = 1 ]; do sleep 0.2; done
  for round in $(seq 1 "$ROUNDS"); do measure "$round" native; done
fi

q "$base/native" "DROP SUBSCRIPTION native"
