-- The send log, partitioned by day (declarative range partitioning on attempted_at): one row per
-- carrier call, written BEFORE the call ("calling") and completed after it. Partitions are
-- created ahead by the server (`sender::send_log::ensure_partitions`) and old ones detached and
-- archived by `switchboard send-log archive`. There is deliberately no default partition: a row
-- outside the prepared days is an error, never a silent catch-all that blocks later partitions.
CREATE TABLE send_log (
    workspace_id  uuid NOT NULL,
    attempted_at  timestamptz NOT NULL,
    id            uuid NOT NULL,
    outbox_id     bigint,
    campaign_id   uuid,
    step          smallint,
    to_phone      text NOT NULL,
    from_number   text NOT NULL,
    account_id    uuid,
    segments      smallint NOT NULL DEFAULT 1,
    -- calling: written before the call; a crash leaves it so, and it is read as "unknown",
    -- never resent. accepted / failed: the call's answer.
    state         text NOT NULL CHECK (state IN ('calling', 'accepted', 'failed', 'unknown')),
    sid           text,
    status        text,
    error_code    integer,
    PRIMARY KEY (workspace_id, attempted_at, id)
) PARTITION BY RANGE (attempted_at);
CREATE INDEX send_log_sid_idx ON send_log (workspace_id, sid);

-- Pair history: when did we last text this (their number, our number) pair. One row per pair,
-- so a cooldown check is one primary-key probe, never a scan of the log.
CREATE TABLE pair_history (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    their_number  text NOT NULL,
    our_number    text NOT NULL,
    last_sent_at  timestamptz NOT NULL,
    sends         integer NOT NULL DEFAULT 1,
    PRIMARY KEY (workspace_id, their_number, our_number)
);

-- Recipient history: the last send to a number from any of our numbers, and the three most
-- recent send times (Florida and Oklahoma allow at most 3 per 24 h).
CREATE TABLE recipient_history (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    their_number  text NOT NULL,
    last_sent_at  timestamptz NOT NULL,
    recent_sends  timestamptz[] NOT NULL,
    PRIMARY KEY (workspace_id, their_number)
);
