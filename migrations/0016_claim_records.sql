-- The engine records a row's attempt (its "calling" send-log row and the histories) in the
-- transaction that claims it (sender/src/engine/worker.rs, `claim`). A claimed row is therefore
-- always a recorded one, and crash recovery reads every claimed row of a dead instance as
-- possibly sent (`unknown`) without asking the send log: nothing asks it by outbox row any more.
--
-- Until now the recorder took the claimed rows in a second transaction, locked them
-- (`SELECT ... FOR UPDATE`) and wrote their "calling" rows, and recovery requeued a dead worker's
-- rows that had no "calling" row. The lock cost a WAL record per message and did not close the
-- race it was meant to: a lock-only row version does not make a concurrent UPDATE re-check its
-- WHERE clause, so a sweep that had read "no calling row" before the recorder committed still
-- requeued the row afterwards — claimable again, and texted twice.
DROP INDEX send_log_calling_idx;

-- The engine claims per number only (`outbox_number_due_idx`, ordered by not_before within the
-- number). With this index beside it, the per-number claim's generic plan walked the whole due
-- queue in not_before order and filtered on the number (with ten numbers, 32k rows read for a
-- 2,000-row claim; with 200, the whole queue). The all-numbers claim (tests only) sorts instead.
DROP INDEX outbox_due_idx;
