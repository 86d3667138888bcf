#!/usr/bin/env bash
# STOP webhook → engine fenced, one command. While the engine sends a campaign at full rate
# through the simulator (status callbacks on: the webhook route and the database are busy), a
# client posts STOPS inbound STOP webhooks, signed as Twilio signs them, from the campaign's
# recipients, at random moments spread over DURATION seconds, each on a new connection. Before
# that, for comparison: IDLE_STOPS over IDLE_DURATION seconds before the campaign starts, then
# ENGINE_STOPS over ENGINE_DURATION seconds with the campaign sending but no status callbacks.
# For each STOP: the end-to-end time from just before the client's POST to the moment the
# engine's in-memory opt-out set holds the phone (the engine logs that moment at DEBUG, "engine:
# opt-out fenced", sender/src/engine/opt_out_set.rs; client and server read the same clock), the
# server-side part (from the webhook's receipt, the same log line; also the histogram
# switchboard_engine_fence_seconds on /metrics) and the webhook's response time.
# Figures go into docs/benchmarks.md ("STOP to fence").
#
#   loadtests/bench-stop-fence.sh   # DURATION=60 STOPS=480 (also IDLE_/ENGINE_DURATION, _STOPS; WARMUP; ROWS)
source "$(dirname "${BASH_SOURCE[0]}")/bench-engine-lib.sh"
: "${DURATION:=60}" "${STOPS:=480}" "${IDLE_DURATION:=10}" "${IDLE_STOPS:=80}" "${ENGINE_DURATION:=15}"
: "${ENGINE_STOPS:=120}" "${WARMUP:=10}" "${ROWS:=700000}"
: "${PORT:=4033}" "${APP_PORT:=18093}"

engine_bench_setup switchboard_bench_stop_fence 5d
campaign="00000000-0000-0000-0000-00000000be05"
started="$(date +%s)"

start_sim --callback-delay-ms 10 --delivery-delay-ms 50
sim_stat() { curl -s "http://127.0.0.1:$PORT/sim/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

echo "==> database: demo seed and a campaign of $ROWS recipients"
fresh_db
seed_campaign "$campaign" "$ROWS"
# Who texts STOP: recipients of the campaign, drawn at random (some already texted by the time
# they stop, some not yet), each to the number that texts them; and the account's webhook.
psql "$DATABASE_URL" -AtF' ' -c "SELECT to_phone, from_number FROM outbox WHERE campaign_id = '$campaign'
  ORDER BY random() LIMIT $((5 + IDLE_STOPS + ENGINE_STOPS + STOPS))" >"$work/stoppers.txt"
sed -n "1,5p" "$work/stoppers.txt" >"$work/warm.txt"
sed -n "6,$((5 + IDLE_STOPS))p" "$work/stoppers.txt" >"$work/idle.txt"
sed -n "$((6 + IDLE_STOPS)),$((5 + IDLE_STOPS + ENGINE_STOPS))p" "$work/stoppers.txt" >"$work/engine.txt"
sed -n "$((6 + IDLE_STOPS + ENGINE_STOPS)),\$p" "$work/stoppers.txt" >"$work/full.txt"
hook="$(psql "$DATABASE_URL" -Atc "SELECT '/webhooks/twilio/' || workspace_id || '/' || id || '/inbound'
  FROM carrier_accounts WHERE account_sid = '$sid'")"

# The client: each STOP at a uniformly random moment of its slot, on its own connection, with
# Twilio's inbound parameters and X-Twilio-Signature (base64 HMAC-SHA1 of the URL followed by
# every parameter name and value, sorted by name, keyed with the auth token). One JSON line each.
cat >"$work/client.py" <<'CLIENT'
import base64, hashlib, hmac, http.client, json, random, sys, threading, time, urllib.parse, uuid
from concurrent.futures import ThreadPoolExecutor

port, path, sid, token, duration, stoppers, out = sys.argv[1:8]
port, duration = int(port), float(duration)
pairs = [line.split() for line in open(stoppers) if line.strip()]
url = f"http://127.0.0.1:{port}{path}"
slot = duration / len(pairs)
start = time.time() + 0.5
lock = threading.Lock()
results = open(out, "w")

def stop(i, phone, ours):
    msid = "SM" + uuid.uuid4().hex
    params = {
        "ToCountry": "US", "ToState": "NJ", "SmsMessageSid": msid, "NumMedia": "0", "ToCity": "JERSEY CITY",
        "FromZip": "", "SmsSid": msid, "FromState": "", "SmsStatus": "received", "FromCity": "", "Body": "STOP",
        "FromCountry": "US", "To": ours, "ToZip": "07302", "NumSegments": "1", "MessageSid": msid,
        "AccountSid": sid, "From": phone, "ApiVersion": "2010-04-01",
    }
    signed = url + "".join(k + params[k] for k in sorted(params))
    signature = base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()
    body = urllib.parse.urlencode(params)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature,
               "User-Agent": "TwilioProxy/1.1"}
    time.sleep(max(0.0, start + (i + random.random()) * slot - time.time()))
    sent = time.time_ns()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body, headers)
        resp = conn.getresponse()
        answer = resp.read().decode()
        status = resp.status
    except Exception as e:  # a failed STOP is reported, not hidden
        status, answer = 0, repr(e)
    finally:
        conn.close()
    answered = time.time_ns()
    with lock:
        results.write(json.dumps({"phone": phone, "sent_ns": sent, "answered_ns": answered, "status": status,
                                  "confirmed": "unsubscribed" in answer}) + "\n")

