#!/usr/bin/env bash
# Status callbacks absorbed per second, one command: the engine sends a campaign of MESSAGES
# through the simulator, which holds every message's callbacks (sent, then delivered) for
# HOLD seconds; the simulator is stopped (SIGSTOP) once the sends are done and let go once every
# callback is due (HOLD after the last send), so it then posts them as fast as the receiver answers, up to 512 at once,
# signed. Only callbacks flow: a WINDOW-second window measures how many the receiver answers a
# second and the CPU each costs the receiver, the simulator and PostgreSQL (from /proc). The
# baseline, in the same run: the same callbacks posted to a second simulator's sink
# (`POST /webhooks/...`, which reads the request and answers 200): what posting alone costs on
# this box. Figures go into docs/benchmarks.md ("Status callbacks").
#
#   loadtests/bench-callbacks.sh   # MESSAGES=300000 HOLD=45 WINDOW=10 PORT=4029 APP_PORT=18089 SINK_PORT=4031
source "$(dirname "${BASH_SOURCE[0]}")/bench-engine-lib.sh"
: "${MESSAGES:=300000}" "${HOLD:=45}" "${WINDOW:=10}" "${PORT:=4029}" "${APP_PORT:=18089}" "${SINK_PORT:=4031}"
whole_numbers MESSAGES HOLD WINDOW PORT APP_PORT SINK_PORT
[ "$HOLD" -gt 5 ] || { echo "HOLD must be above 5 (seconds)" >&2; exit 2; }
engine_bench_setup switchboard_bench_callbacks 5c
with_autovacuum

posted() { sim_stats 's["callbacks_posted"] + s["callbacks_failed"]'; }

