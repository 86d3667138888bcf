-- Status callbacks are kept a week, then pruned by the engine's leader
-- (`sender::inbound::prune_status_callbacks`): until now the table kept two or three rows per
-- message sent, forever. `received_at` only grows, so this index is appended to at its right
-- edge and the pruning reads the oldest rows first.
CREATE INDEX status_callbacks_received_idx ON status_callbacks (received_at);
