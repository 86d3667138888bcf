#!/usr/bin/env bash
# Publish → deliver latency (p50/p99) at 100k deliveries/s (1,000 subscribers × 100 events/s)
# on one instance, across two instances through Redis (subscribers on one, publisher on the
# other), at 1M deliveries/s on one instance; the bare tokio-tungstenite broadcast loop (no
# protocol: the floor on this box) at both rates, and Socket.IO at 100k/s.
#   loadtests/bench-hub-latency.sh
source "$(dirname "$0")/bench-hub-lib.sh"
STEP=${STEP:-10}
build; raise_limits; fresh_db
start_hub 18080
run() { "$BENCH" fanout --step-secs "$STEP" --concurrency 256 --sample-every 1 "$@"; }
run --url http://127.0.0.1:18080 --clients 1000 --rates 100,1000 --label one-instance
kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
redis-cli --scan --pattern 'sbbench:*' | xargs -r redis-cli del >/dev/null
start_hub 18081 REDIS_URL="$REDIS"
start_hub 18082 REDIS_URL="$REDIS"
run --url http://127.0.0.1:18081 --pub-url http://127.0.0.1:18082 --clients 1000 --rates 100,1000 --label two-instances-redis
start_bare 13010
run --target bare --url http://127.0.0.1:13010 --clients 1000 --rates 100,1000 --label bare
start_socketio 13001
run --target socketio --url http://127.0.0.1:13001 --clients 1000 --rates 100 --label socketio
