#!/usr/bin/env bash
# Sender engine throughput, one command: the simulator's bare create capacity (wrk, as in
# bench-sim.sh) and, in the same run, the engine sending a campaign through it with every guard
# on (claim through judge_send, pacing, record before call, batched results, counters).
# Twice: status callbacks off (engine only) and on (realistic: every message's callbacks come
# back through our signed webhook). Figures go into docs/benchmarks.md.
#
#   loadtests/bench-send.sh      # DURATION=60 (seconds per engine run) PORT=4029 APP_PORT=18089
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
: "${DURATION:=60}" "${PORT:=4029}" "${APP_PORT:=18089}" "${WRK_DURATION:=15s}"
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  if [ -d /work ] && [ -w /work ]; then export CARGO_TARGET_DIR=/work/target; else export CARGO_TARGET_DIR="$root/target"; fi
fi
command -v wrk >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; }

echo "==> cargo build --release --bin switchboard"
cargo build --release --bin switchboard
work="$(mktemp -d)"
bin="$work/switchboard"
cp "$CARGO_TARGET_DIR/release/switchboard" "$bin"
pg="postgres://postgres@127.0.0.1:5432"
db="switchboard_bench_send"
export DATABASE_URL="$pg/$db" SECRET_KEY="$(printf '5b%.0s' $(seq 32))" REDIS_URL="" LOG_FORMAT=json RUST_LOG=warn
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

start_sim() { # $1 = extra flags
  "$bin" sim --bind "127.0.0.1:$PORT" --mps 1000000 --max-concurrent 100000 --seed 1 $1 >"$work/sim.log" 2>&1 &
  sim_pid=$!; pids+=("$sim_pid")
  for _ in $(seq 100); do grep -q "Create:" "$work/sim.log" && break; sleep 0.1; done
}
stop_sim() { kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; }
sim_creates() { curl -s "http://127.0.0.1:$PORT/sim/stats" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["accepted"])'; }

# 1. The simulator's bare capacity, this run.
start_sim --no-callbacks
sid="$(awk '/Account SID:/ {print $3; exit}' "$work/sim.log")"
token="$(awk '/Auth token:/ {print $3; exit}' "$work/sim.log")"
froms="$(awk -F'Numbers: *' '/Numbers:/ {gsub(/ /, "", $2); print $2; exit}' "$work/sim.log")"
echo "==> bare capacity: wrk -t2 -c64 -d$WRK_DURATION"
bare_out="$(SIM_AUTH="$(printf '%s:%s' "$sid" "$token" | base64 -w0)" SIM_FROMS="$froms" \
  wrk -t2 -c64 -d"$WRK_DURATION" --latency -s loadtests/wrk/create.lua "http://127.0.0.1:$PORT/2010-04-01/Accounts/$sid/Messages.json")"
bare="$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$bare_out")"
echo "bare: $bare creates/s"
stop_sim

