#!/usr/bin/env bash
# pgshift quickstart (`make demo`): an online migration end to end, on two
# throwaway local PostgreSQL 15 clusters.
#
#   1. starts a source and a target cluster on free ports of 127.0.0.1
#      (tests/lib/pg_clusters.sh; as the postgres OS user when run as root)
#   2. loads a generated sample application database (sample.sql) into "shop"
#   3. pgshift validate + pgshift plan (the dry run)
#   4. starts a write workload on the source (new orders, status changes,
#      price and TOASTed description updates, deletes that cascade)
#   5. pgshift apply --yes in the background (plan.yaml: online, manual gate)
#      and follows it with `pgshift status --json` until it waits at the gate
#   6. stops the workload, approves the cutover with `pgshift cutover`
#      (wait_for_catchup, sync_sequences, verify checksum, then cleanup)
#   7. pgshift verify --level checksum, pgshift status, a summary
# and stops the clusters, whatever happens (trap). Works on a terminal and
# in a pipe; exits non-zero when any step fails.
#
#   bash examples/quickstart/demo.sh        (or: make demo)
# Environment: DEMO_KEEP=1 keeps the work directory (logs) after the demo.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PGSHIFT=$ROOT/pgshift
PLAN=examples/quickstart/plan.yaml
HERE=examples/quickstart
T0=$SECONDS

if [ -t 1 ]; then
  BOLD=$'\e[1m' GREEN=$'\e[32m' RED=$'\e[31m' DIM=$'\e[2m' OFF=$'\e[0m' TTY=1
else
  BOLD='' GREEN='' RED='' DIM='' OFF='' TTY=0
fi

NSTEPS=8
N=0
step() { N=$((N + 1)); printf '\n%s==> [%d/%d] %s%s\n' "$BOLD" "$N" "$NSTEPS" "$*" "$OFF"; }
info() { printf '    %s\n' "$*"; }
elapsed() { printf '%ds' $((SECONDS - T0)); }
die() {
  printf '\n%sdemo failed after %s: %s%s\n' "$RED" "$(elapsed)" "$*" "$OFF" >&2
  exit 1
}
# shows a log file's last lines, indented, on stderr
show_log() { [ -f "$1" ] && tail -n "${2:-25}" "$1" | sed 's/^/    | /' >&2 || true; }

for tool in psql perl; do
  command -v "$tool" >/dev/null || die "$tool is missing: run 'make deps' (as root) first"
done
if [ ! -x "$PGSHIFT" ]; then
  make -s pgshift >/dev/null || die "could not build pgshift: run 'make deps' then 'make'"
fi

