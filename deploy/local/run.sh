#!/usr/bin/env bash
# ./deploy/local/run.sh [demo|serve]: installs what is missing, builds, starts redis-server on loopback
# (unless REDIS_ENDPOINT is set) and, on 127.0.0.1:8080 (LEADPOET_LISTEN to change it) with the embedded
# default config, `leadpoet demo` (the default: the whole system fed by a live synthetic market, README
# "Demo"; LEADPOET_DEMO_RATE snippets per second, default 100) or `leadpoet serve` (an empty system).
# Ctrl-C stops everything it started, by process id.
set -euo pipefail
MODE=${1:-demo}
case "$MODE" in
  demo | serve) ;;
  *) echo "usage: $0 [demo|serve]" >&2; exit 2 ;;
esac
source "$(dirname "$0")/lib.sh"
cd "$LP_ROOT"

lp_install "${LP_PACKAGES[@]}"
lp_build "$LP_ROOT/build" Release
lp_log "built $LP_ROOT/build/leadpoet ($("$LP_ROOT/build/leadpoet" version))"

RUN_DIR=${LEADPOET_RUN_DIR:-$LP_ROOT/.run}
mkdir -p "$RUN_DIR"
pids=()
stop_all() {
  trap - INT TERM EXIT
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  lp_log "stopped"
}
trap stop_all INT TERM EXIT

if [ -z "${REDIS_ENDPOINT:-}" ]; then
  port=$(lp_free_port)
  mkdir -p "$RUN_DIR/redis"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$RUN_DIR/redis" --save 60 1 --appendonly no \
    --daemonize no --logfile "$RUN_DIR/redis/redis.log" &
  pids+=($!)
  export REDIS_ENDPOINT=127.0.0.1:$port
  lp_log "redis-server pid ${pids[-1]} on $REDIS_ENDPOINT (data in $RUN_DIR/redis)"
fi

export LEADPOET_LISTEN=${LEADPOET_LISTEN:-127.0.0.1:8080}
export LEADPOET_SERVER_STATE_DIR=${LEADPOET_SERVER_STATE_DIR:-$RUN_DIR/state}
if [ "$MODE" = demo ]; then
  "$LP_ROOT/build/leadpoet" demo --rate "${LEADPOET_DEMO_RATE:-100}" &
else
  "$LP_ROOT/build/leadpoet" serve &
fi
pids+=($!)
if lp_wait_http "$LEADPOET_LISTEN" 30; then
  lp_log "leadpoet $MODE pid ${pids[-1]} ready: console http://$LEADPOET_LISTEN/  (Ctrl-C stops everything)"
else
  lp_die "leadpoet did not answer on $LEADPOET_LISTEN"
fi
wait "${pids[-1]}"
