#!/usr/bin/env bash
# Throwaway PostgreSQL 15 clusters for tests: a source and a target on free
# ports on 127.0.0.1, wal_level=logical, run as the postgres OS user when
# invoked as root.
#
#   pg_clusters.sh start DIR     start both in DIR; writes DIR/env (shell) with
#                                SOURCE_URI, TARGET_URI, SOURCE_PORT, TARGET_PORT
#   pg_clusters.sh stop DIR      stop both (safe to call twice)
#   pg_clusters.sh run CMD...    start in a temp dir, export the env, run CMD,
#                                always stop (trap), exit with CMD's status
#   pg_clusters.sh ctl DIR NAME ACTION [MODE]
#                                pg_ctl ACTION (stop|start|restart) of one
#                                cluster (source|target), -m MODE (fast,
#                                immediate) for stop and restart; it keeps its port
#
# PGSHIFT_PG_EXTRA_CONF, when set, is appended to both clusters' settings
# (e.g. "max_prepared_transactions = 4"), for tests that need more than the
# defaults below.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
HERE=$(cd "$(dirname "$0")" && pwd)
# in /tmp, not the checkout: the postgres user must reach it wherever CI clones
TEMPLATE_ROOT=${PGSHIFT_PG_TEMPLATE:-/tmp/pgshift-pg-template-15}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# initdb once per checkout; every cluster is a copy of the template (fast).
ensure_template() {
  local tpl=$TEMPLATE_ROOT/data
  [ -f "$tpl/PG_VERSION" ] && return 0
  mkdir -p "$TEMPLATE_ROOT"
  [ "$(id -u)" = 0 ] && chown postgres: "$TEMPLATE_ROOT"
  local tmp
  tmp=$(mktemp -d "$TEMPLATE_ROOT/init.XXXXXX")
  [ "$(id -u)" = 0 ] && chown postgres: "$tmp"
  as_pg "$PGBIN/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  # another test may have won the race; keep the first template
  mv -T "$tmp/data" "$tpl" 2>/dev/null || true
  rm -rf "$tmp"
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_one() {
  local dir=$1 name=$2 attempt port
  as_pg cp -a "$TEMPLATE_ROOT/data" "$dir/$name"
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    port_free "$port" || continue
    cat >"$dir/$name.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
wal_level = logical
max_replication_slots = 16
max_wal_senders = 16
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
log_min_messages = warning
logging_collector = off
${PGSHIFT_PG_EXTRA_CONF:-}
CONF
    as_pg cp "$dir/$name.conf" "$dir/$name/postgresql.auto.conf"
    if as_pg "$PGBIN/pg_ctl" -D "$dir/$name" -l "$dir/$name.log" -w -t 60 start >/dev/null 2>&1; then
      echo "$port"
      return 0
    fi
  done
  echo "could not start the $name cluster; see $dir/$name.log" >&2
  return 1
}

cmd_start() {
  local dir=$1 sport tport
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  ensure_template
  sport=$(start_one "$dir" source)
  tport=$(start_one "$dir" target)
  cat >"$dir/env" <<ENV
SOURCE_PORT=$sport
TARGET_PORT=$tport
SOURCE_URI=postgresql://postgres@127.0.0.1:$sport/postgres
TARGET_URI=postgresql://postgres@127.0.0.1:$tport/postgres
PGSHIFT_CLUSTERS_DIR=$dir
ENV
}

cmd_stop() {
  local dir=$1 name
  for name in source target; do
    if [ -f "$dir/$name/postmaster.pid" ]; then
      as_pg "$PGBIN/pg_ctl" -D "$dir/$name" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  done
}

cmd_ctl() {
  local dir=$1 name=$2 action=$3 mode=${4:-fast}
  case "$name" in source|target) ;; *) echo "no cluster named $name" >&2; return 3 ;; esac
  case "$action" in
    start) as_pg "$PGBIN/pg_ctl" -D "$dir/$name" -l "$dir/$name.log" -w -t 60 start >/dev/null ;;
    stop|restart) as_pg "$PGBIN/pg_ctl" -D "$dir/$name" -l "$dir/$name.log" -w -t 60 -m "$mode" "$action" >/dev/null ;;
    *) echo "unknown action $action" >&2; return 3 ;;
  esac
}

cmd_run() {
  local rc=0
  # global, not local: the EXIT trap runs after this function has returned
  RUN_DIR=$(mktemp -d /tmp/pgshift-clusters.XXXXXX)
  local dir=$RUN_DIR
  trap 'cmd_stop "$RUN_DIR"; rm -rf "$RUN_DIR"' EXIT
  trap 'exit 130' INT TERM
  cmd_start "$dir"
  set -a; . "$dir/env"; set +a
  "$@" || rc=$?
  return $rc
}

case "${1:-}" in
  start) cmd_start "$2" ;;
  stop) cmd_stop "$2" ;;
  ctl) shift; cmd_ctl "$@" ;;
  run) shift; cmd_run "$@" ;;
  *) echo "usage: $0 start DIR | stop DIR | ctl DIR NAME ACTION [MODE] | run CMD..." >&2; exit 3 ;;
esac