WORK=$(mktemp -d /tmp/pgshift-demo.XXXXXX)
chmod 0755 "$WORK"   # the clusters run as the postgres OS user when we are root
WORKLOAD_PID='' APPLY_PID=''
finish() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$WORKLOAD_PID" ] && { touch "$WORK/stop"; kill "$WORKLOAD_PID" 2>/dev/null || true; }
  [ -n "$APPLY_PID" ] && kill "$APPLY_PID" 2>/dev/null && wait "$APPLY_PID" 2>/dev/null
  if [ -f "$WORK/pg/env" ]; then
    printf '\n%s==> stopping the clusters%s\n' "$BOLD" "$OFF"
    "$ROOT/tests/lib/pg_clusters.sh" stop "$WORK/pg" || true
  fi
  if [ "${DEMO_KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
    printf '    logs kept in %s\n' "$WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
step "starting two throwaway PostgreSQL 15 clusters (source and target)"
"$ROOT/tests/lib/pg_clusters.sh" start "$WORK/pg" || die "could not start the clusters (is postgresql-15 installed? run 'make deps')"
# shellcheck disable=SC1091
. "$WORK/pg/env"
psql -X -q -v ON_ERROR_STOP=1 -d "$SOURCE_URI" -c 'CREATE DATABASE shop' >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$TARGET_URI" -c 'CREATE DATABASE shop' >/dev/null
export SOURCE_URI="postgresql://postgres@127.0.0.1:$SOURCE_PORT/shop"
export TARGET_URI="postgresql://postgres@127.0.0.1:$TARGET_PORT/shop"
export QUICKSTART_SPOOL="$WORK/spool"
info "source: $SOURCE_URI"
info "target: $TARGET_URI   (empty database)"

src() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$SOURCE_URI" "$@"; }
tgt() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$TARGET_URI" "$@"; }
TABLES="customers products orders order_items"

# ---------------------------------------------------------------------------
step "loading the sample application database on the source"
src -f "$HERE/sample.sql" >/dev/null || die "loading $HERE/sample.sql failed"
for t in $TABLES; do
  info "$(printf '%-12s %8s rows  %8s' "$t" "$(src -c "SELECT count(*) FROM $t")" \
          "$(src -c "SELECT pg_size_pretty(pg_total_relation_size('$t'))")")"
done
info "database size: $(src -c "SELECT pg_size_pretty(pg_database_size(current_database()))"), $(src -c "SELECT count(*) FROM pg_sequences WHERE schemaname = 'public'") sequences"

# ---------------------------------------------------------------------------
step "pgshift validate + pgshift plan (dry run: read-only, creates nothing)"
info "\$ pgshift validate $PLAN"
"$PGSHIFT" validate "$PLAN" 2>&1 | sed 's/^/    /' || die "pgshift validate failed"
info "\$ pgshift plan $PLAN"
rc=0
"$PGSHIFT" plan "$PLAN" >"$WORK/plan.txt" 2>"$WORK/plan.err" || rc=$?
sed 's/^/    /' "$WORK/plan.txt"
[ "$rc" = 0 ] || { show_log "$WORK/plan.err"; die "pgshift plan exited $rc"; }

# ---------------------------------------------------------------------------
step "starting a write workload on the source (runs during the copy)"
# One psql session fed small transactions until $WORK/stop exists (at most
# 5 minutes): new orders with their items, status changes, price updates
# (the TOASTed description is unchanged), description rewrites (new TOAST
# values), new customers, jsonb updates, and order deletes that cascade.
workload() {
  local i=0 end=$((SECONDS + 300))
  while [ ! -e "$WORK/stop" ] && [ "$SECONDS" -lt "$end" ]; do
    i=$((i + 1))
    cat <<SQL
BEGIN;
WITH o AS (INSERT INTO orders (customer_id, note, meta)
           VALUES ($((1 + i * 13 % 20000)), 'workload order $i', '{"channel": "demo", "coupon": "null"}') RETURNING id)
INSERT INTO order_items (order_id, line, product_id, quantity, unit_price)
SELECT id, l, $((1 + i % 2990)) + l, l, 9.99 FROM o, generate_series(1, 3) l;
COMMIT;
UPDATE orders SET status = 'shipped', note = 'it''s on its way' WHERE id = $((1 + i * 37 % 100000));
UPDATE products SET price = price + 0.01 WHERE id = $((1 + i * 7 % 3000));
UPDATE customers SET prefs = prefs || '{"vip": true}' WHERE id = $((1 + i * 11 % 20000));
INSERT INTO customers (email, name, country) VALUES ('new$i@example.com', 'New customer $i', 'SE');
DELETE FROM orders WHERE id = $((4 * (1 + i * 53 % 25000)));
SQL
    if [ $((i % 25)) = 0 ]; then
      echo "UPDATE products SET description = description || ' revised $i' WHERE id = $((1 + i % 3000));"
    fi
    sleep 0.02
  done
  echo "$i" >"$WORK/workload.count"
}
workload | psql -X -q -v ON_ERROR_STOP=1 -d "$SOURCE_URI" >/dev/null 2>"$WORK/workload.err" &
WORKLOAD_PID=$!
info "workload running (psql pid $WORKLOAD_PID)"

# ---------------------------------------------------------------------------
step "pgshift apply --yes (in the background) until the cutover gate"
info "\$ pgshift apply $PLAN --yes --no-progress   (log: $WORK/apply.log)"
"$PGSHIFT" apply "$PLAN" --yes --no-progress </dev/null >"$WORK/apply.out" 2>"$WORK/apply.log" &
APPLY_PID=$!

# One line from `pgshift status --json`: "GATE<TAB>progress text", where GATE
# is the cutover.gate step's status.
status_line() {
  "$PGSHIFT" status "$PLAN" --json 2>/dev/null | perl -MJSON::PP -ne '
    my $s = eval { decode_json($_) } or next;
    my %st = map { ($_->{id} => $_->{status}) } @{ $s->{steps} };
    my @copy = grep { $_->{id} =~ /^copy:/ } @{ $s->{steps} };
    my ($bytes, $total, $rows) = (0, 0, 0);
    for (@copy) { $bytes += $_->{bytes}; $total += $_->{total_bytes}; $rows += $_->{rows} }
    my $done = grep { $_->{status} eq "done" } @{ $s->{steps} };
    my $cdone = grep { $_->{status} eq "done" } @copy;
    my $lag = defined $s->{lag_bytes} ? sprintf("%.1f kB", $s->{lag_bytes} / 1024) : "-";
    printf "%s\tsteps %d/%d done, copy %d/%d parts (%.1f/%.1f MB, %d rows), CDC lag %s, applied %s\n",
      $st{"cutover.gate"} // "pending", $done, scalar @{ $s->{steps} }, $cdone, scalar @copy,
      $bytes / 1048576, $total / 1048576, $rows, $lag, $s->{applied_lsn} // "-";
  '
}

gate=''
last_print=-10
deadline=$((SECONDS + 600))
while :; do
  if ! kill -0 "$APPLY_PID" 2>/dev/null; then
    wait "$APPLY_PID" && rc=0 || rc=$?
    APPLY_PID=''
    show_log "$WORK/apply.log" 30
    die "pgshift apply ended (exit $rc) before reaching the cutover gate"
  fi
  line=$(status_line || true)
  gate=${line%%$'\t'*}
  progress=${line#*$'\t'}
  if [ -n "$line" ]; then
    if [ "$TTY" = 1 ]; then
      printf '\r\e[K    [%4s] %s' "$(elapsed)" "$progress"
    elif [ $((SECONDS - last_print)) -ge 3 ] || [ "$gate" = running ]; then
      info "[$(elapsed)] $progress"
      last_print=$SECONDS
    fi
  fi
  [ "$gate" = running ] && break
  [ "$SECONDS" -lt "$deadline" ] || die "apply did not reach the cutover gate in 10 minutes"
  sleep 1
done
[ "$TTY" = 1 ] && printf '\n'
info "${GREEN}apply is waiting at the manual cutover gate (cutover.gate: running), still replaying changes${OFF}"
grep -E 'snapshot|caught up|gate' "$WORK/apply.log" | head -n 6 | sed 's/^/    | /' || true
info "the workload keeps writing for 5 more seconds; apply replays it at the gate:"
for _ in 1 2 3 4 5; do
  sleep 1
  kill -0 "$APPLY_PID" 2>/dev/null || break
  line=$(status_line || true)
  [ -n "$line" ] && info "[$(elapsed)] ${line#*$'\t'}"
done

# ---------------------------------------------------------------------------
step "stopping the workload, then pgshift cutover"
touch "$WORK/stop"
wait "$WORKLOAD_PID" || { show_log "$WORK/workload.err"; die "the write workload failed"; }
WORKLOAD_PID=''
info "workload stopped after $(cat "$WORK/workload.count") iterations (~6 transactions each)"
info "\$ pgshift cutover $PLAN"
"$PGSHIFT" cutover "$PLAN" 2>&1 | sed 's/^/    /' || die "pgshift cutover failed"
info "waiting for apply: wait_for_catchup, sync_sequences, verify (checksum), cleanup"
rc=0
wait "$APPLY_PID" || rc=$?
APPLY_PID=''
grep -E 'cutover\.|cleanup|finished|verify' "$WORK/apply.log" | tail -n 12 | sed 's/^/    | /' || true
[ "$rc" = 0 ] || { show_log "$WORK/apply.log" 30; die "pgshift apply exited $rc"; }
info "${GREEN}pgshift apply finished (exit 0)${OFF}"

# ---------------------------------------------------------------------------
step "pgshift verify --level checksum"
info "\$ pgshift verify $PLAN --level checksum"
rc=0
"$PGSHIFT" verify "$PLAN" --level checksum >"$WORK/verify.txt" 2>"$WORK/verify.err" || rc=$?
sed 's/^/    /' "$WORK/verify.txt"
[ "$rc" = 0 ] || { show_log "$WORK/verify.err"; die "pgshift verify exited $rc"; }

# ---------------------------------------------------------------------------
step "pgshift status"
rc=0
"$PGSHIFT" status "$PLAN" >"$WORK/status.txt" 2>"$WORK/status.err" || rc=$?
[ "$rc" = 0 ] || { show_log "$WORK/status.err"; die "pgshift status exited $rc"; }
# the run and its stages; the list of every step is long (pgshift status shows it)
sed -n '/^Steps/q; p' "$WORK/status.txt" | sed 's/^/    /'
info "Steps: $(grep -cE '^  +[a-z][^ ]* +done ' "$WORK/status.txt") done, $(grep -cE '^  +[a-z][^ ]* +(failed|pending|running) ' "$WORK/status.txt") not done (every step: pgshift status $PLAN)"

# ---------------------------------------------------------------------------
printf '\n%s==> summary%s\n' "$BOLD" "$OFF"
printf '    %-12s %10s %10s\n' table source target
diff=0
for t in $TABLES; do
  s=$(src -c "SELECT count(*) FROM $t") d=$(tgt -c "SELECT count(*) FROM $t")
  printf '    %-12s %10s %10s%s\n' "$t" "$s" "$d" "$([ "$s" = "$d" ] || echo '   DIFFERENT')"
  [ "$s" = "$d" ] || diff=1
done
[ "$diff" = 0 ] || die "row counts differ"
slots=$(src -c "SELECT count(*) FROM pg_replication_slots")
pubs=$(src -c "SELECT count(*) FROM pg_publication")
info "sequences on the target: orders_id_seq next $(tgt -c "SELECT last_value + 1 FROM orders_id_seq") (source: $(src -c "SELECT last_value FROM orders_id_seq"), margin 1000)"
info "replication slots left on the source: $slots, publications: $pubs"
[ "$slots" = 0 ] && [ "$pubs" = 0 ] || die "cleanup left a slot or a publication on the source"
printf '    %sdone in %s: online migration with a write workload, manual cutover, checksums identical%s\n' \
  "$GREEN" "$(elapsed)" "$OFF"
