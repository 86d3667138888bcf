-- Consent and suppression: who must never be texted. Scope is always the workspace.
--
-- `opt_outs` is the current state (a row = opted out) that the outbox claim statement probes;
-- `consent_events` is the append-only history of every opt-out and opt-in with its source.

CREATE TABLE opt_outs (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    phone         text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    opted_out_at  timestamptz NOT NULL DEFAULT now(),
    source        text NOT NULL CHECK (source IN ('keyword', 'phrase', 'carrier', 'manual', 'import')),
    -- Our number they wrote to (keyword / phrase) or that got 21610 (carrier), when known.
    via_number    text,
    message_sid   text,
    -- Plain-language revocations are honoured at once but a person should look at them.
    needs_review  boolean NOT NULL DEFAULT false,
    note          text,
    PRIMARY KEY (workspace_id, phone)
);

CREATE TABLE consent_events (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            bigint GENERATED ALWAYS AS IDENTITY,
    phone         text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('opt_out', 'opt_in')),
    source        text NOT NULL,
    via_number    text,
    message_sid   text,
    actor_id      uuid,
    at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX consent_events_phone_idx ON consent_events (workspace_id, phone, id);

-- Internal do-not-contact list: single numbers (lo = hi) and whole ranges of numbers, as the
-- E.164 digits read as integers (at most 15 digits, so they fit in bigint).
CREATE TABLE dnc_entries (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    lo            bigint NOT NULL,
    hi            bigint NOT NULL,
    reason        text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    uuid,
    PRIMARY KEY (workspace_id, id),
    CHECK (lo <= hi)
);
CREATE INDEX dnc_entries_range_idx ON dnc_entries (workspace_id, lo, hi);
