-- A reply stops its recipient's campaign sequence, however fast it comes (docs/engine.md,
-- "Replies"). A recipient can answer before the engine has written their message's result,
-- and the result is what queues the next step; so the engine's recorder asks, for each row that
-- queues a next step, whether the recipient has written since the attempt it follows. Their
-- inbound messages are found from their conversations (one per number of ours) by their number.
-- Only inbound messages write this index (a conversation's row changes with each one).
CREATE INDEX conversations_their_idx ON conversations (workspace_id, their_number);

-- The key of the transaction-scoped advisory lock (`pg_advisory_xact_lock`) that the inbound
-- webhook's transaction and the recorder's transaction both take on a recipient before reading
-- what the other writes (sender/src/engine/follow_up.rs explains why). One definition, so both
-- sides always agree; different from the sid locks' keys (a bare sid).
CREATE FUNCTION recipient_lock_key(ws uuid, phone text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashtextextended('recipient ' || ws::text || ' ' || phone, 0)
$$;
