#!/usr/bin/env bash
# The cooldown gate at scale, one command: builds the release driver (`send_log_bench`), which
# makes its own scratch database, generates ROWS recipients' pair history in SQL
# (generate_series; 1% opted out, 0.5% undeliverable, DNC phones and ranges), then measures in
# the same run: p50/p99 of a bare primary-key probe on pair_history (the floor), of
# `send_log::cooldown` and of `send_verdict(...)` for one recipient; and one query screening
# SCREEN recipients through `send_verdict` over UNNEST arrays, with 0007's original function
# beside the current one. Writes the figures into docs/benchmarks.md, section "Cooldown gate at
# <rows> recipients" (one section per size: 10M, 100M). Stops by itself; the scratch database is
# dropped at the end, unless KEEP=1. BENCH_DB=name uses (or makes) that database instead, reuses
# the history an earlier run left in it, and keeps it (drop it yourself).
#
#   loadtests/bench-cooldown.sh [rows]     # default 10000000; PROBES=20000 SCREEN=100000
# About 200 MB of history per million recipients: check `df -h /` before 100M (~20 GB).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
rows="${1:-10000000}"
: "${PROBES:=20000}" "${SCREEN:=100000}" "${KEEP:=}" "${BENCH_DB:=}"
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  if [ -d /work ] && [ -w /work ]; then export CARGO_TARGET_DIR=/work/target; else export CARGO_TARGET_DIR="$root/target"; fi
fi
echo "==> cargo build --release --bin send_log_bench"
cargo build --release -p switchboard-loadtests --bin send_log_bench
bin="$(mktemp -d)/send_log_bench"
cp "$CARGO_TARGET_DIR/release/send_log_bench" "$bin"
trap 'rm -f "$bin"' EXIT

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
db_args=()
if [ -n "$KEEP" ]; then db_args+=(--keep); fi
if [ -n "$BENCH_DB" ]; then
  # The driver reuses a database given by name (a history kept by KEEP=1); a new name is made here.
  [[ "$BENCH_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "BENCH_DB must be a plain database name, not '$BENCH_DB'" >&2; exit 2; }
  if [ -z "$(psql "${PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}/postgres" -Atc "SELECT 1 FROM pg_database WHERE datname = '$BENCH_DB'")" ]; then
    psql "${PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}/postgres" -qc "CREATE DATABASE $BENCH_DB"
  fi
  db_args+=(--db "$BENCH_DB")
fi
out="$("$bin" "${db_args[@]}" cooldown --rows "$rows" --probes "$PROBES" --screen "$SCREEN" | tee /dev/stderr)"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
probe() { sed -n "s/^RESULT probe=$1 .*p50_us=\([0-9]*\) p99_us=\([0-9]*\).*/\1 µs | \2 µs/p" <<<"$out"; }
screens="$(sed -n 's/^RESULT screen function=\([a-z_0-9]*\) jit=\([a-z]*\) order=\([a-z]*\) recipients=\([0-9]*\) ms=\([0-9]*\) verdicts=\(.*\)/| `\1` | \2 | \3 | \4 | \5 ms |/p' <<<"$out")"
verdicts="$(sed -n 's/^RESULT screen .*verdicts=\(.*\)/\1/p' <<<"$out" | tail -1)"
generated="$(grep '^generated\|^reused' <<<"$out" | tail -1)"
today="$(date -u +%Y-%m-%d)"
command="loadtests/bench-cooldown.sh $rows"
# One section per size ("Cooldown gate at 10M recipients", "... at 100M ..."): a run rewrites its own.
if [ $((rows % 1000000)) -eq 0 ]; then size="$((rows / 1000000))M"; else size="$rows"; fi
heading="Cooldown gate at $size recipients"
if [ -n "$BENCH_DB" ]; then command="BENCH_DB=$BENCH_DB $command"; fi

section="$(cat <<MD
## $heading

Single-recipient probes and one bulk screening against $rows recipients' history (one
pair-history row each, send times spread over 120 days; 1% opted
out, 0.5% undeliverable, 1,000 DNC phones and 100 DNC ranges), generated in SQL. Probes: $PROBES
random recipients per kind (each kind its own) on one connection, the first 10% discarded as warm-up. Screening:
$SCREEN recipients in one statement, each form twice, alternating, all at one moment (the
verdict counts must agree or the run fails), the recipients in phone order (the generator's, so
history pages are read in order) and shuffled (the preview's order: leads by id). The floor,
\`pair_key_floor\`: one index-only probe of the pair key per recipient in phone-key order and
nothing else (the issue's "covering index" orientation figure, measured in the same run). Per recipient
over UNNEST arrays: \`judge_send\` (migration 0011), the form the claim calls, a table function
joined LATERAL, which PostgreSQL inlines, with PostgreSQL's JIT as configured (on) and off;
\`send_verdict\`, a scalar wrapper around it, and \`send_verdict_0007\`, the original, for the
ratio. As a set: \`screen_sends\` (migration 0015) in one statement (\`sender::plan::screen::screen_on\`:
JIT off, the prepared statement's generic plan), and \`screen_sends_parts\`, the campaign
preview's path (\`sender::plan::screen::screen\`: the list cut into at most 4 parts of at least 10,000,
screened concurrently on their own connections), every verdict fetched in order and counted by
the driver.
Targets: a cooldown check's p99 under 1 ms; 100,000 recipients screened in under 300 ms.

- Command: \`$command\` (driver \`loadtests/src/bin/send_log_bench/cooldown.rs\`, scratch database)
- Date: $today; $generated
- Load average before → after: $load_before → $load_after (the whole box's; other work on it shows here)

| probe | p50 | p99 |
|---|---|---|
| bare primary-key probe on pair_history (floor) | $(probe pk_probe) |
| \`send_log::cooldown\` | $(probe cooldown) |
| \`send_verdict(...)\`, one recipient | $(probe send_verdict) |

| screening | JIT | recipients in | recipients | time |
|---|---|---|---|---|
$screens

Verdicts of the last screening: $verdicts
MD
)"
doc=docs/benchmarks.md
SECTION="$section" HEADING="$heading" python3 - "$doc" <<'PY'
import os, re, sys
path = sys.argv[1]
text = open(path).read()
section = os.environ["SECTION"].rstrip() + "\n"
pattern = re.compile(r"^## " + re.escape(os.environ["HEADING"]) + r"\n.*?(?=^## |\Z)", re.S | re.M)
notes = "## Cooldown gate: what the figures say"
if pattern.search(text):
    text = pattern.sub(lambda _: section + "\n", text).rstrip() + "\n"
elif notes in text:  # a new size: beside the others, before what they say
    text = text.replace(notes, section + "\n" + notes, 1)
else:
    text = text.rstrip() + "\n\n" + section
open(path, "w").write(text)
PY
echo "==> $doc updated"
