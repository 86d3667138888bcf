-- One history table. A recipient's history is the union of its pair rows: the pair primary key
-- (workspace_id, their_number, our_number) already orders a recipient's pairs together, so one
-- range scan of it answers the pair cooldown, the recipient cooldown and the FL/OK 3-per-24 h
-- count at once. Until now every send also upserted a `recipient_history` row: a third write per
-- send in the "record, then call" step, ~45% of its time (docs/benchmarks.md, "Send-log writes").
--
-- `recent_sends`: the pair's three most recent send times, newest first. Summed over a
-- recipient's pairs, the sends inside the last 24 hours are exact up to three, the strictest
-- daily limit there is (Florida and Oklahoma); above three the sum may count more than the old
-- per-recipient list did, never fewer.
ALTER TABLE pair_history ADD COLUMN recent_sends timestamptz[];
UPDATE pair_history SET recent_sends = ARRAY[last_sent_at];
-- The last day's sends per pair from the send log, which records every attempt.
UPDATE pair_history p SET recent_sends = r.sends
FROM (SELECT workspace_id, to_phone, from_number, (array_agg(attempted_at ORDER BY attempted_at DESC))[1:3] AS sends
      FROM send_log WHERE attempted_at > now() - interval '24 hours'
      GROUP BY workspace_id, to_phone, from_number) r
WHERE p.workspace_id = r.workspace_id AND p.their_number = r.to_phone AND p.our_number = r.from_number;
ALTER TABLE pair_history ALTER COLUMN recent_sends SET NOT NULL;

DROP TABLE recipient_history;

-- The per-recipient view of the pair rows, with the old table's columns: for ad-hoc questions and
-- for 0007's original gate, which `tests/send_verdict.rs` keeps as the reference. The engine reads
-- `pair_history` itself. A filter on workspace_id and their_number is pushed below the GROUP BY:
-- one range scan of the pair primary key.
CREATE VIEW recipient_history AS
SELECT p.workspace_id, p.their_number, max(p.last_sent_at) AS last_sent_at,
       (array_agg(t.at ORDER BY t.at DESC))[1:3] AS recent_sends
FROM pair_history p CROSS JOIN LATERAL unnest(p.recent_sends) AS t(at)
GROUP BY p.workspace_id, p.their_number;

-- How many of a pair's recent sends (three at most, newest first) are later than `since`. An
-- expression PostgreSQL inlines, not a subquery over unnest: the gate's aggregate computes it for
-- every pair row it reads, whether or not a daily limit applies, and a subquery there is a
-- subplan run per row.
CREATE FUNCTION recent_count(recent timestamptz[], since timestamptz) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (coalesce(recent[1] > since, false))::integer + (coalesce(recent[2] > since, false))::integer
         + (coalesce(recent[3] > since, false))::integer
$$;

-- `judge_send` (0011) with its two history probes folded into one scan of the recipient's pairs.
-- Same reasons in the same order: the pair cooldown (this pair), then the recipient cooldown (any
-- pair), then the daily limit (sends inside 24 h over all pairs).
CREATE OR REPLACE FUNCTION judge_send(ws uuid, to_phone text, to_key bigint, from_number text, step smallint,
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
        (SELECT CASE
                    WHEN step = 0 AND bool_or(p.our_number = from_number
                                              AND p.last_sent_at > at - make_interval(days => pair_days))
                        THEN 'pair_cooldown'
                    WHEN step = 0 AND max(p.last_sent_at) > at - make_interval(days => recipient_days)
                        THEN 'recipient_cooldown'
                    WHEN max_per_24h IS NOT NULL
                         AND sum(recent_count(p.recent_sends, at - interval '24 hours')) >= max_per_24h
                        THEN 'daily_limit'
                END
           FROM pair_history p WHERE p.workspace_id = ws AND p.their_number = to_phone),
        CASE WHEN max_per_24h <= 0 THEN 'daily_limit' END,
        CASE WHEN NOT window_open(at, tz, days, start_time, end_time) THEN 'outside_hours' END
    )
$$;

-- `screen_sends` (0015) with the same fold: one scan of the recipient's pairs per message, only
-- for messages no earlier reason decided.
CREATE OR REPLACE FUNCTION screen_sends(ws uuid, to_phones text[], to_keys bigint[], from_numbers text[], tzs text[],
                             window_days smallint[], start_times time[], end_times time[], limits_24h smallint[],
                             step smallint, recipient_days integer, pair_days integer, at timestamptz)
RETURNS TABLE (ord bigint, verdict text) LANGUAGE sql STABLE AS $$
    -- `screen_sends.at`: a bare `at` would name undeliverable_numbers' column of that name.
    SELECT m.ord, COALESCE(
        CASE WHEN x.phone IS NOT NULL THEN 'opted_out' END,
        (SELECT 'dnc' FROM dnc_entries d
          WHERE d.workspace_id = ws AND d.hi >= m.to_key AND d.lo <= m.to_key
            AND d.lo >= m.to_key - (SELECT max(w.hi - w.lo) FROM dnc_entries w WHERE w.workspace_id = ws)
          LIMIT 1),
        u.reason,
        (SELECT CASE
                    WHEN step = 0 AND bool_or(p.our_number = m.from_number
                                              AND p.last_sent_at > screen_sends.at - make_interval(days => pair_days))
                        THEN 'pair_cooldown'
                    WHEN step = 0 AND max(p.last_sent_at) > screen_sends.at - make_interval(days => recipient_days)
                        THEN 'recipient_cooldown'
                    WHEN m.max_per_24h IS NOT NULL
                         AND sum(recent_count(p.recent_sends, screen_sends.at - interval '24 hours')) >= m.max_per_24h
                        THEN 'daily_limit'
                END
           FROM pair_history p WHERE p.workspace_id = ws AND p.their_number = m.to_phone),
        CASE WHEN m.max_per_24h <= 0 THEN 'daily_limit' END,
        CASE WHEN NOT window_open(screen_sends.at, m.tz, m.days, m.start_time, m.end_time) THEN 'outside_hours' END
    )
    FROM (SELECT unnest(to_phones) AS to_phone, unnest(to_keys) AS to_key, unnest(from_numbers) AS from_number,
                 unnest(tzs) AS tz, unnest(window_days) AS days, unnest(start_times) AS start_time,
                 unnest(end_times) AS end_time, unnest(limits_24h) AS max_per_24h,
                 -- Numbered like `unnest(...) WITH ORDINALITY`: as many rows as the longest array.
                 generate_series(1::bigint, greatest(cardinality(to_phones), cardinality(to_keys),
                     cardinality(from_numbers), cardinality(tzs), cardinality(window_days), cardinality(start_times),
                     cardinality(end_times), cardinality(limits_24h))) AS ord
          ORDER BY to_key) m
    LEFT JOIN opt_outs x ON x.workspace_id = ws AND x.phone = m.to_phone
    LEFT JOIN undeliverable_numbers u ON u.workspace_id = ws AND u.phone = m.to_phone
    ORDER BY m.ord
$$;