# drain LABEL [sink]: a campaign through the simulator, then the callback window, with the
# callbacks going to our webhook or (sink) to a second simulator's sink. Prints one line and
# sets `rate` (callbacks/s in the window), `receiver`, `poster` and `postgres` (µs of CPU a
# callback) and `failed` (callbacks the simulator gave up on in the window).
drain() {
  local label="$1" to_sink="${2:-}" sink_pid="" public=()
  start_sim --callback-delay-ms $(( HOLD * 1000 )) --delivery-delay-ms 50 --callback-max-in-flight 512
  if [ -n "$to_sink" ]; then
    "$bin" sim --bind "127.0.0.1:$SINK_PORT" --seed 2 >"$work/sink.log" 2>&1 &
    sink_pid=$!; pids+=("$sink_pid")
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SINK_PORT/sim/stats" >/dev/null && break; sleep 0.1; done
    public=(PUBLIC_URL="http://127.0.0.1:$SINK_PORT")
  fi
  fresh_db
  seed_campaign 00000000-0000-0000-0000-00000000cb01 "$MESSAGES"
  start_app ENGINE_STATUS_CALLBACKS=true "${public[@]}"
  psql "$DATABASE_URL" -qc "UPDATE campaigns SET status = 'running' WHERE id = '00000000-0000-0000-0000-00000000cb01'"
  # The sends begin once the engine's workers are up (several seconds); the campaign must be
  # sent before its first callbacks are due.
  local t0; t0="$(date +%s)"
  until [ "$(sim_stats 's["accepted"]')" -gt 0 ]; do
    sleep 0.2
    [ $(( $(date +%s) - t0 )) -lt 60 ] || { echo "$label: nothing sent within 60 s" >&2; exit 1; }
  done
  t0="$(date +%s)"
  until [ "$(sim_stats 's["accepted"]')" -ge "$MESSAGES" ]; do
    sleep 1
    [ $(( $(date +%s) - t0 )) -lt $(( HOLD - 2 )) ] || { echo "$label: the campaign took over $(( HOLD - 2 )) s to send; raise HOLD" >&2; exit 1; }
  done
  # The simulator is held still (SIGSTOP) from the last send until every callback is due (HOLD
  # after it, and the 50 ms to delivered), then let go: from then on it posts as fast as the
  # receiver answers (512 at once), whatever pace the sends had.
  kill -STOP "$sim_pid"
  sleep $(( HOLD + 1 ))
  kill -CONT "$sim_pid"
  sleep 3
  local who="${sink_pid:-$app}" sim k0 f0 r0 s0 p0 k1 f1 r1 s1 p1
  sim="$(pgrep -f " sim --bind 127.0.0.1:$PORT" | head -1)"
  k0="$(posted)"; f0="$(sim_stats 's["callbacks_failed"]')"
  r0="$(ticks "$who")"; s0="$(ticks "$sim")"
  # shellcheck disable=SC2046 # one pid per word
  p0="$(ticks $(pgrep -x postgres))"
  sleep "$WINDOW"
  k1="$(posted)"; f1="$(sim_stats 's["callbacks_failed"]')"
  r1="$(ticks "$who")"; s1="$(ticks "$sim")"
  # shellcheck disable=SC2046
  p1="$(ticks $(pgrep -x postgres))"
  [ "$k1" -lt $(( 2 * MESSAGES )) ] || echo "WARNING: $label: every callback was posted before the window ended; raise MESSAGES" >&2
  failed=$(( f1 - f0 ))
  read -r rate receiver poster postgres < <(python3 - "$(getconf CLK_TCK)" "$WINDOW" "$k0" "$k1" "$r0" "$r1" "$s0" "$s1" "$p0" "$p1" <<'PY'
import sys
hz, window = int(sys.argv[1]), float(sys.argv[2])
k0, k1, r0, r1, s0, s1, p0, p1 = map(int, sys.argv[3:])
n = max(k1 - k0, 1)
us = lambda t: f"{t / hz * 1e6 / n:.1f}"
print(int(n / window), us(r1 - r0), us(s1 - s0), us(p1 - p0))
PY
)
  echo "$label: $rate callbacks/s over ${WINDOW}s ($failed given up on); µs a callback: receiver $receiver, simulator $poster, PostgreSQL $postgres"
  if [ -n "$to_sink" ]; then
    local sunk; sunk="$(curl -s "http://127.0.0.1:$SINK_PORT/sim/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["webhooks_sunk"])')"
    [ "$sunk" -gt 0 ] || { echo "$label: the sink received nothing" >&2; exit 1; }
    kill "$sink_pid"; wait "$sink_pid" 2>/dev/null || true
  else
    # Every callback stored once: let the simulator post the rest (two minutes at most).
    local deadline=$(( $(date +%s) + 120 ))
    until [ "$(posted)" -ge $(( 2 * MESSAGES )) ] || [ "$(date +%s)" -gt "$deadline" ]; do sleep 1; done
    stored="$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM status_callbacks")"
  fi
  stop_app
  stop_sim
}

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
drain "sink (baseline)" sink
[ "$rate" -gt 0 ] || { echo "the sink counted no callbacks in the window: nothing to compare with" >&2; exit 1; }
sink_rate=$rate sink_receiver=$receiver sink_poster=$poster sink_pg=$postgres sink_failed=$failed
drain "our webhook"
drop_db
ratio="$(python3 -c "print(f'{$rate / $sink_rate:.2f}')")"
echo "our webhook / sink: $ratio"

write_section "$(cat <<MD
## Status callbacks

\`loadtests/bench-callbacks.sh\` (MESSAGES=$MESSAGES, HOLD=${HOLD}s, WINDOW=${WINDOW}s), $(date -u +%Y-%m-%d), $(nproc) cores, load before: $load_before.
PostgreSQL: $autovacuum_note.
The engine sends a campaign of $MESSAGES messages through the simulator, which holds each
message's two callbacks (sent, then delivered 50 ms later) for ${HOLD} s. The simulator is
stopped (SIGSTOP) once the sends are done and let go when every callback is due: it then posts
them as fast as the receiver answers, up to 512 at once, signed. Only callbacks flow; after 3 s,
a ${WINDOW}-second window counts the callbacks answered and the CPU of each process from /proc. Baseline, same run: the
same callbacks posted to a second simulator's sink, which reads each and answers 200 (what
posting alone costs on this box). Our webhook checks the signature, stores each callback once
(\`status_callbacks\`) and moves its outbox and send-log rows, in batches
(\`sender::status_writer\`, \`sender::inbound::receive_statuses\`).

| receiver | callbacks/s | ratio to the sink | receiver µs a callback | simulator µs | PostgreSQL µs | given up on |
|---|---|---|---|---|---|---|
| sink (baseline) | $sink_rate | 1.00 | $sink_receiver | $sink_poster | $sink_pg | $sink_failed |
| our webhook | $rate | **$ratio** | $receiver | $poster | $postgres | $failed |

Callbacks our webhook stored once the simulator had posted them all: $stored of $(( 2 * MESSAGES )) posted (each once).
MD
)"
