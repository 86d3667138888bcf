-- The pair key by number: `their_key` is the recipient's E.164 digits as a bigint (the outbox's
-- `to_key`; one-to-one with the text, which has no leading zero), generated from `their_number`,
-- and the primary key leads with it instead of the text. Every cooldown check and every screened
-- recipient descends this key; a text key compares in the database's collation at each step of
-- the descent, a bigint with one machine comparison. Prototyped beside the table on 10M
-- recipients (docs/benchmarks.md, "Cooldown gate: what the figures say", session 13): 100k
-- index-only probes took 0.75 s by bigint against 1.09-1.48 s by text.
--
-- Writers are unchanged (the column is generated); readers look pairs up by `their_key`. A text
-- lookup by `their_number` alone no longer has an index: the recipient_history view carries
-- `their_key` for that reason.
--
-- One statement: adding a stored generated column rewrites pair_history, and the new key is built
-- once, after the rewrite. It holds an ACCESS EXCLUSIVE lock for as long as both take: 16 s for
-- 10M pairs on the 2-core benchmark box. The release before this one upserts pairs on the old
-- key, so sending stops for the upgrade (docs/operations.md, "Upgrading").
ALTER TABLE pair_history
    ADD COLUMN their_key bigint GENERATED ALWAYS AS (substr(their_number, 2)::bigint) STORED,
    DROP CONSTRAINT pair_history_pkey,
    ADD CONSTRAINT pair_history_pkey PRIMARY KEY (workspace_id, their_key, our_number) INCLUDE (last_sent_at);
-- The new column has no statistics until analyzed, and without them the planner takes every
-- recipient for 0.5% of the table (50,000 rows of 10M). On 10M recipients' history, unanalyzed
-- and unvacuumed, one recipient's `send_verdict` took 15 ms instead of 0.6 ms. (The rewrite also
-- clears the visibility map, which only a VACUUM, outside a transaction, sets again: see
-- docs/operations.md.)
ANALYZE pair_history;

-- The view of 0020 with the key as its last column (a filter on it is pushed below the GROUP BY:
-- one range scan of the pair key).
CREATE OR REPLACE VIEW recipient_history AS
SELECT p.workspace_id, p.their_number, max(p.last_sent_at) AS last_sent_at,
       (array_agg(t.at ORDER BY t.at DESC))[1:3] AS recent_sends, p.their_key
FROM pair_history p CROSS JOIN LATERAL unnest(p.recent_sends) AS t(at)
GROUP BY p.workspace_id, p.their_key, p.their_number;

-- `judge_send` (0022), its history read by the number key.
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
               FROM pair_history p WHERE p.workspace_id = ws AND p.their_key = to_key)
        END,
        CASE WHEN max_per_24h IS NOT NULL THEN
            (SELECT 'daily_limit' FROM pair_history p WHERE p.workspace_id = ws AND p.their_key = to_key
             HAVING sum(recent_count(p.recent_sends, at - interval '24 hours')) >= max_per_24h)
        END,
        CASE WHEN max_per_24h <= 0 THEN 'daily_limit' END,
        CASE WHEN NOT window_open(at, tz, days, start_time, end_time) THEN 'outside_hours' END
    )
$$;

-- `screen_sends` (0022), its history read by the same key.
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
               FROM pair_history p WHERE p.workspace_id = ws AND p.their_key = m.to_key)
        END,
        CASE WHEN m.max_per_24h IS NOT NULL THEN
            (SELECT 'daily_limit' FROM pair_history p WHERE p.workspace_id = ws AND p.their_key = m.to_key
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
