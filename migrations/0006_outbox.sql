-- Leads (minimal until ingest lands), campaigns, and the outbox: one row per (campaign, step,
-- recipient), so a recipient can never be queued twice for the same step (invariant 2).
CREATE TABLE leads (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    phone         text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    first_name    text NOT NULL DEFAULT '',
    last_name     text NOT NULL DEFAULT '',
    state         text,
    time_zone     text,
    attributes    jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, phone)
);

CREATE TABLE campaigns (
    workspace_id           uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                     uuid NOT NULL,
    name                   text NOT NULL,
    status                 text NOT NULL DEFAULT 'draft'
                           CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'completed', 'canceled')),
    template               text NOT NULL,
    retext_recipient_days  integer NOT NULL DEFAULT 30,
    retext_pair_days       integer NOT NULL DEFAULT 90,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);

CREATE TABLE outbox (
    workspace_id  uuid NOT NULL,
    id            bigint GENERATED ALWAYS AS IDENTITY,
    campaign_id   uuid NOT NULL,
    step          smallint NOT NULL DEFAULT 0,
    lead_id       uuid NOT NULL,
    to_phone      text NOT NULL,
    -- The E.164 digits as an integer, for DNC range checks in the claim statement.
    to_key        bigint NOT NULL,
    from_number   text NOT NULL,
    account_id    uuid,
    body          text NOT NULL,
    segments      smallint NOT NULL DEFAULT 1,
    not_before    timestamptz NOT NULL DEFAULT now(),
    state         text NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'claimed', 'sent', 'failed', 'skipped', 'canceled', 'unknown')),
    skip_reason   text,
    attempts      integer NOT NULL DEFAULT 0,
    claimed_at    timestamptz,
    claimed_by    text,
    sid           text,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, campaign_id, step, lead_id),
    FOREIGN KEY (workspace_id, campaign_id) REFERENCES campaigns (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX outbox_due_idx ON outbox (not_before) WHERE state = 'queued';

-- Recovery after a crash asks "was this outbox row ever called?" of the send log.
CREATE INDEX send_log_outbox_idx ON send_log (workspace_id, outbox_id);
