-- A claim becomes a HOT update (docs/benchmarks.md, "Sender engine throughput").
--
-- Claiming moved an outbox row from 'queued' to 'claimed'. `state` is in the predicate of the
-- due and open-rows indexes, so every claim wrote a new row version with an entry in each of the
-- outbox's five indexes (primary key, the (campaign, step, lead) key, recipient, open rows,
-- claimed rows): most of the claim statement's time and 6 of its 7.4 WAL records a message.
-- Now a claimed row stays 'queued' and carries its claim in columns no index reads
-- (`claimed_at`, `claimed_by`): the row is rewritten on its own page and no index changes. The
-- claim statement passes over claimed rows (`claimed_at IS NULL`); the engine's result moves
-- the row on as before.
--
-- Crash recovery asked `outbox_claimed_idx` for a dead worker's claimed rows; that index read
-- `claimed_at`, so it goes. Instead each claim statement records its round here — one row per
-- workspace per claim, the claimed ids in an array — and recovery reads the rounds of dead
-- workers. The leader forgets rounds whose rows have all moved on.
CREATE TABLE outbox_claims (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    worker_id    text NOT NULL,
    claimed_at   timestamptz NOT NULL,
    workspace_id uuid NOT NULL,
    ids          bigint[] NOT NULL
);

INSERT INTO outbox_claims (worker_id, claimed_at, workspace_id, ids)
SELECT claimed_by, claimed_at, workspace_id, array_agg(id) FROM outbox
WHERE state = 'claimed' GROUP BY claimed_by, claimed_at, workspace_id;
UPDATE outbox SET state = 'queued' WHERE state = 'claimed';

ALTER TABLE outbox DROP CONSTRAINT outbox_state_check,
    ADD CONSTRAINT outbox_state_check CHECK (state IN ('queued', 'sent', 'failed', 'skipped', 'canceled', 'unknown'));
DROP INDEX outbox_claimed_idx;
