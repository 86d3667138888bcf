# shellcheck shell=bash
# Shared by the sender engine benchmarks (bench-send.sh, bench-pacing.sh, bench-stop-fence.sh):
# a copy of the release binary, the Twilio simulator and `switchboard serve` started in the
# background and stopped on exit, a fresh benchmark database with the demo seed and a bench
# campaign, and the script's own section of docs/benchmarks.md written anew.
#
# Sourcing it moves to the repository root and defaults CARGO_TARGET_DIR. `engine_bench_setup`
# sets `work` (a scratch folder, removed on exit), `bin` (the binary's copy in it), `pg`, `db`
# and `pids` (killed on exit) and exports the server's environment; the functions below read
# PORT (the simulator's) and APP_PORT (the server's).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  if [ -d /work ] && [ -w /work ]; then export CARGO_TARGET_DIR=/work/target; else export CARGO_TARGET_DIR="$root/target"; fi
fi

cleanup() {
  # The server's setting first: waiting for the server below can take a while (a graceful
  # shutdown with calls in flight), and an impatient second kill would skip what follows.
  if [ -n "${autovacuum_was_off:-}" ]; then
    psql "$pg/postgres" -qc "ALTER SYSTEM RESET autovacuum" -c "SELECT pg_reload_conf()" >/dev/null || true
    echo "==> autovacuum reset to the server's own setting"
  fi
  # CONT first: a process a benchmark holds still (SIGSTOP) would keep the TERM pending.
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true; rm -rf "$work"
}

# with_autovacuum: a campaign rewrites its outbox and send-log rows several times a message, so
# a long run measures vacuum as much as the engine. Some CI images turn autovacuum off; this
# turns it on for the run (ALTER SYSTEM, reloaded) and `cleanup` resets it on exit. Sets
# `autovacuum_note` for the report.
with_autovacuum() {
  if [ "$(psql "$pg/postgres" -Atc "SHOW autovacuum")" = on ]; then
    autovacuum_note="autovacuum on (the server's setting)"
  else
    autovacuum_was_off=1
    psql "$pg/postgres" -qc "ALTER SYSTEM SET autovacuum = on" -c "SELECT pg_reload_conf()" >/dev/null
    autovacuum_note="autovacuum on (off in this server's configuration; turned on for the run, then reset)"
  fi
  echo "==> $autovacuum_note"
}

# engine_bench_setup DB KEY_BYTE: builds the release binary and runs a copy of it (so another
# build in the shared target dir cannot swap it mid-run), against database DB, with SECRET_KEY
# 32 times the hex byte KEY_BYTE. SWITCHBOARD_BIN=path runs that binary instead of building one:
# an earlier commit's build, for a before/after pair in the same hour (its figures still go to
# docs/benchmarks.md; keep a copy of the file).
engine_bench_setup() {
  work="$(mktemp -d)"
  bin="$work/switchboard"
  if [ -n "${SWITCHBOARD_BIN:-}" ]; then
    [ -x "$SWITCHBOARD_BIN" ] || { echo "SWITCHBOARD_BIN=$SWITCHBOARD_BIN is not an executable file" >&2; exit 2; }
    echo "==> running $SWITCHBOARD_BIN (not built here)"
    cp "$SWITCHBOARD_BIN" "$bin"
  else
    echo "==> cargo build --release --bin switchboard"
    cargo build --release --bin switchboard
    cp "$CARGO_TARGET_DIR/release/switchboard" "$bin"
  fi
  pg="postgres://postgres@127.0.0.1:5432"
  db="$1"
  local key="" _
  for _ in $(seq 32); do key+="$2"; done
  export DATABASE_URL="$pg/$db" SECRET_KEY="$key" REDIS_URL="" LOG_FORMAT=json RUST_LOG=warn
  pids=()
  trap cleanup EXIT
  trap 'exit 130' INT   # so that an interrupted or killed run still cleans up (and resets
  trap 'exit 143' TERM  # autovacuum) on its way out
}

# start_sim [FLAG ...]: the simulator on 127.0.0.1:$PORT, seed 1, with no rate or concurrency
# limit of its own to speak of, logging to $work/sim.log; returns once it serves. Sets sim_pid,
# and sid and token: its demo account's (the one `seed --demo --simulator` registers).
start_sim() {
  "$bin" sim --bind "127.0.0.1:$PORT" --mps 1000000 --max-concurrent 100000 --seed 1 "$@" >"$work/sim.log" 2>&1 &
  sim_pid=$!; pids+=("$sim_pid")
  for _ in $(seq 100); do grep -q "Create:" "$work/sim.log" && break; sleep 0.1; done
  # shellcheck disable=SC2034 # sid and token are the scripts' to use
  sid="$(awk '/Account SID:/ {print $3; exit}' "$work/sim.log")"
  # shellcheck disable=SC2034
  token="$(awk '/Auth token:/ {print $3; exit}' "$work/sim.log")"
}
stop_sim() { kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; }

drop_db() { psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; }

