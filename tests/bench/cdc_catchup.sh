#!/usr/bin/env bash
# Benchmark: CDC catch-up of a pgbench backlog, pgshift vs native logical
# replication, on two throwaway local clusters.
#
#   1. pgbench -i on the source; pgshift apply (cdc.enabled) copies it and
#      waits at the manual cutover gate; it is stopped (SIGTERM) there, so
#      its slot keeps what follows. A native subscription's slot is created
#      at the same moment, on an identical copy (pgbench -i on the target).
#   2. pgbench -c CLIENTS -T SECONDS on the source: the backlog, in both slots.
#   3. pgshift apply resumes: timed until the target's pgbench_history has
#      every row of the source's (each pgbench transaction inserts one, and
#      transactions are applied in commit order). The subscription is
#      enabled and timed the same way. Odd rounds time pgshift first, even
#      rounds native first, so neither always runs on the other's leftovers
#      (autovacuum of the database just written, a colder cache).
# Prints transactions per second of each and the ratio; ROUNDS rounds, each
# on a new backlog, with the medians. Also the CPU time (user + sys, from
# /proc) of every process of each side's pipeline, read the moment it caught
# up: pgshift's process, its walsender and its target backend; the native
# walsender and apply worker. Per transaction, it does not depend on how
# much of the two cores other work left each side, which the wall time
# does. A benchmark, not a test: run it by hand (make bench-cdc), on an
# idle machine.
#
#   SCALE=10 CLIENTS=4 DURATION=30 ROUNDS=3 tests/bench/cdc_catchup.sh   (the defaults)
#   APPLY_WRAP="perf record -g -o /tmp/x.data --" ...   runs the timed pgshift
#   apply under that command (a profile of the catch-up alone)
#   PGSHIFT=/path/to/other/pgshift ...   times that build instead of ./pgshift
set -euo pipefail
cd "$(dirname "$0")/../.."
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-4}
DURATION=${DURATION:-30}
ROUNDS=${ROUNDS:-3}

if [ -z "${SOURCE_URI:-}" ]; then
  exec tests/lib/pg_clusters.sh run "$0" "$@"
fi

