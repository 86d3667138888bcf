-- A sent row's end update keeps two fewer index entries (docs/benchmarks.md, "Sender engine
-- throughput", session 16).
--
-- The engine's end update (`outbox::record_ends`: queued → sent, its sid) is never a HOT update,
-- because `state` is in the due index's predicate. It wrote a new entry in every index whose
-- predicate the new row version meets: the primary key, the (campaign, step, lead) key, the
-- recipient index and the sid index. The last two go from that list:
--
-- - Status callbacks no longer look a campaign message up by sid. Their URL names the outbox row
--   and the attempt (`inbound::CallbackTarget`, `?o=…&a=…&t=…`), signed with the rest of the URL,
--   so a callback finds both rows by primary key. A callback that beats the engine's own record of
--   the answer finds the row too, so the early-callback bookkeeping (an advisory lock per sid and a
--   probe of `status_callbacks` per sent message) goes with the index.
--   Upgrading (docs/operations.md, "Upgrading"): run this once every instance runs the release
--   that brings it; the one before looks rows up by sid. Callbacks for campaign messages sent by
--   that release carry no target: they are stored (de-duplicated) but move no outbox row.
-- - The recipient index keeps queued rows only. What asked it about other rows now asks the pair
--   history, which holds every pair ever attempted: the plan's sticky sender
--   (`plan::History::load`) and rerouting's "already texted from this number" (`rotation`).
--   A reply's cancel of follow-ups asks for queued rows, as before.
DROP INDEX outbox_sid_idx;
DROP INDEX outbox_recipient_idx;
CREATE INDEX outbox_recipient_idx ON outbox (workspace_id, to_phone) WHERE state = 'queued';
