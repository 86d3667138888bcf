#!/usr/bin/env bash
# Pacing exactness, one command: the engine sends a campaign spread evenly over 200 numbers of
# one simulated account, at 1, 3 and 75 MPS per number in turn. From the simulator's own record
# of accepted creates: the busiest 1-second window of every number (must never exceed its MPS)
# and the share of capacity used (sends / (numbers x MPS x seconds from first to last send)).
# The simulator itself does not throttle (its per-number rate is set far above the test's).
# Figures go into docs/benchmarks.md ("Pacing exactness").
#
#   loadtests/bench-pacing.sh      # SECONDS_AT_RATE=30 NUMBERS=200 RATES="1 3 75"
source "$(dirname "${BASH_SOURCE[0]}")/bench-engine-lib.sh"
: "${SECONDS_AT_RATE:=30}" "${NUMBERS:=200}" "${RATES:=1 3 75}" "${PORT:=4031}" "${APP_PORT:=18091}"

engine_bench_setup switchboard_bench_pacing 5c
with_autovacuum

# The demo account of seed 1 (the one `seed --demo --simulator` registers), with NUMBERS numbers:
# a first start tells its SID and auth token.
start_sim --no-callbacks
stop_sim
numbers="$(python3 -c "print(', '.join('{ number = \"+1201200%04d\" }' % i for i in range($NUMBERS)))")"
cat >"$work/sim.toml" <<TOML
bind = "127.0.0.1:$PORT"
seed = 1
default_mps = 100000.0
max_concurrent_requests = 100000
pair_limit = 1000000

[[accounts]]
sid = "$sid"
auth_token = "$token"
numbers = [$numbers]

[callbacks]
enabled = false
TOML
"$bin" sim --config "$work/sim.toml" >"$work/sim.log" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/sim/stats" >/dev/null && break; sleep 0.1; done

fresh_db
psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 <<SQL >/dev/null
UPDATE campaigns SET status = 'completed';
UPDATE carrier_accounts SET mps_cap = NULL, daily_cap = NULL;
DELETE FROM phone_numbers WHERE e164 LIKE '+1201555%';
INSERT INTO phone_numbers (workspace_id, id, e164, account_id, area_code, state)
  SELECT a.workspace_id, gen_random_uuid(), '+1201200' || lpad(g::text, 4, '0'), a.id, '201', 'NJ'
  FROM carrier_accounts a, generate_series(0, $NUMBERS - 1) g;
SQL

start_app ENGINE_STATUS_CALLBACKS=false

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
rows_md=""
i=0
for rate in $RATES; do
  i=$((i + 1))
  campaign="00000000-0000-0000-0000-00000000b0$(printf '%02d' "$i")"
  per_number=$((rate * SECONDS_AT_RATE))
  curl -sf -X POST "http://127.0.0.1:$PORT/sim/reset" >/dev/null
  psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 <<SQL >/dev/null
UPDATE phone_numbers SET mps = $rate;
INSERT INTO campaigns (workspace_id, id, name, status, steps, started_at, materialized_at)
  SELECT id, '$campaign', 'Pacing $rate MPS', 'draft', '[{"after_days": 0, "templates": ["Hi"]}]', now(), now()
  FROM workspaces WHERE slug = 'demo';
WITH n AS (SELECT p.workspace_id, p.e164, row_number() OVER (ORDER BY p.e164)::int - 1 AS k
           FROM phone_numbers p JOIN workspaces w ON w.id = p.workspace_id WHERE w.slug = 'demo'),
     src AS (SELECT n.workspace_id, n.e164 AS from_number,
                    '+1' || (ARRAY['415','212','305','312','713','206','617','404','602','303'])[1 + n.k % 10]
                         || (2000000 + (($i - 1) * 20 + n.k / 10) * 2500 + s)::text AS phone
             FROM n, generate_series(1, $per_number) s),
     l AS (INSERT INTO leads (workspace_id, id, tags, phone)
           SELECT workspace_id, gen_random_uuid(), ARRAY['pacing$i'], phone FROM src
           RETURNING workspace_id, id, phone)