with ThreadPoolExecutor(max_workers=32) as pool:
    for i, (phone, ours) in enumerate(pairs):
        pool.submit(stop, i, phone, ours)
results.close()
CLIENT

start_app ENGINE_STATUS_CALLBACKS=true RUST_LOG="warn,switchboard_sender::engine::opt_out_set=debug"
sim_callbacks() { # on|off: for messages created from now on (as bench-send.sh: 10 ms to sent, 50 more to delivered)
  curl -sf -d "{\"callbacks\": {\"enabled\": $([ "$1" = on ] && echo true || echo false), \"sent_delay_ms\": 10, \"delivery_delay_ms\": 50}}" \
    "http://127.0.0.1:$PORT/sim/config" >/dev/null
}
phase() { # name, seconds, stoppers: STOPs over the phase, and the simulator's counts meanwhile
  local c0 cb0 t0 c1 cb1 t1
  c0="$(sim_stat accepted)"; cb0="$(sim_stat callbacks_posted)"; t0="$(date +%s.%N)"
  python3 "$work/client.py" "$APP_PORT" "$hook" "$sid" "$token" "$2" "$3" "$work/$1.jsonl"
  c1="$(sim_stat accepted)"; cb1="$(sim_stat callbacks_posted)"; t1="$(date +%s.%N)"
  eval "$1_rate=$(python3 -c "print(int(($c1 - $c0) / ($t1 - $t0)))")"
  eval "$1_callbacks=$(python3 -c "print(int(($cb1 - $cb0) / ($t1 - $t0)))")"
}

sim_callbacks off
# Not measured: the first requests after start open the database pool's connections (the very
# first STOP takes ~150 ms that way, the next ones a few ms).
phase warm 1 "$work/warm.txt"
echo "==> idle: $IDLE_STOPS STOPs over ${IDLE_DURATION}s, nothing sending"
phase idle "$IDLE_DURATION" "$work/idle.txt"
psql "$DATABASE_URL" -qc "UPDATE campaigns SET status = 'running' WHERE id = '$campaign'"
echo "==> campaign running, status callbacks off; ${WARMUP}s warm-up"
sleep "$WARMUP"
echo "==> engine: $ENGINE_STOPS STOPs over ${ENGINE_DURATION}s while the campaign sends, no status callbacks"
phase engine "$ENGINE_DURATION" "$work/engine.txt"
sim_callbacks on
sleep 5 # callbacks of the messages sent from now on start arriving
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "==> full: $STOPS STOPs over ${DURATION}s while the campaign sends, status callbacks on"
phase full "$DURATION" "$work/full.txt"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
sleep 2 # the last STOPs' fences
curl -s "http://127.0.0.1:$APP_PORT/metrics" >"$work/metrics.txt"
queued="$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM outbox WHERE campaign_id = '$campaign' AND state = 'queued'")"
opt_outs="$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM opt_outs WHERE source = 'keyword'")"
stop_app
drop_db
[ "$queued" -gt 0 ] || { echo "the campaign ran out of recipients during the run: raise ROWS" >&2; exit 1; }

# Joins the client's records with the engine's log; the figures as shell assignments
# (<phase>_<interval>_<quantile>, in ms).
eval "$(python3 - "$work/app.log" "$work/metrics.txt" "$work" <<'ANALYSIS'
import json, re, sys

