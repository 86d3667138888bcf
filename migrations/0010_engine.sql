-- Opt-outs reach every running engine as soon as they commit: a notification on the
-- `consent` channel per change ("<workspace_id> <phone> out|in"). PostgreSQL delivers
-- notifications only after commit, which is exactly when the STOP fence must hold; the engine
-- keeps them in memory and re-checks each claimed row right before the carrier call.
CREATE FUNCTION notify_consent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('consent', OLD.workspace_id::text || ' ' || OLD.phone || ' in');
        RETURN OLD;
    END IF;
    PERFORM pg_notify('consent', NEW.workspace_id::text || ' ' || NEW.phone || ' out');
    RETURN NEW;
END
$$;

CREATE TRIGGER opt_outs_notify AFTER INSERT OR DELETE ON opt_outs
    FOR EACH ROW EXECUTE FUNCTION notify_consent();

-- Live engine instances: each running engine stamps its worker id every second. A claim whose
-- worker has not been seen for a while belongs to a crashed instance and is recovered; a live
-- worker's claims are never touched, however long they wait for pacing tokens.
CREATE TABLE engine_instances (
    worker_id  text PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at    timestamptz NOT NULL DEFAULT now()
);
