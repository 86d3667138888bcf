#!/usr/bin/env bash
# Fan-out: deliveries/s to 1,000 and 10,000 subscribers of one topic at rising publish rates
# (100-byte payloads; seq numbering, history and auth on), then the same against the bare
# tokio-tungstenite broadcast loop (the floor: no protocol) and against Socket.IO.
#   loadtests/bench-hub-fanout.sh
source "$(dirname "$0")/bench-hub-lib.sh"
STEP=${STEP:-5}
build; raise_limits; fresh_db
start_hub 18080 HUB_QUEUE_LEN=${HUB_QUEUE_LEN:-4096}
start_socketio 13001
start_bare 13010
run() { "$BENCH" fanout --step-secs "$STEP" --concurrency 256 "$@"; }
run --url http://127.0.0.1:18080 --clients 1000  --rates ${HUB_RATES_1K:-1000,2000,3000,4000,6000} --label hub-1k
run --target bare --url http://127.0.0.1:13010 --clients 1000  --rates ${HUB_RATES_1K:-1000,2000,3000,4000,6000} --label bare-1k
# The hub's event frame around a 100-byte payload is 240 bytes (type, workspace, topic, kind,
# epoch, seq): the bare loop again with frames of that size.
run --target bare --url http://127.0.0.1:13010 --clients 1000  --rates ${HUB_RATES_1K:-1000,2000,3000,4000,6000} --payload-bytes 240 --label bare-1k-240B
run --target socketio --url http://127.0.0.1:13001 --clients 1000 --rates ${SIO_RATES_1K:-50,100,200} --label sio-1k
run --url http://127.0.0.1:18080 --clients 10000 --rates ${HUB_RATES_10K:-100,200,300,400,500} --label hub-10k
run --target bare --url http://127.0.0.1:13010 --clients 10000 --rates ${HUB_RATES_10K:-100,200,300,400,500} --label bare-10k
run --target socketio --url http://127.0.0.1:13001 --clients 10000 --rates ${SIO_RATES_10K:-5,10,20} --label sio-10k
