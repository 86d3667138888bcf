-- `send_verdict` (0007) with the same arguments, reasons and order, made cheaper per recipient
-- so one query can screen a whole audience (the campaign preview) and the claim spends less per
-- row. Measured in docs/benchmarks.md ("Cooldown gate"), before and after in the same run.
--
-- - DNC: 0007's `lo <= key AND hi >= key` walks every entry whose range starts below the phone
--   (half the list on average). A range covering `key` starts in [key - widest, key], so the
--   probe is bounded by the workspace's widest entry, read from an index on (hi - lo).
-- - Undeliverable numbers and the recipient history were each probed twice; now once.
-- - COALESCE stops at the first reason, like 0007's CASE, so later probes run only when needed.

CREATE INDEX dnc_entries_width_idx ON dnc_entries (workspace_id, (hi - lo));

CREATE OR REPLACE FUNCTION send_verdict(ws uuid, to_phone text, to_key bigint, from_number text, step smallint,
                                        tz text, days smallint, start_time time, end_time time, max_per_24h smallint,
                                        recipient_days integer, pair_days integer, at timestamptz)
RETURNS text LANGUAGE sql STABLE AS $$
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
        -- No history row: 0007 counted zero recent sends, a limit only a cap of 0 reaches.
        CASE WHEN max_per_24h <= 0 THEN 'daily_limit' END,
        CASE WHEN NOT window_open(at, tz, days, start_time, end_time) THEN 'outside_hours' END
    )
$$;
