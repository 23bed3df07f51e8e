#!/usr/bin/env bash
# Benchmark (issue 16): N tables (default 10,000; each a serial-free int
# primary key, one index and 10 rows) on a source, moved to a target with
# PostgreSQL's default lock settings (max_locks_per_transaction = 64), by
# pgshift and by pgcopydb clone, side by side. Prints for each: the plan
# time, peak RSS and CPU (user + sys; pgshift plan; pgcopydb has none), the apply wall
# time, its exit status, the peak RSS of its largest process (/usr/bin/time -v: for
# pgshift that is pg_dump's, about 78 MB at 10,000 tables), of the tool's
# own process (VmHWM) and what arrived (tables, indexes, primary keys). A
# benchmark, not a test: run it by hand, on an idle machine.
#
# Each tool gets TIMEOUT seconds (default 1800; pgcopydb 0.10 was seen to
# hang at about 5,800 of 10,000 tables): past it, it is killed and its exit
# status is 124.
#
#   N=10000 JOBS=2 TOOLS="pgshift pgcopydb" tests/bench/many_tables.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-10000}
JOBS=${JOBS:-2}
TOOLS=${TOOLS:-pgshift pgcopydb}
TIMEOUT=${TIMEOUT:-1800}

if [ -z "${SOURCE_URI:-}" ]; then
  exec tests/lib/pg_clusters.sh run "$0" "$@"
fi

[ -x ./pgshift ] || make -s pgshift
base=${TARGET_URI%/postgres}
work=$(mktemp -d /tmp/pgshift-bench-tables.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres: "$work"
trap 'rm -rf "$work"' EXIT
q() { psql -X -Atq -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
# "wall_seconds peak_rss_kB own_rss_kB exit_status cpu_seconds" of a
# command: the wall time, the largest RSS of any process of its tree
# (children included: pgshift's pg_dump, pgcopydb's workers) and the CPU
# (user + sys) of the tree from /usr/bin/time -v, and the high-water mark
# (VmHWM) of the tool's own process, sampled every 0.2 s
timed() {
  local log=$1; shift
  local rc=0 pid tool own=0 h
  /usr/bin/time -v timeout "$TIMEOUT" "$@" >"$log.out" 2>"$log" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    tool=$(pgrep -P "$(pgrep -P "$pid" | head -1)" 2>/dev/null | head -1 || true)
    h=$( [ -n "$tool" ] && awk '/VmHWM/ { print $2 }' "/proc/$tool/status" 2>/dev/null || true)
    [ -n "$h" ] && [ "$h" -gt "$own" ] && own=$h
    sleep 0.2
  done
  wait "$pid" || rc=$?
  awk -v rc="$rc" -v own="$own" '/Elapsed \(wall clock\)/ { n = split($NF, t, ":"); s = 0;
                     for (i = 1; i <= n; i++) s = s * 60 + t[i] }
                   /Maximum resident set size/ { r = $NF }
                   /User time|System time/ { cpu += $NF }
                   END { printf "%.2f %d %d %d %.2f\n", s, r, own, rc, cpu }' "$log"
}
arrived() {
  q "$1" "SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public') || ' tables, ' ||
                 (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public') || ' indexes, ' ||
                 (SELECT count(*) FROM pg_constraint WHERE contype = 'p'
                   AND connamespace = 'public'::regnamespace) || ' keys'"
}

echo "generating the source: $N tables (one transaction each: the source has default locks too)..."
for i in $(seq 1 "$N"); do
  echo "CREATE TABLE t$i (id int PRIMARY KEY, v text); CREATE INDEX t${i}_v_idx ON t$i (v);"
  echo "INSERT INTO t$i SELECT g, md5(g::text) FROM generate_series(1, 10) g;"
done | psql -X -q -v ON_ERROR_STOP=1 -d "$SOURCE_URI"
echo "target max_locks_per_transaction: $(q "$TARGET_URI" "SHOW max_locks_per_transaction")"

cat >"$work/plan.yaml" <<YAML
version: 1
name: bench_tables
source:
  uri: \${SOURCE_URI}
target:
  uri: \${BENCH_TARGET}
copy:
  table_jobs: $JOBS
  index_jobs: $JOBS
cdc:
  enabled: false
cutover:
  approval: auto
  steps:
    - sync_sequences: { margin: 0 }
YAML

printf '%-10s %10s %12s %11s %10s %12s %11s %6s  %s\n' tool plan_s plan_rss_MB plan_cpu_s apply_s \
  peak_rss_MB own_rss_MB exit arrived
for tool in $TOOLS; do
  db="t_$tool"
  q "$TARGET_URI" "CREATE DATABASE $db"
  plan_s=- plan_rss=- plan_cpu=-
  case $tool in
    pgshift)
      read -r plan_s plan_rss _ _ plan_cpu < <(BENCH_TARGET="$base/$db" timed "$work/plan.log" \
        ./pgshift plan "$work/plan.yaml")
      read -r wall rss own rc _ < <(BENCH_TARGET="$base/$db" timed "$work/apply.log" \
        ./pgshift apply "$work/plan.yaml" --yes --no-progress -q) ;;
    pgcopydb)
      read -r wall rss own rc _ < <(timed "$work/pgcopydb.log" pgcopydb clone --source "$SOURCE_URI" \
        --target "$base/$db" --table-jobs "$JOBS" --index-jobs "$JOBS" \
        --dir "$work/pgcopydb" --no-owner) ;;
  esac
  log=$work/$( [ "$tool" = pgshift ] && echo apply || echo pgcopydb).log
  # its own errors, not /usr/bin/time's report at the end of the log
  [ "$rc" = 0 ] || { echo "$tool exited $rc; its last errors:" >&2
    grep -iE 'error|fatal|out of' "$log" | tail -n 5 >&2 || true; }
  [ "$plan_rss" = - ] || plan_rss=$(printf '%.1f' "$(echo "$plan_rss / 1024" | bc -l)")
  printf '%-10s %10s %12s %11s %10.2f %12.1f %11.1f %6d  %s\n' "$tool" "$plan_s" "$plan_rss" \
    "$plan_cpu" "$wall" \
    "$(echo "$rss / 1024" | bc -l)" "$(echo "$own / 1024" | bc -l)" "$rc" "$(arrived "$base/$db")"
  q "$TARGET_URI" "DROP DATABASE $db"
done
