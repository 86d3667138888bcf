-- Campaigns and crusades in full, the outbox columns the claim screens on, and the one decision
-- function shared by the engine's claim and the dry-run preview (`send_verdict`).

-- Leads: what audiences filter on and what the gate screens.
ALTER TABLE leads
    ADD COLUMN tags       text[] NOT NULL DEFAULT '{}',
    ADD COLUMN vertical   text,
    ADD COLUMN line_type  text NOT NULL DEFAULT 'unknown'
                          CHECK (line_type IN ('mobile', 'landline', 'voip', 'unknown'));
CREATE INDEX leads_tags_idx ON leads USING gin (tags);

-- Numbers never texted again for a reason other than consent: the carrier said the number is
-- invalid (21211) or cannot take SMS (21614, 30006), or the lead's line type is landline.
CREATE TABLE undeliverable_numbers (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    phone         text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    reason        text NOT NULL CHECK (reason IN ('invalid', 'landline')),
    error_code    integer,
    at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, phone)
);

-- A crusade: campaigns sharing one schedule (recipient-local days and hours, clipped to the legal
-- window per recipient), a throttle across all of them, jitter, and start/end dates.
CREATE TABLE crusades (
    workspace_id         uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                   uuid NOT NULL,
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status               text NOT NULL DEFAULT 'draft'
                         CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'completed', 'canceled')),
    -- Bit 0 = Monday ... bit 6 = Sunday (sender::windows::LocalWindow).
    days                 smallint NOT NULL DEFAULT 127 CHECK (days BETWEEN 1 AND 127),
    start_time           time NOT NULL DEFAULT '08:00',
    end_time             time NOT NULL DEFAULT '21:00',
    start_date           date,
    end_date             date,
    throttle_per_minute  integer CHECK (throttle_per_minute > 0),
    jitter_seconds       integer NOT NULL DEFAULT 0 CHECK (jitter_seconds BETWEEN 0 AND 3600),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CHECK (start_time < end_time),
    CHECK (end_date IS NULL OR start_date IS NULL OR start_date <= end_date)
);

-- Campaigns: steps replace the single template. steps = [{"after_days": 0, "templates": ["..."]},
-- {"after_days": 3, "templates": ["..."]}, ...]: step 0 goes at launch, step k after_days after
-- step k-1 was accepted when no reply came. audience = a saved lead filter
-- ({"tags": [...], "states": [...], "area_codes": [...], "vertical": "..."}; every key optional).
-- number_pool = phone_numbers ids; empty means every active SMS number of the workspace.
ALTER TABLE campaigns DROP COLUMN template;
ALTER TABLE campaigns
    ADD COLUMN crusade_id        uuid,
    ADD COLUMN steps             jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(steps) = 'array'),
    ADD COLUMN audience          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(audience) = 'object'),
    ADD COLUMN number_pool       uuid[] NOT NULL DEFAULT '{}',
    ADD COLUMN vertical          text,
    ADD COLUMN opt_out_language  text NOT NULL DEFAULT 'Reply STOP to opt out.',
    ADD COLUMN started_at        timestamptz,
    ADD COLUMN materialized_at   timestamptz,
    ADD COLUMN finished_at       timestamptz,
    ADD CONSTRAINT campaigns_crusade_fkey FOREIGN KEY (workspace_id, crusade_id)
        REFERENCES crusades (workspace_id, id) ON DELETE SET NULL (crusade_id);
CREATE INDEX campaigns_crusade_idx ON campaigns (workspace_id, crusade_id);
CREATE INDEX campaigns_running_idx ON campaigns (status) WHERE status = 'running';

-- Outbox: each row carries the recipient's window (legal ∩ crusade, in their time zone) and the
-- state's per-24 h limit, fixed at materialization, so the claim screens it without a join.
ALTER TABLE outbox
    ADD COLUMN crusade_id    uuid,
    ADD COLUMN time_zone     text NOT NULL DEFAULT 'America/New_York',
    ADD COLUMN window_days   smallint NOT NULL DEFAULT 127,
    ADD COLUMN window_start  time NOT NULL DEFAULT '08:00',
    ADD COLUMN window_end    time NOT NULL DEFAULT '21:00',
    ADD COLUMN max_per_24h   smallint,
    ADD COLUMN error_code    integer,
    ADD COLUMN sent_at       timestamptz,
    -- The carrier's latest status from callbacks (sent, delivered, undelivered, failed ...).
    ADD COLUMN status        text,
    ADD COLUMN updated_at    timestamptz NOT NULL DEFAULT now();
-- Claims go per sending number (its pacing budget decides how many), due first.
CREATE INDEX outbox_number_due_idx ON outbox (workspace_id, from_number, not_before) WHERE state = 'queued';
-- Replies cancel a recipient's pending follow-ups; callbacks find a row by sid.
CREATE INDEX outbox_recipient_idx ON outbox (workspace_id, to_phone);
CREATE INDEX outbox_sid_idx ON outbox (workspace_id, sid) WHERE sid IS NOT NULL;
CREATE INDEX outbox_campaign_state_idx ON outbox (workspace_id, campaign_id, state);