PGSHIFT=${PGSHIFT:-./pgshift}
[ -x "$PGSHIFT" ] || make -s pgshift
base=${TARGET_URI%/postgres}
work=$(mktemp -d /tmp/pgshift-bench-cdc.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres: "$work"
apply_pid=
cleanup() {
  [ -n "$apply_pid" ] && kill "$apply_pid" 2>/dev/null && wait "$apply_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
q() { psql -X -Atq -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
now() { date +%s.%N; }
hz=$(getconf CLK_TCK)
# CPU seconds (user + sys, every thread) of the given pids so far
cpu_of() {
  local total=0 pid
  for pid in "$@"; do
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
  done
  echo "scale=3; $total / $hz" | bc
}

q "$TARGET_URI" "CREATE DATABASE pgshift"
q "$TARGET_URI" "CREATE DATABASE native"
pgbench -q -i -s "$SCALE" "$SOURCE_URI" >/dev/null 2>&1
# identical rows on the native side: pgbench -i is deterministic
pgbench -q -i -s "$SCALE" "$base/native" >/dev/null 2>&1
q "$SOURCE_URI" "CREATE PUBLICATION native FOR ALL TABLES"

cat >"$work/plan.yaml" <<YAML
version: 1
name: benchcdc
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

# Starts pgshift apply in the background; returns once it waits at the gate.
start_apply() {
  "$PGSHIFT" apply "$work/plan.yaml" --yes --no-progress >"$work/apply.log" 2>&1 &
  apply_pid=$!
  until grep -q 'cutover gate: waiting' "$work/apply.log"; do
    kill -0 "$apply_pid" 2>/dev/null || { cat "$work/apply.log" >&2; exit 1; }
    sleep 0.05
  done
}
stop_apply() {
  kill -TERM "$apply_pid"
  wait "$apply_pid" 2>/dev/null || true
  apply_pid=
}
# Seconds until DB's pgbench_history has WANT rows, polled every 100 ms by
# one session on the server (a psql started per poll cost both sides a
# share of the two cores they are measured on); the server tells when.
# The loop commits after each poll: one DO statement without COMMIT held a
# snapshot, so the target's xmin horizon stayed where the wait began, the
# 70,000 updates of each of pgbench_branches' 10 rows could not be pruned,
# and the native apply worker walked ever longer chains of dead rows (781
# to 2,303 tx/s where it does 10 times that with the horizon free; pgshift
# merges those updates into one per batch and hardly noticed). Each poll
# is a count(*) of a table growing by a backlog every round (28 ms at
# 600,000 rows), run without parallel workers, which it started at every
# poll in the cluster whose applier it timed. Counting only the pages
# after the last one before the clock started was tried: a round's rows
# also landed in an earlier page (156 of them), and the wait never ended.
wait_rows() {
  local db=$1 want=$2 t0=$3 out=$work/wait.out pid
  psql -X -Atq -v ON_ERROR_STOP=1 -d "$db" >"$out" <<SQL &
SET max_parallel_workers_per_gather = 0;
DO \$\$ BEGIN
  WHILE (SELECT count(*) FROM pgbench_history) < $want LOOP COMMIT; PERFORM pg_sleep(0.1); END LOOP;
END \$\$;
SELECT extract(epoch FROM clock_timestamp());
SQL
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if [ -n "$apply_pid" ] && ! kill -0 "$apply_pid" 2>/dev/null; then
      kill "$pid"; cat "$work/apply.log" >&2; exit 1
    fi
    sleep 0.1
  done
  wait "$pid" || { echo "polling $db failed" >&2; exit 1; }
  echo "$(cat "$out") - $t0" | bc
}

# s_ours: seconds pgshift apply takes to catch up on WANT rows; stopped at the gate after.
time_ours() {
  local t0
  t0=$(now)
  ${APPLY_WRAP:-} "$PGSHIFT" apply "$work/plan.yaml" --yes --no-progress >"$work/apply.log" 2>&1 &
  apply_pid=$!
  s_ours=$(wait_rows "$base/pgshift" "$1" "$t0")
  local ws tb
  ws=$(q "$SOURCE_URI" "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'pgshift_benchcdc'")
  tb=$(q "$base/pgshift" "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE application_name LIKE 'pgshift %cdc.%'")
  split_ours="pgshift $(cpu_of "$apply_pid"), walsender $(cpu_of "$ws"), target backend $(cpu_of $tb)"
  c_ours=$(cpu_of "$apply_pid" "$ws" $tb)
  until grep -q 'cutover gate: waiting' "$work/apply.log"; do sleep 0.05; done
  stop_apply
}
# s_theirs: the same of the native subscription, disabled after.
time_theirs() {
  local t0
  t0=$(now)
  q "$base/native" "ALTER SUBSCRIPTION native ENABLE"
  s_theirs=$(wait_rows "$base/native" "$1" "$t0")
  local ws aw
  ws=$(q "$SOURCE_URI" "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'native'")
  aw=$(q "$base/native" "SELECT pid FROM pg_stat_subscription WHERE subname = 'native' AND pid IS NOT NULL")
  split_theirs="walsender $(cpu_of "$ws"), apply worker $(cpu_of "$aw")"
  c_theirs=$(cpu_of "$ws" "$aw")
  q "$base/native" "ALTER SUBSCRIPTION native DISABLE"
  # its worker exits on its own time: the next timing must not share the cores with it
  until [ "$(q "$base/native" "SELECT count(*) FROM pg_stat_subscription WHERE pid IS NOT NULL")" = 0 ]; do
    sleep 0.05
  done
}

start_apply
stop_apply
q "$SOURCE_URI" "SELECT pg_create_logical_replication_slot('native', 'pgoutput')" >/dev/null
q "$base/native" "CREATE SUBSCRIPTION native CONNECTION '$SOURCE_URI' PUBLICATION native
  WITH (create_slot = false, slot_name = 'native', copy_data = false, enabled = false)"

declare -a ours theirs ratios cpu_ratios
for round in $(seq 1 "$ROUNDS"); do
  before=$(q "$SOURCE_URI" "SELECT count(*) FROM pgbench_history")
  pgbench -n -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" "$SOURCE_URI" >"$work/pgbench.log" 2>&1
  want=$(q "$SOURCE_URI" "SELECT count(*) FROM pgbench_history")
  txns=$((want - before))

  if [ $((round % 2)) = 1 ]; then
    time_ours "$want"
    time_theirs "$want"
  else
    time_theirs "$want"
    time_ours "$want"
  fi

  ours+=("$(echo "$txns / $s_ours" | bc)")
  theirs+=("$(echo "$txns / $s_theirs" | bc)")
  ratios+=("$(echo "$s_theirs / $s_ours" | bc -l)")
  cpu_ratios+=("$(echo "$c_theirs / $c_ours" | bc -l)")
  printf 'round %d: %d transactions; pgshift %.2f s = %d tx/s; native %.2f s = %d tx/s; ratio %.2f\n' \
    "$round" "$txns" "$s_ours" "${ours[-1]}" "$s_theirs" "${theirs[-1]}" \
    "$(echo "${ours[-1]} / ${theirs[-1]}" | bc -l)"
  printf '  CPU: pgshift %.2f s = %.1f us/tx (%s); native %.2f s = %.1f us/tx (%s); native / pgshift %.2f; load %s\n' \
    "$c_ours" "$(echo "$c_ours * 1000000 / $txns" | bc -l)" "$split_ours" "$c_theirs" \
    "$(echo "$c_theirs * 1000000 / $txns" | bc -l)" "$split_theirs" "${cpu_ratios[-1]}" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
  # the next round needs the same starting rows on both sides
  for t in pgbench_accounts pgbench_branches pgbench_tellers; do
    diff <(q "$SOURCE_URI" "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM $t t") \
         <(q "$base/pgshift" "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM $t t") >/dev/null \
      || { echo "pgshift's $t differs from the source" >&2; exit 1; }
  done
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mo=$(median "${ours[@]}")
mt=$(median "${theirs[@]}")
printf '\nmedian of %d (pgbench -c %d -T %d, scale %d): pgshift %d tx/s, native %d tx/s, ratio %.2f;' \
  "$ROUNDS" "$CLIENTS" "$DURATION" "$SCALE" "$mo" "$mt" "$(echo "$mo / $mt" | bc -l)"
# the rounds' backlogs differ in size: the ratio of each round is the like-for-like figure
printf ' median of the rounds'"'"' ratios %.2f; of their CPU ratios %.2f\n' "$(median "${ratios[@]}")" \
  "$(median "${cpu_ratios[@]}")"
q "$base/native" "ALTER SUBSCRIPTION native SET (slot_name = NONE)"
q "$base/native" "DROP SUBSCRIPTION native"