# fresh_db: $db anew, migrated, with the demo seed and the simulator's account on $PORT.
# AUTO_EXPLAIN_MS=N: every statement on $db slower than N ms logs its plan to the PostgreSQL
# server's log (auto_explain, loaded per session of that database; it goes with the database).
# That is how session 10 found the plans behind the 75 MPS slowdown (docs/benchmarks.md,
# "Pacing exactness: what the figures say").
fresh_db() {
  drop_db
  "$bin" migrate >/dev/null
  "$bin" seed --demo --simulator "http://127.0.0.1:$PORT" >/dev/null
  if [ -n "${AUTO_EXPLAIN_MS:-}" ]; then
    if ! [[ "$AUTO_EXPLAIN_MS" =~ ^[0-9]+$ ]]; then
      echo "AUTO_EXPLAIN_MS must be a whole number of milliseconds, not '$AUTO_EXPLAIN_MS'" >&2
      exit 2
    fi
    psql "$pg/postgres" -q -v ON_ERROR_STOP=1 \
      -c "ALTER DATABASE $db SET session_preload_libraries = 'auto_explain'" \
      -c "ALTER DATABASE $db SET auto_explain.log_min_duration = '${AUTO_EXPLAIN_MS}ms'" >/dev/null
    echo "==> plans of statements over ${AUTO_EXPLAIN_MS} ms go to $(psql "$pg/postgres" -Atc "SELECT coalesce(pg_current_logfile(), 'the server log (stderr)')")"
  fi
}

# seed_campaign ID ROWS: numbers at 5,000 MPS and no account caps, the demo's campaigns
# completed, and a draft campaign ID (materialized, started) of ROWS new leads tagged `bench`
# over ten area codes, each queued from one of the demo account's ten numbers, open all day.
seed_campaign() {
  psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 <<SQL >/dev/null
UPDATE phone_numbers SET mps = 5000;
UPDATE carrier_accounts SET mps_cap = NULL, daily_cap = NULL;
UPDATE campaigns SET status = 'completed';
INSERT INTO campaigns (workspace_id, id, name, status, steps, started_at, materialized_at)
  SELECT id, '$1', 'Bench', 'draft', '[{"after_days": 0, "templates": ["Hi"]}]', now(), now()
  FROM workspaces WHERE slug = 'demo';
INSERT INTO leads (workspace_id, id, tags, phone)
  SELECT w.id, gen_random_uuid(), ARRAY['bench'],
         '+1' || (ARRAY['415','212','305','312','713','206','617','404','602','303'])[1 + g % 10] || (2000000 + g / 10)::text
  FROM workspaces w, generate_series(1, $2) g WHERE w.slug = 'demo';
INSERT INTO outbox (workspace_id, campaign_id, lead_id, to_phone, to_key, from_number, body, window_start, window_end)
  SELECT l.workspace_id, '$1', l.id, l.phone, substr(l.phone, 2)::bigint,
         '+1201555010' || (abs(hashtext(l.phone)) % 10)::text, 'Hi there, this is a benchmark message.', '00:00', '24:00'
  FROM leads l JOIN workspaces w ON w.id = l.workspace_id WHERE w.slug = 'demo' AND 'bench' = ANY(l.tags);
INSERT INTO campaign_stats (workspace_id, campaign_id, metric, n)
  SELECT id, '$1', 'materialized', $2 FROM workspaces WHERE slug = 'demo';
VACUUM ANALYZE outbox;
SQL
}

# start_app [VAR=value ...]: `switchboard serve` on 127.0.0.1:$APP_PORT, which is its public URL
# too (the simulator's webhooks are signed for it), with the variables given, logging to
# $work/app.log; returns once it is ready (or after 20 s). Sets app (its pid).
start_app() {
  env BIND="127.0.0.1:$APP_PORT" PUBLIC_URL="http://127.0.0.1:$APP_PORT" "$@" "$bin" serve >"$work/app.log" 2>&1 &
  app=$!; pids+=("$app")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$APP_PORT/readyz" >/dev/null && break; sleep 0.2; done
}
stop_app() { kill "$app"; wait "$app" 2>/dev/null || true; }

ticks() { # the user+system clock ticks (CPU time) of the given pids, summed, from /proc
  local t=0 p
  for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat") )); done
  echo "$t"
}

# whole_numbers NAME...: exits with a message unless each named variable is a whole number > 0.
whole_numbers() {
  local name
  for name in "$@"; do
    [[ "${!name}" =~ ^[1-9][0-9]*$ ]] || { echo "$name must be a whole number above 0, not '${!name}'" >&2; exit 2; }
  done
}

# sim_stats EXPR: a Python expression over the simulator's /sim/stats (`s`) on $PORT, e.g.
# `sim_stats 's["accepted"]'`.
sim_stats() { curl -s "http://127.0.0.1:$PORT/sim/stats" | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }

# write_section TEXT: TEXT, which opens with its "## " heading, replaces that section of
# docs/benchmarks.md (up to the next "## " heading), or is appended when there is none.
write_section() {
  python3 - "$1" <<'PY'
import re, sys, pathlib
doc = pathlib.Path("docs/benchmarks.md")
text = doc.read_text()
section = sys.argv[1].strip() + "\n"
heading = section.splitlines()[0]
pattern = re.compile(re.escape(heading) + r"\n.*?(?=\n## |\Z)", re.S)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
doc.write_text(text)
PY
  echo "==> docs/benchmarks.md updated"
}
