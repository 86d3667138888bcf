-- The carrier registry: Twilio accounts (secrets sealed with ChaCha20-Poly1305 under SECRET_KEY,
-- bound to their workspace, row and column; see sender/src/secretbox.rs) and the phone numbers
-- sent from. Every key starts with workspace_id.

CREATE TABLE carrier_accounts (
    workspace_id               uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                         uuid NOT NULL,
    name                       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    account_sid                text NOT NULL CHECK (account_sid ~ '^AC[0-9a-f]{32}$'),
    auth_token_ciphertext      bytea NOT NULL,
    auth_token_nonce           bytea NOT NULL CHECK (length(auth_token_nonce) = 12),
    -- The last four characters, the most of the token ever shown.
    auth_token_last4           text NOT NULL CHECK (length(auth_token_last4) <= 4),
    api_key_sid                text CHECK (api_key_sid ~ '^SK[0-9a-f]{32}$'),
    api_key_secret_ciphertext  bytea,
    api_key_secret_nonce       bytea CHECK (length(api_key_secret_nonce) = 12),
    base_url                   text NOT NULL DEFAULT 'https://api.twilio.com' CHECK (base_url ~ '^https?://'),
    daily_cap                  integer CHECK (daily_cap > 0),
    mps_cap                    numeric(10, 3) CHECK (mps_cap > 0),
    status                     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'failing')),
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT carrier_accounts_sid_key UNIQUE (workspace_id, account_sid),
    CONSTRAINT carrier_accounts_api_key_whole CHECK (
        (api_key_sid IS NULL) = (api_key_secret_ciphertext IS NULL)
        AND (api_key_sid IS NULL) = (api_key_secret_nonce IS NULL))
);

CREATE TABLE phone_numbers (
    workspace_id       uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                 uuid NOT NULL,
    e164               text NOT NULL CHECK (e164 ~ '^\+[1-9][0-9]{6,14}$'),
    account_id         uuid NOT NULL,
    sms                boolean NOT NULL DEFAULT true,
    mms                boolean NOT NULL DEFAULT false,
    area_code          text CHECK (area_code ~ '^[2-9][0-9]{2}$'),
    state              text CHECK (state ~ '^[A-Z]{2}$'),
    campaign_10dlc     text CHECK (length(campaign_10dlc) BETWEEN 1 AND 64),
    mps                numeric(10, 3) NOT NULL DEFAULT 1 CHECK (mps > 0),
    daily_cap          integer CHECK (daily_cap > 0),
    -- [{"day": 1, "daily_cap": 50}, ...]: steps from the start date (day 1).
    warmup             jsonb CHECK (jsonb_typeof(warmup) = 'array'),
    warmup_started_on  date,
    health             text NOT NULL DEFAULT 'good' CHECK (health IN ('good', 'warning', 'blocked')),
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT phone_numbers_e164_key UNIQUE (workspace_id, e164),
    -- No cascade: an account with numbers cannot be deleted.
    CONSTRAINT phone_numbers_account_fkey FOREIGN KEY (workspace_id, account_id)
        REFERENCES carrier_accounts (workspace_id, id),
    CONSTRAINT phone_numbers_warmup_started CHECK ((warmup IS NULL) = (warmup_started_on IS NULL))
);
CREATE INDEX phone_numbers_account_idx ON phone_numbers (workspace_id, account_id);
CREATE INDEX phone_numbers_area_code_idx ON phone_numbers (workspace_id, area_code);
CREATE INDEX phone_numbers_state_idx ON phone_numbers (workspace_id, state);
