-- Partial indexes that cannot stand in for a primary-key probe.
--
-- The engine's per-row guards probe outbox rows by primary key with a state condition
-- (`workspace_id = r.ws AND id = r.id AND state = 'claimed'`, once per row of a batch). A
-- partial index led by `workspace_id` whose predicate that state condition implies looks as
-- cheap to the planner as the primary key (both estimate one row, especially while statistics
-- lag a large materialization), and when it is picked every probe walks the workspace's whole
-- open queue: 1.6 ms per row with 12k rows open, 0.5 s for a 300-row batch of attempts, which
-- held every 3 MPS number to ~40% of its rate (docs/benchmarks.md, "Pacing exactness"). Led by a
-- column the probes never name, these indexes only serve the queries they were made for.

-- Completion and cancel ask for one campaign's open rows (campaign ids are unique on their own).
DROP INDEX outbox_campaign_open_idx;
CREATE INDEX outbox_campaign_open_idx ON outbox (campaign_id) WHERE state IN ('queued', 'claimed');

-- A number's due rows (the per-number claim names both columns).
DROP INDEX outbox_number_due_idx;
CREATE INDEX outbox_number_due_idx ON outbox (from_number, workspace_id, not_before) WHERE state = 'queued';
