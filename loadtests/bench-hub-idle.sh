#!/usr/bin/env bash
# Idle connections held by one hub instance and the server memory each costs.
#   loadtests/bench-hub-idle.sh [connections=100000]
# Also runs the same count against the Socket.IO peer when SOCKETIO=1.
source "$(dirname "$0")/bench-hub-lib.sh"
N=${1:-100000}
build; raise_limits; fresh_db
start_hub 18080
"$BENCH" idle --url http://127.0.0.1:18080 --clients "$N" --server-pid "$HUB_PID" --concurrency 256 --source-ips 8 --hold-secs 1
if [ "${SOCKETIO:-0}" = 1 ]; then
  start_socketio 13001
  "$BENCH" idle --target socketio --url http://127.0.0.1:13001 --clients "$N" --server-pid "$SIO_PID" --concurrency 256 --source-ips 8 --hold-secs 1
fi