-- Live counters, monotonic per (campaign, metric). Writers add to one of a few shards so hot
-- campaigns do not serialize on one row; readers sum the shards. Metrics: materialized, sent,
-- delivered, failed, unknown, canceled, replies, opt_outs, skipped:<reason>.
CREATE TABLE campaign_stats (
    workspace_id  uuid NOT NULL,
    campaign_id   uuid NOT NULL,
    metric        text NOT NULL,
    shard         smallint NOT NULL DEFAULT 0,
    n             bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, campaign_id, metric, shard),
    FOREIGN KEY (workspace_id, campaign_id) REFERENCES campaigns (workspace_id, id) ON DELETE CASCADE
);

-- Daily caps (numbers with warm-up, accounts): sends counted per scope and UTC day; a claim takes
-- its share with one conditional UPDATE, so the cap holds across instances.
CREATE TABLE send_quota (
    workspace_id  uuid NOT NULL,
    scope         text NOT NULL,
    day           date NOT NULL,
    used          integer NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, scope, day)
);

-- Whether `at` falls inside [start_time, end_time) on an allowed weekday in `tz`.
CREATE FUNCTION window_open(at timestamptz, tz text, days smallint, start_time time, end_time time)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT (days & (1 << (extract(isodow FROM at AT TIME ZONE tz)::int - 1))) <> 0
       AND (at AT TIME ZONE tz)::time >= start_time
       AND (at AT TIME ZONE tz)::time < end_time
$$;

-- `at` when the window is open, else the next instant it opens (DST handled by PostgreSQL's
-- zone rules), or NULL for a window that never opens.
CREATE FUNCTION window_next_open(at timestamptz, tz text, days smallint, start_time time, end_time time)
RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
DECLARE
    local_day date := (at AT TIME ZONE tz)::date;
    candidate timestamptz;
BEGIN
    IF window_open(at, tz, days, start_time, end_time) THEN
        RETURN at;
    END IF;
    FOR d IN 0..7 LOOP
        IF (days & (1 << (extract(isodow FROM local_day + d)::int - 1))) <> 0 THEN
            candidate := ((local_day + d) + start_time) AT TIME ZONE tz;
            IF candidate > at THEN
                RETURN candidate;
            END IF;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

-- May this message go now? NULL means yes; otherwise the reason it may not, in the order the
-- gate checks them. Permanent reasons (opted_out, dnc, invalid, landline, pair_cooldown,
-- recipient_cooldown) skip the row; passing ones (daily_limit, outside_hours) defer it.
-- Follow-up steps (step > 0) continue a conversation and are exempt from the retext cooldowns.
-- The claim (invariants 1 and 4) and the dry-run preview both call this: one decision.
CREATE FUNCTION send_verdict(ws uuid, to_phone text, to_key bigint, from_number text, step smallint,
                             tz text, days smallint, start_time time, end_time time, max_per_24h smallint,
                             recipient_days integer, pair_days integer, at timestamptz)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN EXISTS (SELECT 1 FROM opt_outs x WHERE x.workspace_id = ws AND x.phone = to_phone)
            THEN 'opted_out'
        WHEN EXISTS (SELECT 1 FROM dnc_entries d WHERE d.workspace_id = ws AND d.lo <= to_key AND d.hi >= to_key)
            THEN 'dnc'
        WHEN EXISTS (SELECT 1 FROM undeliverable_numbers u WHERE u.workspace_id = ws AND u.phone = to_phone)
            THEN (SELECT u.reason FROM undeliverable_numbers u WHERE u.workspace_id = ws AND u.phone = to_phone)
        WHEN step = 0 AND EXISTS (SELECT 1 FROM pair_history p
                                  WHERE p.workspace_id = ws AND p.their_number = to_phone AND p.our_number = from_number
                                    AND p.last_sent_at > at - make_interval(days => pair_days))
            THEN 'pair_cooldown'
        WHEN step = 0 AND EXISTS (SELECT 1 FROM recipient_history r
                                  WHERE r.workspace_id = ws AND r.their_number = to_phone
                                    AND r.last_sent_at > at - make_interval(days => recipient_days))
            THEN 'recipient_cooldown'
        WHEN max_per_24h IS NOT NULL
             AND (SELECT count(*) FROM recipient_history r, unnest(r.recent_sends) t
                  WHERE r.workspace_id = ws AND r.their_number = to_phone AND t > at - interval '24 hours') >= max_per_24h
            THEN 'daily_limit'
        WHEN NOT window_open(at, tz, days, start_time, end_time)
            THEN 'outside_hours'
    END
$$;
