#!/usr/bin/env bash
# Sender engine throughput, one command: the simulator's bare create capacity (wrk, as in
# bench-sim.sh) and, in the same run, the engine sending a campaign through it with every guard
# on (claim through judge_send, pacing, record before call, batched results, counters).
# Twice: status callbacks off (engine only) and on (realistic: every message's callbacks come
# back through our signed webhook). Figures go into docs/benchmarks.md.
#
#   loadtests/bench-send.sh      # DURATION=60 (seconds per engine run) PORT=4029 APP_PORT=18089
#   DURATION=600 SEED_RATE=11000 loadtests/bench-send.sh  # the 10-minute runs (~40 min in all)
# SEED_RATE: recipients queued per second of the run (default 15000), so the queue never runs
# dry; a lower one keeps a long run's seeding short where the engine sends fewer per second.
# ON_RATE: the pace of the callbacks-on run, sends/s over all numbers (default 5000). Every send
# brings two callbacks to our webhook on this same box; unpaced, the engine outruns the webhook
# and the simulator's backlog of callbacks grows without end (a 10-minute run once took it to
# 23 GB). The run says whether the webhook kept up at this pace (two callbacks a send).
# loadtests/bench-callbacks.sh measures what one callback costs.
source "$(dirname "${BASH_SOURCE[0]}")/bench-engine-lib.sh"
: "${DURATION:=60}" "${PORT:=4029}" "${APP_PORT:=18089}" "${WRK_DURATION:=15s}" "${SEED_RATE:=15000}" "${ON_RATE:=5000}"
whole_numbers DURATION PORT APP_PORT SEED_RATE ON_RATE
command -v wrk >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; }

engine_bench_setup switchboard_bench_send 5b
with_autovacuum
sim_creates() { sim_stats 's["accepted"]'; }
# Status callbacks the simulator has finished posting (answered or given up on). Two a message
# (sent, then final) when our webhook keeps up; fewer means a backlog growing in the simulator.
sim_callbacks() { sim_stats 's["callbacks_posted"] + s["callbacks_failed"]'; }

# 1. The simulator's bare capacity, this run.
start_sim --no-callbacks
froms="$(awk -F'Numbers: *' '/Numbers:/ {gsub(/ /, "", $2); print $2; exit}' "$work/sim.log")"
echo "==> bare capacity: wrk -t2 -c64 -d$WRK_DURATION"
bare_out="$(SIM_AUTH="$(printf '%s:%s' "$sid" "$token" | base64 -w0)" SIM_FROMS="$froms" \
  wrk -t2 -c64 -d"$WRK_DURATION" --latency -s loadtests/wrk/create.lua "http://127.0.0.1:$PORT/2010-04-01/Accounts/$sid/Messages.json")"
bare="$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$bare_out")"
echo "bare: $bare creates/s"
stop_sim

