-- `screen_sends`: the gate of `judge_send` (0011) for a whole list of messages in one statement —
-- the campaign preview's question. Same arguments as `judge_send`, the per-message ones as
-- parallel arrays (one element per message; `step`, the retext days and `at` are the same for
-- all), and the same answer for every message: the same reasons in the same order, NULL to send
-- (`tests/send_verdict.rs` compares it with `judge_send` over every combination the gate
-- distinguishes). One row per message, `ord` its 1-based position in the arrays, in that order.
--
-- What it does as sets, and what it leaves per message (docs/benchmarks.md, "Send log and
-- cooldown gate: what the figures say", with the plans measured on 10M recipients' history):
-- - The messages are unnested once, streamed (`unnest` in the select list; in FROM, PostgreSQL
--   copies the arrays into a tuplestore first) and sorted by phone key, so every index below
--   is walked in its own order: neighbouring probes share pages and each page is read once.
-- - Opt-outs and undeliverable numbers are joined: PostgreSQL hashes the workspace's list once,
--   or probes its primary key per message when the list is the larger side (the preview's
--   generic plan assumes ~1,000 messages; a short list pays for hashing the whole list).
-- - Pair and recipient history stay one primary-key probe each, as scalar subqueries inside the
--   COALESCE, so they run only for messages no earlier reason decided. Joined as sets they are
--   slower: a hash join reads the whole history (10M rows: 7.7 s) and a merge join sorts it
--   (11 s), against ~1.2 s for 100k ordered probes.
-- - DNC keeps `judge_send`'s probe bounded by the widest entry. A multirange of the workspace's
--   entries (`range_agg`, then `@>` per message) answers 100k messages ~0.15 s sooner with
--   1,100 entries, but builds in ~4 s from 1M entries, a list the CSV import can make.
CREATE FUNCTION screen_sends(ws uuid, to_phones text[], to_keys bigint[], from_numbers text[], tzs text[],
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
        (SELECT 'pair_cooldown' FROM pair_history p
          WHERE step = 0 AND p.workspace_id = ws AND p.their_number = m.to_phone AND p.our_number = m.from_number
            AND p.last_sent_at > screen_sends.at - make_interval(days => pair_days)),
        (SELECT CASE
                    WHEN step = 0 AND r.last_sent_at > screen_sends.at - make_interval(days => recipient_days)
                        THEN 'recipient_cooldown'
                    WHEN m.max_per_24h IS NOT NULL
                         AND (SELECT count(*) FROM unnest(r.recent_sends) t
                               WHERE t > screen_sends.at - interval '24 hours') >= m.max_per_24h
                        THEN 'daily_limit'
                END
           FROM recipient_history r WHERE r.workspace_id = ws AND r.their_number = m.to_phone),
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
