-- The pair key carries each pair's last send time, so the retext cooldowns are answered from the
-- index alone (an index-only scan: no heap page per recipient while the visibility map says the
-- page is all-visible, which (auto)vacuum keeps so for history not written since). On 10M
-- recipients' history the heap page was a second page read from outside shared_buffers per
-- screened recipient: 100k recipients screened in 1.85–2.02 s with the split below against
-- 2.36–2.65 s before, same hour (docs/benchmarks.md, "Cooldown gate: what the figures say",
-- session 13).
--
-- The price: a pair's update changes an indexed column now, so it is never a HOT update. It
-- rarely was: pair_history has no free space reserved on its pages (fillfactor 100), and the
-- engine's sends mostly insert new pairs. The index entry grows by 8 bytes (~14%).
--
-- Rebuilding the key takes an ACCESS EXCLUSIVE lock on pair_history for as long as the build
-- (~15 s per 10M pairs on a 2-core box); sends wait that long once.
ALTER TABLE pair_history DROP CONSTRAINT pair_history_pkey,
    ADD CONSTRAINT pair_history_pkey PRIMARY KEY (workspace_id, their_number, our_number) INCLUDE (last_sent_at);

-- `judge_send` (0020) with the history read split in two: the cooldowns read only the key and
-- `last_sent_at` (index-only), and only for a first step; the Florida/Oklahoma daily count reads
-- `recent_sends` from the heap, and only for a message that has a daily limit. Same reasons in the
-- same order: pair cooldown, recipient cooldown, daily limit (`tests/send_verdict.rs` compares it
-- with 0007's original over every combination).
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
        CASE WHEN step = 0 THEN
            (SELECT CASE
                        WHEN bool_or(p.our_number = from_number
                                     AND p.last_sent_at > at - make_interval(days => pair_days))
                            THEN 'pair_cooldown'
                        WHEN max(p.last_sent_at) > at - make_interval(days => recipient_days)
                            THEN 'recipient_cooldown'
                    END
               FROM pair_history p WHERE p.workspace_id = ws AND p.their_number = to_phone)
        END,
        CASE WHEN max_per_24h IS NOT NULL THEN
            (SELECT 'daily_limit' FROM pair_history p WHERE p.workspace_id = ws AND p.their_number = to_phone
             HAVING sum(recent_count(p.recent_sends, at - interval '24 hours')) >= max_per_24h)
        END,
        CASE WHEN max_per_24h <= 0 THEN 'daily_limit' END,
        CASE WHEN NOT window_open(at, tz, days, start_time, end_time) THEN 'outside_hours' END
    )
$$;

-- `screen_sends` (0020) with the same split.
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
        CASE WHEN step = 0 THEN
            (SELECT CASE
                        WHEN bool_or(p.our_number = m.from_number
                                     AND p.last_sent_at > screen_sends.at - make_interval(days => pair_days))
                            THEN 'pair_cooldown'
                        WHEN max(p.last_sent_at) > screen_sends.at - make_interval(days => recipient_days)
                            THEN 'recipient_cooldown'
                    END
               FROM pair_history p WHERE p.workspace_id = ws AND p.their_number = m.to_phone)
        END,
        CASE WHEN m.max_per_24h IS NOT NULL THEN
            (SELECT 'daily_limit' FROM pair_history p WHERE p.workspace_id = ws AND p.their_number = m.to_phone
             HAVING sum(recent_count(p.recent_sends, screen_sends.at - interval '24 hours')) >= m.max_per_24h)
        END,
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
