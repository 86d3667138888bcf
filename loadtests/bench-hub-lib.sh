# Shared by the bench-hub-*.sh scripts: release binaries, a seeded benchmark database, servers
# started in the background and stopped on exit, raised fd limits.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$([ -w /work ] && echo /work/target || echo "$REPO/target")}
# HUB_BIN / HUB_BENCH_BIN run given binaries (an A/B against an older build); otherwise `build`
# builds both and runs copies, so another build in the shared target dir cannot swap them mid-run.
BIN=${HUB_BIN:-}
BENCH=${HUB_BENCH_BIN:-}
SNAPSHOT=$(mktemp -d /tmp/bench-hub-bin.XXXXXX)
PG_BASE=${PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}
BENCH_DB=${BENCH_DB:-sb_bench_hub}
REDIS=${REDIS_URL_BENCH:-redis://127.0.0.1:6379}
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$SNAPSHOT"
}
trap 'echo "load after: $(cat /proc/loadavg)" >&2; cleanup' EXIT

build() {
  if [ -z "$BIN" ] || [ -z "$BENCH" ]; then
    (cd "$REPO" && cargo build --release -q -p switchboard -p switchboard-hub-bench)
    for b in switchboard hub-bench; do
      cp -l "$CARGO_TARGET_DIR/release/$b" "$SNAPSHOT/" 2>/dev/null || cp "$CARGO_TARGET_DIR/release/$b" "$SNAPSHOT/"
    done
    BIN=${BIN:-$SNAPSHOT/switchboard}
    BENCH=${BENCH:-$SNAPSHOT/hub-bench}
  fi
  echo "load before: $(cat /proc/loadavg)" >&2
  [ -d "$HERE/socketio/node_modules" ] || (cd "$HERE/socketio" && npm ci --silent)
}

raise_limits() {
  ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  sysctl -qw net.core.somaxconn=65535 2>/dev/null || true
  sysctl -qw net.ipv4.tcp_max_syn_backlog=65535 2>/dev/null || true
  sysctl -qw net.ipv4.ip_local_port_range="1024 65000" 2>/dev/null || true
  # Keep the servers' ports out of the (widened) ephemeral range, so client sockets in TIME_WAIT
  # from an earlier step never hold a port a server is about to bind.
  sysctl -qw net.ipv4.ip_local_reserved_ports="13000-13020,18080-18090" 2>/dev/null || true
}

fresh_db() {
  psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null
  DATABASE_URL="$PG_BASE/$BENCH_DB" "$BIN" seed --demo >/dev/null 2>&1
}

wait_http() { for _ in $(seq 1 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

# start_hub PORT [VAR=value ...]: a release `switchboard serve` on 127.0.0.1:PORT; sets HUB_PID.
start_hub() {
  local port=$1; shift
  env DATABASE_URL="$PG_BASE/$BENCH_DB" BIND=127.0.0.1:$port PUBLIC_URL=http://127.0.0.1:$port \
      SECRET_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff \
      RUST_LOG=warn LOG_FORMAT=json REDIS_PREFIX=sbbench "$@" "$BIN" serve >/tmp/bench-hub-$port.log 2>&1 &
  HUB_PID=$!; PIDS+=("$HUB_PID")
  wait_http "http://127.0.0.1:$port/healthz"
}

# start_bare PORT: the bare tokio-tungstenite broadcast loop (WebSocket on PORT, publish on
# PORT+1); sets BARE_PID.
start_bare() {
  "$BENCH" bare-server --port "$1" --queue-len "${HUB_QUEUE_LEN:-4096}" 2>/dev/null &
  BARE_PID=$!; PIDS+=("$BARE_PID")
  wait_http "http://127.0.0.1:$(($1 + 1))/healthz"
}

# start_socketio PORT: the Socket.IO peer; sets SIO_PID.
start_socketio() {
  PORT=$1 node "$HERE/socketio/server.mjs" 2>/dev/null &
  SIO_PID=$!; PIDS+=("$SIO_PID")
  wait_http "http://127.0.0.1:$1/healthz"
}
