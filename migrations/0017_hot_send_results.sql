-- A send-log row's result becomes a HOT update (docs/benchmarks.md, "Sender engine throughput").
--
-- The engine writes each send-log row twice: "calling" before the carrier call, then the answer
-- (state, sid, status). Setting `sid`, which `send_log_sid_idx` indexed for status callbacks,
-- made that second write a new row version on another page with a new entry in every index
-- (a profile put it at 75–120 µs a message, 1.6 full-page images). Callbacks now find a
-- campaign message's send-log row through its outbox row, which names its latest attempt by
-- the send log's primary key, so the sid index goes; with room left on each page (fillfactor
-- 70) the answer and every later status land on the row's own page, in no index.
ALTER TABLE outbox ADD COLUMN attempted_at timestamptz, ADD COLUMN attempt_id uuid;

-- Rows answered before this migration: their attempt, found by sid while the index still exists.
UPDATE outbox o SET attempted_at = s.attempted_at, attempt_id = s.id
FROM send_log s WHERE o.sid IS NOT NULL AND s.workspace_id = o.workspace_id AND s.sid = o.sid;

DROP INDEX send_log_sid_idx;

-- New partitions are created with it (`sender::send_log::ensure_partitions`); existing ones
-- keep their full pages and fill new ones so.
DO $$
DECLARE p regclass;
BEGIN
    FOR p IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'send_log'::regclass LOOP
        EXECUTE format('ALTER TABLE %s SET (fillfactor = 70)', p);
    END LOOP;
END
$$;
