#!/usr/bin/env bash
# Send-log writes, one command: builds the release driver (`send_log_bench`, loadtests/src/bin/),
# which makes its own scratch database, and measures rows/s of `send_log::record_attempts`
# (batches of 1,000, "calling" rows + the pair history), of its send-log half alone
# (`insert_calling_rows`) and of a binary COPY of the same rows into the same daily partitions,
# in the same run, with 1 and with 4 writers. Writes the
# figures into the "Send-log writes" section of docs/benchmarks.md. Stops by itself; the scratch
# database is dropped at the end.
#
#   loadtests/bench-send-log.sh          # ROWS=400000 BATCH=1000 RECIPIENTS=1000000 ROUNDS=2
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
: "${ROWS:=400000}" "${BATCH:=1000}" "${RECIPIENTS:=1000000}" "${ROUNDS:=2}"
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  if [ -d /work ] && [ -w /work ]; then export CARGO_TARGET_DIR=/work/target; else export CARGO_TARGET_DIR="$root/target"; fi
fi
echo "==> cargo build --release --bin send_log_bench"
cargo build --release -p switchboard-loadtests --bin send_log_bench
bin="$(mktemp -d)/send_log_bench"
cp "$CARGO_TARGET_DIR/release/send_log_bench" "$bin"
trap 'rm -f "$bin"' EXIT

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
rows_md=""
for writers in 1 4; do
  echo "==> $writers writer(s)"
  out="$("$bin" writes --rows "$ROWS" --batch "$BATCH" --writers "$writers" --recipients "$RECIPIENTS" --rounds "$ROUNDS" | tee /dev/stderr)"
  result="$(grep '^RESULT' <<<"$out")"
  get() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$result"; }
  rows_md+="| $writers | $(get record_attempts_rows_per_s) | **$(get ratio)** | $(get log_rows_per_s) | **$(get log_ratio)** | $(get copy_rows_per_s) |"$'\n'
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
today="$(date -u +%Y-%m-%d)"
cores="$(nproc)"

section="$(cat <<MD
## Send-log writes

Rows/s written by \`sender::send_log::record_attempts\` — the engine's "record, then call" step:
a "calling" row in the day's partition plus the pair-history upsert (a recipient's history is
its pair rows since migration 0020), one UNNEST statement per table, one transaction per batch
of $BATCH — against a binary COPY of the same rows into the same partitioned \`send_log\` (one
COPY and one commit per batch, same writers), alternating, tables emptied before each round, best of $ROUNDS rounds. $ROWS rows over
two daily partitions, recipients drawn from $RECIPIENTS. Beside them, the send-log half of the step
alone (\`insert_calling_rows\`: the same "calling" rows by one INSERT over UNNEST per batch, no
pair history): the issue's "send-log writes into daily partitions" as such. Targets: ≥100k rows/s
and ≥0.4 of COPY.

- Command: \`loadtests/bench-send-log.sh\` (driver \`loadtests/src/bin/send_log_bench/writes.rs\`, scratch database)
- Date: $today; machine: $cores cores, PostgreSQL $(psql -h 127.0.0.1 -U postgres -Atc 'show server_version' 2>/dev/null | cut -d' ' -f1) on the same box;
  load average before → after: $load_before → $load_after (the whole box's; other work on it shows here)

| writers | record_attempts rows/s | ratio to COPY | send-log rows alone rows/s | ratio to COPY | COPY rows/s (send_log only) |
|---|---|---|---|---|---|
${rows_md}
MD
)"
doc=docs/benchmarks.md
SECTION="$section" python3 - "$doc" <<'PY'
import os, re, sys
path = sys.argv[1]
text = open(path).read()
section = os.environ["SECTION"].rstrip() + "\n"
pattern = re.compile(r"^## Send-log writes\n.*?(?=^## |\Z)", re.S | re.M)
if pattern.search(text):
    text = pattern.sub(lambda _: section + "\n", text).rstrip() + "\n"
else:
    text = text.rstrip() + "\n\n" + section
open(path, "w").write(text)
PY
echo "==> $doc updated"