run_engine() { # $1 = label, $2 = sim flags, $3 = ENGINE_STATUS_CALLBACKS, $4-$7 = result variables, $8 = pace (sends/s over all numbers; none: unpaced)
  # shellcheck disable=SC2086 # $2 is a list of flags
  start_sim $2
  fresh_db
  local pace="${8:-}"
  seed_campaign 00000000-0000-0000-0000-00000000be01 $(( (DURATION + 20) * ${pace:-$SEED_RATE} ))
  [ -z "$pace" ] || psql "$DATABASE_URL" -qc "UPDATE phone_numbers SET mps = $pace::numeric / (SELECT count(*) FROM phone_numbers)"
  start_app ENGINE_STATUS_CALLBACKS="$3"
  psql "$DATABASE_URL" -qc "UPDATE campaigns SET status = 'running' WHERE id = '00000000-0000-0000-0000-00000000be01'"
  sleep 10 # warm-up: workers start, pools fill
  local c0 t0 c1 t1 cs ts left n slices=()
  c0="$(sim_creates)"; t0="$(date +%s.%N)"; local k0; k0="$(sim_callbacks)"
  # Long runs are sampled each minute too: a rate that sags over the run (bloat, vacuum,
  # checkpoints) shows in the slowest minute.
  cs=$c0; ts=$t0; left=$DURATION
  while [ "$left" -gt 0 ]; do
    n=$(( left > 60 ? 60 : left )); sleep "$n"; left=$(( left - n ))
    c1="$(sim_creates)"; t1="$(date +%s.%N)"
    slices+=("$(python3 -c "print(int(($c1 - $cs) / ($t1 - $ts)))")"); cs=$c1; ts=$t1
  done
  local k1; k1="$(sim_callbacks)"
  local rate; rate="$(python3 -c "print(int(($c1 - $c0) / ($t1 - $t0)))")"
  local callbacks; callbacks="$(python3 -c "print(f'{int(($k1 - $k0) / ($t1 - $t0))}/s, {($k1 - $k0) / max($c1 - $c0, 1):.2f} a send')")"
  # A queue that ran dry before the end makes the last minute (and the run) look slow.
  local left_queued; left_queued="$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM outbox WHERE state = 'queued'")"
  [ "$left_queued" -gt 0 ] || echo "WARNING: $1: the queue ran dry before the end; raise SEED_RATE"
  local dup; dup="$(curl -s "http://127.0.0.1:$PORT/sim/record" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(len(r) - len({e["to"] for e in r}))')"
  echo "$1: $rate sends/s over ${DURATION}s ($((c1 - c0)) creates), per minute: ${slices[*]}, duplicate recipients: $dup, status callbacks: $callbacks"
  stop_app
  stop_sim
  local slowest; slowest="$(printf '%s\n' "${slices[@]}" | sort -n | head -1)"
  [ "$left_queued" -gt 0 ] || slowest="$slowest (queue ran dry)"
  eval "$4=\$rate"; eval "$5=\$dup"; eval "$6=\$slowest"; eval "$7=\$callbacks"
}

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
run_engine "callbacks off" "--no-callbacks" false off_rate off_dup off_min off_callbacks
# Callbacks on: the simulator posts up to 512 at once (its default, 32, let through ~1,000 a
# second against our batched webhook, ~0.07 a send at 15k sends/s: a backlog, not a load).
run_engine "callbacks on" "--callback-delay-ms 10 --delivery-delay-ms 50 --callback-max-in-flight 512" true on_rate on_dup on_min on_callbacks "$ON_RATE"
# Kept up: the webhook answered two callbacks a send over the run (the last ones lag it by 60 ms).
kept_up="$(python3 -c "print('kept up' if float('${on_callbacks##*, }'.split()[0]) >= 1.95 else 'did NOT keep up')")"
echo "callbacks on, paced at $ON_RATE sends/s: the webhook $kept_up"
drop_db

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
section="$(cat <<MD
## Sender engine throughput

\`loadtests/bench-send.sh\` (DURATION=${DURATION}s per run, SEED_RATE=${SEED_RATE}, ON_RATE=${ON_RATE}), $(date -u +%Y-%m-%d), $(nproc) cores, load before: $load_before.
PostgreSQL: $autovacuum_note, other settings as the server has them.
Engine and simulator on this box, one instance, no Redis (in-process pacing), 10 numbers of one
account at 5,000 MPS each (callbacks on: $(( ON_RATE / 10 )) each), a campaign of $(( (DURATION + 20) * SEED_RATE )) recipients (callbacks on: $(( (DURATION + 20) * ON_RATE ))); every guard on (claim through
\`judge_send\`, pacing, send-log row before each call, batched results, live counters).
Measured over ${DURATION} s after a 10 s warm-up, from the simulator's own count of creates.

| run | sends/s | ratio to bare capacity | slowest minute (or the run) | duplicate recipients |
|---|---|---|---|---|
| simulator bare capacity (wrk -t2 -c64, same run) | $bare | 1.00 | — | — |
| engine, status callbacks off | $off_rate | $(ratio "$off_rate" "$bare") | $off_min | $off_dup |
| engine, status callbacks on, paced at $ON_RATE sends/s | $on_rate | $(ratio "$on_rate" "$bare") | $on_min | $on_dup |

Status callbacks the simulator finished posting during the callbacks-on run: $on_callbacks: the
webhook **$kept_up** (two a send, "sent" and the final status, when it keeps up; fewer is a
backlog growing in the simulator). Unpaced, the engine outruns the webhook on this box, where
the engine, the simulator, PostgreSQL and the webhook share two cores; the pace (ON_RATE) is
the rate this run checks the whole system sustains. What one callback costs:
\`loadtests/bench-callbacks.sh\` ("Status callbacks").

Targets: ≥10,000 sends/s and ≥0.5 of bare capacity.
MD
)"
write_section "$section"
