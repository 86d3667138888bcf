#!/usr/bin/env bash
# CPU a message, per process, of the engine's send path: for each binary given, in turn (ROUNDS
# times, alternating, so a box that slows down over the hour weighs on every build alike), a short
# `bench-send.sh` run, and in each of its two runs (status callbacks off, then on) a WINDOW-second
# window measured from /proc: the CPU time of the engine (`switchboard serve`), the simulator and
# all of PostgreSQL, each divided by the simulator's count of creates in the window, beside the
# sends and the status callbacks the simulator finished posting per second. Throughput on this
# shared 2-core box swings by ±20% run to run; CPU a message is what separates two builds.
#
#   loadtests/profile-send-cpu.sh OLD_BINARY NEW_BINARY   # ROUNDS=2 WINDOW=15 PORT=4029
#
# Build each binary with `cargo build --release -p switchboard` at its commit and copy it out.
# Prints two lines per run (callbacks off, on) and the run's own throughput lines;
# docs/benchmarks.md is left as it was (bench-send.sh rewrites its section, which is put back).
source "$(dirname "${BASH_SOURCE[0]}")/bench-engine-lib.sh" # for `ticks` and `sim_stats`
: "${ROUNDS:=2}" "${WINDOW:=15}" "${PORT:=4029}"
[ $# -ge 1 ] || { echo "usage: $0 BINARY [BINARY ...]" >&2; exit 2; }
for b in "$@"; do [ -x "$b" ] || { echo "$b is not an executable file" >&2; exit 2; }; done
docs="$(mktemp)"; cp docs/benchmarks.md "$docs"
trap 'cp "$docs" docs/benchmarks.md; rm -f "$docs"' EXIT


# measure LABEL BINARY ROUND LOG PREVIOUS_APP: waits for a `serve` other than PREVIOUS_APP, lets
# it warm up, measures a WINDOW-second window and prints one line; sets app (its pid).
measure() {
  until app="$(pgrep -f ' serve$' | head -1)" && [ -n "$app" ] && [ "$app" != "$5" ]; do sleep 1; done
  sleep 20 # the warm-up (10 s) and 10 s of sending
  local sim c0 c1 k0 k1 a0 a1 s0 s1 p0 p1
  sim="$(pgrep -f ' sim --bind' | head -1)"
  c0="$(sim_stats 's["accepted"]')"; k0="$(sim_stats 's["callbacks_posted"] + s["callbacks_failed"]')"
  a0="$(ticks "$app")"; s0="$(ticks "$sim")"
  # shellcheck disable=SC2046 # one pid per word
  p0="$(ticks $(pgrep -x postgres))"
  sleep "$WINDOW"
  c1="$(sim_stats 's["accepted"]')"; k1="$(sim_stats 's["callbacks_posted"] + s["callbacks_failed"]')"
  a1="$(ticks "$app")"; s1="$(ticks "$sim")"
  # shellcheck disable=SC2046
  p1="$(ticks $(pgrep -x postgres))"
  python3 - "$1" "$2" "$3" "$(getconf CLK_TCK)" "$WINDOW" "$c0" "$c1" "$a0" "$a1" "$s0" "$s1" "$p0" "$p1" \
    "$k0" "$k1" "$4" <<'PY'
import re, sys
label, b, rnd, hz, window = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
c0, c1, a0, a1, s0, s1, p0, p1, k0, k1 = map(int, sys.argv[6:16])
n = c1 - c0
us = lambda t: f"{t / hz * 1e6 / n:.1f} µs" if n else "n/a"
bare = re.search(r"bare: (\d+)", open(sys.argv[16]).read())
print(f"{b} round {rnd}, {label}: {n / window:,.0f} sends/s and {(k1 - k0) / window:,.0f} callbacks/s in the "
      f"window (bare {bare.group(1) if bare else '?'}/s); a message: engine {us(a1 - a0)}, "
      f"simulator {us(s1 - s0)}, PostgreSQL {us(p1 - p0)}")
PY
}

for round in $(seq "$ROUNDS"); do
  for b in "$@"; do
    log="$(mktemp)"
    SWITCHBOARD_BIN="$b" DURATION=$(( WINDOW + 30 )) PORT="$PORT" loadtests/bench-send.sh >"$log" 2>&1 &
    bench=$!
    measure "callbacks off" "$b" "$round" "$log" ""
    measure "callbacks on" "$b" "$round" "$log" "$app"
    wait "$bench" || { cat "$log"; exit 1; }
    # The run's own figures (callbacks off, then on), for the throughput beside the CPU.
    grep -E 'sends/s over' "$log" | sed 's/^/  /' || true
    rm -f "$log"
  done
done