INSERT INTO outbox (workspace_id, campaign_id, lead_id, to_phone, to_key, from_number, body, window_start, window_end)
  SELECT l.workspace_id, '$campaign', l.id, l.phone, substr(l.phone, 2)::bigint, src.from_number,
         'Pacing benchmark message.', '00:00', '24:00'
  FROM l JOIN src ON src.phone = l.phone;
UPDATE campaigns SET status = 'running' WHERE id = '$campaign';
SQL
  echo "==> $rate MPS x $NUMBERS numbers, $per_number messages each"
  # Done when the campaign's queue is empty. PostgreSQL is asked only once the simulator's count
  # of creates has reached the campaign's size or stopped rising: counting the queue reads the
  # campaign's rows (0.12 s at 75 MPS), CPU the engine would lose every second of the run.
  accepted0="$(sim_stats 's["accepted"]')"; accepted_last=-1
  for _ in $(seq $((SECONDS_AT_RATE * 20 + 120))); do
    sleep 1
    accepted="$(sim_stats 's["accepted"]')"
    if [ $((accepted - accepted0)) -ge $((NUMBERS * per_number)) ] || [ "$accepted" = "$accepted_last" ]; then
      left="$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM outbox WHERE campaign_id = '$campaign' AND state IN ('queued', 'claimed')")"
      [ "$left" = "0" ] && break
    fi
    accepted_last=$accepted
  done
  curl -s "http://127.0.0.1:$PORT/sim/record" >"$work/record.json"
  line="$(python3 - "$work/record.json" "$rate" "$NUMBERS" "$per_number" <<'PY'
import json, sys, collections
record, rate, numbers, per_number = json.load(open(sys.argv[1])), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
by = collections.defaultdict(list)
for r in record:
    by[r["from"]].append(r["accepted_at_ms"])
over, busiest, used = 0, 0, []
for times in by.values():
    times.sort()
    lo = 0
    for hi in range(len(times)):
        while times[hi] - times[lo] >= 1000:
            lo += 1
        busiest = max(busiest, hi - lo + 1)
    # windows over the rate: every 1-second window starting at a send
    j = 0
    for s in range(len(times)):
        while j < len(times) and times[j] - times[s] < 1000:
            j += 1
        if j - s > rate:
            over += 1
    span = (times[-1] - times[0]) / 1000.0
    if len(times) > 1 and span > 0:
        used.append((len(times) - 1) / (rate * span))
share = sum(used) / len(used) if used else 0.0
gaps = sorted(b - a for times in by.values() for a, b in zip(times, times[1:]))
if gaps:
    print(f"gaps between a number's sends (ms): min {gaps[0]}, p1 {gaps[len(gaps) // 100]}, "
          f"p50 {gaps[len(gaps) // 2]}, planned {1000 / rate:.1f}", file=sys.stderr)
    short = collections.Counter(k for times in by.values() for k, (a, b) in enumerate(zip(times, times[1:]))
                                if b - a < 1000 / rate)
    print(f"gaps shorter than planned, by position in the number's sequence: {sorted(short.items())[:8]}",
          file=sys.stderr)
expected = numbers * per_number
print(f"| {rate:g} | {len(by)} | {len(record)} of {expected} | {busiest} | {over} | {share:.1%} |")
PY
)"
  echo "$line"
  rows_md+="$line"$'\n'
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

section="$(cat <<MD
## Pacing exactness

\`loadtests/bench-pacing.sh\` (SECONDS_AT_RATE=$SECONDS_AT_RATE), $(date -u +%Y-%m-%d), $(nproc) cores, load $load_before → $load_after.
One engine instance (in-process pacing), $NUMBERS numbers of one simulated account, each at the
rate below, a campaign of rate × $SECONDS_AT_RATE messages per number (single-segment bodies).
From the simulator's record: the busiest 1-second window of any number, how many 1-second
windows (one starting at every send) held more than the rate, and the capacity each number used
between its first and last send (mean over numbers; (sends − 1) / (rate × span)).

| MPS per number | numbers that sent | messages | busiest 1-s window | windows over rate | capacity used |
|---|---|---|---|---|---|
$rows_md
Targets: zero windows over the rate, ≥95% of capacity used.
MD
)"
write_section "$section"