# Per phone, the first fence of each kind: "webhook" is the receiving instance's own, before its
# commit; "notify" comes from the consent notification after the commit (what every other
# instance sees; lines without `via` predate the early fence).
fenced = {"webhook": {}, "notify": {}}
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("message") == "engine: opt-out fenced":
        fenced[e.get("via", "notify")].setdefault(e["phone"], e)

def pct(values, p):  # nearest rank
    s = sorted(values)
    return s[max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))] if s else float("nan")

for phase in ("idle", "engine", "full"):
    client = [json.loads(line) for line in open(f"{sys.argv[3]}/{phase}.jsonl")]
    ok = [r for r in client if r["status"] == 200]
    early = [(r, fenced["webhook"][r["phone"]]) for r in ok if r["phone"] in fenced["webhook"]]
    both = [(r, fenced["notify"][r["phone"]]) for r in ok if r["phone"] in fenced["notify"]]
    series = {
        "e2e": [e["applied_at_us"] / 1000 - r["sent_ns"] / 1e6 for r, e in early],
        "srv": [e["lag_us"] / 1000 for _, e in early],
        "ne2e": [e["applied_at_us"] / 1000 - r["sent_ns"] / 1e6 for r, e in both],
        "nsrv": [e["lag_us"] / 1000 for _, e in both],
        "resp": [(r["answered_ns"] - r["sent_ns"]) / 1e6 for r in ok],
    }
    for name, values in series.items():
        for label, p in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100)):
            print(f"{phase}_{name}_{label}={pct(values, p):.1f}")
    late = [x for x in (e["applied_at_us"] / 1000 - r["answered_ns"] / 1e6 for r, e in both) if x > 0]
    print(f"{phase}_sent={len(client)} {phase}_ok={len(ok)} {phase}_confirmed={sum(r['confirmed'] for r in ok)}"
          f" {phase}_early={len(early)} {phase}_fenced={len(both)} {phase}_late={len(late)} {phase}_late_max={max(late, default=0):.1f}")

# The exporter's rolling summaries (their last <=60 s: the full phase): the fence histogram as a
# cross-check, and how the webhook routes answered meanwhile (server side).
quantile = re.compile(r'^(\w+)\{(.*)quantile="([0-9.]+)"\} (\S+)$')
prom = {}
for line in open(sys.argv[2]):
    m = quantile.match(line.strip())
    if not m:
        continue
    name, labels, q, value = m.groups()
    if name == "switchboard_engine_fence_seconds" and 'source="keyword"' in labels and 'via="notify"' in labels:
        prom[f"prom_fence_{q}"] = float(value) * 1000
    for route in ("inbound", "status"):
        if name == "switchboard_http_request_seconds" and f'/{route}",' in labels and 'status="200"' in labels:
            prom[f"prom_{route}_{q}"] = float(value) * 1000
for key in ("prom_fence", "prom_inbound", "prom_status"):
    print(" ".join(f"{key}_{label}={prom.get(f'{key}_{q}', float('nan')):.1f}"
                   for label, q in (("p50", "0.5"), ("p99", "0.99"), ("max", "1"))))
ANALYSIS
)"
wall=$(( $(date +%s) - started ))
for phase in idle engine full; do
  v() { eval "echo \${${phase}_$1}"; }
  echo "$phase: $(v sent) STOPs, $(v ok) answered 200 ($(v confirmed) confirmed)," \
    "$(v early) fenced by the receiving instance, $(v fenced) by notification;" \
    "$(v rate) sends/s, $(v callbacks) status callbacks/s"
  echo "  receiving instance, sent → fenced (ms):  p50 $(v e2e_p50)  p95 $(v e2e_p95)  p99 $(v e2e_p99)  max $(v e2e_max)"
  echo "  receiving instance, received → fenced:   p50 $(v srv_p50)  p95 $(v srv_p95)  p99 $(v srv_p99)  max $(v srv_max)"
  echo "  by notification, sent → fenced (ms):     p50 $(v ne2e_p50)  p95 $(v ne2e_p95)  p99 $(v ne2e_p99)  max $(v ne2e_max)"
  echo "  by notification, received → fenced (ms): p50 $(v nsrv_p50)  p95 $(v nsrv_p95)  p99 $(v nsrv_p99)  max $(v nsrv_max)"
  echo "  response (ms):          p50 $(v resp_p50)  p95 $(v resp_p95)  p99 $(v resp_p99)  max $(v resp_max)"
  echo "  fenced after the webhook had answered: $(v late) (by at most $(v late_max) ms)"