run_engine() { # $1 = label, $2 = sim flags, $3 = ENGINE_STATUS_CALLBACKS
  psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  start_sim "$2"
  "$bin" migrate >/dev/null
  "$bin" seed --demo --simulator "http://127.0.0.1:$PORT" >"$work/seed.log"
  local rows=$(( (DURATION + 20) * 15000 ))
  psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 <<SQL >/dev/null
UPDATE phone_numbers SET mps = 5000;
UPDATE carrier_accounts SET mps_cap = NULL, daily_cap = NULL;
UPDATE campaigns SET status = 'completed';
INSERT INTO campaigns (workspace_id, id, name, status, steps, started_at, materialized_at)
  SELECT id, '00000000-0000-0000-0000-00000000be01', 'Bench', 'draft', '[{"after_days": 0, "templates": ["Hi"]}]', now(), now()
  FROM workspaces WHERE slug = 'demo';
INSERT INTO leads (workspace_id, id, tags, phone)
  SELECT w.id, gen_random_uuid(), ARRAY['bench'],
         '+1' || (ARRAY['415','212','305','312','713','206','617','404','602','303'])[1 + g % 10] || (2000000 + g / 10)::text
  FROM workspaces w, generate_series(1, $rows) g WHERE w.slug = 'demo';
INSERT INTO outbox (workspace_id, campaign_id, lead_id, to_phone, to_key, from_number, body, window_start, window_end)
  SELECT l.workspace_id, '00000000-0000-0000-0000-00000000be01', l.id, l.phone, substr(l.phone, 2)::bigint,
         '+1201555010' || (abs(hashtext(l.phone)) % 10)::text, 'Hi there, this is a benchmark message.', '00:00', '24:00'
  FROM leads l JOIN workspaces w ON w.id = l.workspace_id WHERE w.slug = 'demo' AND 'bench' = ANY(l.tags);
INSERT INTO campaign_stats (workspace_id, campaign_id, metric, n)
  SELECT id, '00000000-0000-0000-0000-00000000be01', 'materialized', $rows FROM workspaces WHERE slug = 'demo';
VACUUM ANALYZE outbox;
SQL
  BIND="127.0.0.1:$APP_PORT" PUBLIC_URL="http://127.0.0.1:$APP_PORT" ENGINE_STATUS_CALLBACKS="$3" \
    "$bin" serve >"$work/app.log" 2>&1 &
  local app=$!; pids+=("$app")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$APP_PORT/readyz" >/dev/null && break; sleep 0.2; done
  psql "$DATABASE_URL" -qc "UPDATE campaigns SET status = 'running' WHERE id = '00000000-0000-0000-0000-00000000be01'"
  sleep 10 # warm-up: workers start, pools fill
  local c0 t0 c1 t1
  c0="$(sim_creates)"; t0="$(date +%s.%N)"
  sleep "$DURATION"
  c1="$(sim_creates)"; t1="$(date +%s.%N)"
  local rate; rate="$(python3 -c "print(int(($c1 - $c0) / ($t1 - $t0)))")"
  local dup; dup="$(curl -s "http://127.0.0.1:$PORT/sim/record" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(len(r) - len({e["to"] for e in r}))')"
  echo "$1: $rate sends/s over ${DURATION}s ($((c1 - c0)) creates), duplicate recipients: $dup"
  kill "$app"; wait "$app" 2>/dev/null || true
  stop_sim
  eval "$4=\$rate"; eval "$5=\$dup"
}

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
run_engine "callbacks off" "--no-callbacks" false off_rate off_dup
run_engine "callbacks on" "--callback-delay-ms 10 --delivery-delay-ms 50" true on_rate on_dup
psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
section="$(cat <<MD
## Sender engine throughput

\`loadtests/bench-send.sh\` (DURATION=${DURATION}s per run), $(date -u +%Y-%m-%d), $(nproc) cores, load before: $load_before.
Engine and simulator on this box, one instance, no Redis (in-process pacing), 10 numbers of one
account at 5,000 MPS each, a campaign of $(( (DURATION + 20) * 15000 )) recipients; every guard on (claim through
\`judge_send\`, pacing, send-log row before each call, batched results, live counters).
Measured over ${DURATION} s after a 10 s warm-up, from the simulator's own count of creates.

| run | sends/s | ratio to bare capacity | duplicate recipients |
|---|---|---|---|
| simulator bare capacity (wrk -t2 -c64, same run) | $bare | 1.00 | — |
| engine, status callbacks off | $off_rate | $(ratio "$off_rate" "$bare") | $off_dup |
| engine, status callbacks on | $on_rate | $(ratio "$on_rate" "$bare") | $on_dup |

Targets: ≥10,000 sends/s and ≥0.5 of bare capacity.
MD
)"
python3 - "$section" <<'PY'
import re, sys, pathlib
doc = pathlib.Path("docs/benchmarks.md")
text = doc.read_text()
section = sys.argv[1].strip() + "\n"
pattern = re.compile(r"## Sender engine throughput\n.*?(?=\n## |\Z)", re.S)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
doc.write_text(text)
PY
echo "==> docs/benchmarks.md updated"
