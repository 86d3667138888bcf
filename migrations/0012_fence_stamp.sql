-- An opt-out's `consent` notification also says when the opt-out was taken and where it came
-- from: "<workspace_id> <phone> out <opted_out_at in microseconds since the Unix epoch> <source>".
-- For a STOP, `opted_out_at` is the moment our webhook received it (sender::inbound), so each
-- engine instance records how long after that it held the fence
-- (`switchboard_engine_fence_seconds`, sender/src/engine/opt_out_set.rs). Opt-ins stay
-- "<workspace_id> <phone> in". A reader of 0010's payload ignores the two extra fields.
CREATE OR REPLACE FUNCTION notify_consent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('consent', OLD.workspace_id::text || ' ' || OLD.phone || ' in');
        RETURN OLD;
    END IF;
    PERFORM pg_notify('consent', NEW.workspace_id::text || ' ' || NEW.phone || ' out '
        || (extract(epoch FROM NEW.opted_out_at) * 1000000)::bigint::text || ' ' || NEW.source);
    RETURN NEW;
END
$$;
