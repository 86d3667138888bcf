-- Cheaper writes and verdicts per message (docs/benchmarks.md, "Sender engine throughput").
--
-- `judge_send` is `send_verdict` (0008) as a one-row table function. PostgreSQL never inlines a
-- scalar SQL function whose body has subqueries, so every `send_verdict` call started its own
-- executor: ~18 us a row, most of the claim statement's time. A SQL table function called in
-- FROM (`CROSS JOIN LATERAL judge_send(...)`) is inlined into the calling statement: its
-- probes become the caller's subplans, ~3 us a row. The claim and the preview call it so;
-- `send_verdict` stays, answering from `judge_send`, for ad-hoc use and the equivalence test.
CREATE FUNCTION judge_send(ws uuid, to_phone text, to_key bigint, from_number text, step smallint,
                                        tz text, days smallint, start_time time, end_time time, max_per_24h smallint,
                                        recipient_days integer, pair_days integer, at timestamptz)
RETURNS TABLE (verdict text) LANGUAGE sql STABLE AS $$
    SELECT COALESCE(
        (SELECT 'opted_out' FROM opt_outs x WHERE x.workspace_id = ws AND x.phone = to_phone),
        (SELECT 'dnc' FROM dnc_entries d
          WHERE d.workspace_id = ws AND d.hi >= to_key AND d.lo <= to_key
            AND d.lo >= to_key - (SELECT max(w.hi - w.lo) FROM dnc_entries w WHERE w.workspace_id = ws)
          LIMIT 1),
        (SELECT u.reason FROM undeliverable_numbers u WHERE u.workspace_id = ws AND u.phone = to_phone),
        (SELECT 'pair_cooldown' FROM pair_history p
          WHERE step = 0 AND p.workspace_id = ws AND p.their_number = to_phone AND p.our_number = from_number
            AND p.last_sent_at > at - make_interval(days => pair_days)),
        (SELECT CASE
                    WHEN step = 0 AND r.last_sent_at > at - make_interval(days => recipient_days)
                        THEN 'recipient_cooldown'
                    WHEN max_per_24h IS NOT NULL
                         AND (SELECT count(*) FROM unnest(r.recent_sends) t WHERE t > at - interval '24 hours') >= max_per_24h
                        THEN 'daily_limit'
                END
           FROM recipient_history r WHERE r.workspace_id = ws AND r.their_number = to_phone),
        CASE WHEN max_per_24h <= 0 THEN 'daily_limit' END,
        CASE WHEN NOT window_open(at, tz, days, start_time, end_time) THEN 'outside_hours' END
    )
$$;

CREATE OR REPLACE FUNCTION send_verdict(ws uuid, to_phone text, to_key bigint, from_number text, step smallint,
                                        tz text, days smallint, start_time time, end_time time, max_per_24h smallint,
                                        recipient_days integer, pair_days integer, at timestamptz)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT verdict FROM judge_send(ws, to_phone, to_key, from_number, step, tz, days, start_time, end_time,
                                   max_per_24h, recipient_days, pair_days, at)
$$;

-- Fewer index entries per state change. Every outbox state change is a non-HOT update (state is
-- in the claim index's predicate), so each index gets a new entry per update unless a partial
-- index's predicate excludes the new row version:
-- - completion and cancel only ask for a campaign's open (queued or claimed) rows;
-- - the send log's "calling" rows are the only ones crash recovery asks about by outbox row;
-- - a send-log row has no sid until the carrier answered.
DROP INDEX outbox_campaign_state_idx;
CREATE INDEX outbox_campaign_open_idx ON outbox (workspace_id, campaign_id) WHERE state IN ('queued', 'claimed');
DROP INDEX send_log_outbox_idx;
CREATE INDEX send_log_calling_idx ON send_log (workspace_id, outbox_id) WHERE state = 'calling';
DROP INDEX send_log_sid_idx;
CREATE INDEX send_log_sid_idx ON send_log (workspace_id, sid) WHERE sid IS NOT NULL;

-- Room on each outbox page for a row's later versions: its state changes land on the same page,
-- and a status callback (which touches no indexed column) becomes a HOT update.
ALTER TABLE outbox SET (fillfactor = 70);

-- Claims in flight, for crash recovery's "claimed by a dead instance" sweep (every 2 s on the
-- leader). Without it the sweep walked every open row of every campaign: ~0.25 s a sweep with
-- 300k rows queued, an eighth of a core. `claimed_at IS NOT NULL` in the predicate is on purpose:
-- only a query bounding claimed_at (the sweep's `claimed_at < $1`) can use this index. The
-- recorder's per-row guards (`state = 'claimed' AND claimed_by = ...` beside a primary key)
-- must stay primary-key probes; statistics always call claimed rows rare, and a planner offered
-- this index scanned it once per row (5 s a batch).
CREATE INDEX outbox_claimed_idx ON outbox (claimed_at) WHERE state = 'claimed' AND claimed_at IS NOT NULL;