done
echo "wall ${wall}s after the build"
all=$((IDLE_STOPS + ENGINE_STOPS + STOPS))
if [ "$((idle_fenced + engine_fenced + full_fenced))" -ne "$all" ] \
  || [ "$((idle_early + engine_early + full_early))" -ne "$all" ] || [ "$opt_outs" -ne "$((5 + all))" ]; then
  echo "WARNING: not every STOP was answered, stored and fenced" >&2
fi

row() { # phase, label, series prefix ("" the receiving instance, "n" by notification), fenced count
  local p="$1" s="$3"
  eval "echo \"| $2 | \${${p}_${s}e2e_p50} | \${${p}_${s}e2e_p95} | \${${p}_${s}e2e_p99} | \${${p}_${s}e2e_max} | \${${p}_${s}srv_p99} | \${${p}_resp_p50} | \${${p}_resp_p99} | \${${p}_ok} / \${${p}_$4} of \${${p}_sent} |\""
}
section="$(cat <<MD
## STOP to fence

\`loadtests/bench-stop-fence.sh\` (DURATION=${DURATION} STOPS=${STOPS} ROWS=${ROWS}), $(date -u +%Y-%m-%d), $(nproc) cores, load $load_before → $load_after during the full phase.
One instance (engine in the server process, no Redis), the simulator on the same box. Each STOP
comes from a campaign recipient, signed as Twilio signs it, posted at a uniformly random moment
of its own slot, on a new connection. Three phases, one after the other:

- **full** — the engine sends a campaign at full rate, $full_rate sends/s, and the simulator posts
  their status callbacks to our webhook ($full_callbacks/s: its default of 32 in flight, the
  route's pace); $STOPS STOPs over ${DURATION} s; $queued recipients still queued at the end;
- **engine** — the same campaign at $engine_rate sends/s with no status callbacks; $ENGINE_STOPS STOPs over ${ENGINE_DURATION} s;
- **idle** — before the campaign starts; $IDLE_STOPS STOPs over ${IDLE_DURATION} s (after 5 unmeasured ones
  that open the database pool's connections: the first STOP after start takes ~150 ms).

| phase, fenced by | sent → fenced p50 | p95 | **p99** | max | received → fenced p99 | response p50 | response p99 | answered / fenced |
|---|---|---|---|---|---|---|---|---|
$(row full "**full** (campaign + callbacks), the receiving instance" "" early)
$(row full "**full**, by notification (every other instance)" n fenced)
$(row engine "engine (campaign, no callbacks), the receiving instance" "" early)
$(row engine "engine, by notification" n fenced)
$(row idle "idle, the receiving instance" "" early)
$(row idle "idle, by notification" n fenced)

Milliseconds. Target: sent → fenced p99 < 100 ms in the full phase. $opt_outs opt-outs stored (5 of them warm-up).

What is measured. *Sent*: the client's clock just before it opens the connection and POSTs.
*Received*: the webhook handler's first statement (request read, signature not yet checked),
stored as the opt-out's \`opted_out_at\`. *Fenced*: the engine's clock just after the phone is in
its in-memory opt-out set, logged at DEBUG as "engine: opt-out fenced" with how it got there:
*the receiving instance* puts it there itself once the signature checks out, before its
transaction (\`OptOutSet::fence_received\`); *by notification* is the \`consent\` notification
PostgreSQL sends on commit (\`OptOutSet::apply\`; migration 0012 adds \`opted_out_at\` and the
source to it), which is how every other instance hears of it — measured here on the receiving
instance, whose engine applies the notification too. Client and server run on one host and read the same clock. *Response*:
sent → the answer read by the client. The server-side interval is what every instance records as
\`switchboard_engine_fence_seconds{source, via}\` on /metrics. Read 2 s after the full phase, the
exporter's rolling summaries (they keep only their last 40–60 s, so they miss the phase's start)
said: fence by notification p50 $prom_fence_p50, p99 $prom_fence_p99, max $prom_fence_max ms; webhook routes, server side (p50 / p99 / max),
inbound $prom_inbound_p50 / $prom_inbound_p99 / $prom_inbound_max ms, status callbacks $prom_status_p50 / $prom_status_p99 / $prom_status_max ms. Fences that landed after the webhook had answered:
full $full_late (by at most $full_late_max ms), engine $engine_late ($engine_late_max), idle $idle_late ($idle_late_max) — the
notification leaves on commit and the answer goes out meanwhile; from the commit on, the claim
statement already excludes the phone.
MD
)"
write_section "$section"
