-- No foreign key to `workspaces` on the two tables written once per message: `pair_history`
-- (every send) and `status_callbacks` (every carrier callback, two or three per message). The
-- check ran for every inserted row: a lookup of the workspace and a KEY SHARE lock on the one
-- workspace row every writer shares; on the pair upsert it was a third of the statement's time
-- (docs/benchmarks.md, "Send-log writes"). The send log never had one. Rows of both are only
-- written for messages of an existing workspace (outbox rows, which keep their keys, and
-- callbacks matched to a known account); a deleted workspace's rows go with it by this trigger
-- instead of ON DELETE CASCADE.
ALTER TABLE pair_history DROP CONSTRAINT pair_history_workspace_id_fkey;
ALTER TABLE status_callbacks DROP CONSTRAINT status_callbacks_workspace_id_fkey;
CREATE FUNCTION forget_workspace_traffic() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM pair_history WHERE workspace_id = OLD.id;
    DELETE FROM status_callbacks WHERE workspace_id = OLD.id;
    RETURN OLD;
END
$$;
CREATE TRIGGER workspaces_forget_traffic AFTER DELETE ON workspaces
    FOR EACH ROW EXECUTE FUNCTION forget_workspace_traffic();
