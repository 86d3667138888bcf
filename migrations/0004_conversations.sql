-- Conversations and their messages: one conversation per (our number, their number), the whole
-- thread in and out. Inbound messages and status callbacks are stored exactly once: a message's
-- Twilio sid is unique per workspace, and each (sid, status) callback is kept once.

CREATE TABLE conversations (
    workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id               uuid NOT NULL,
    our_number       text NOT NULL,
    their_number     text NOT NULL,
    account_id       uuid,
    unread           integer NOT NULL DEFAULT 0,
    assignee_id      uuid REFERENCES users (id) ON DELETE SET NULL,
    last_message_at  timestamptz NOT NULL DEFAULT now(),
    last_preview     text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, our_number, their_number)
);
CREATE INDEX conversations_recent_idx ON conversations (workspace_id, last_message_at DESC);

CREATE TABLE messages (
    workspace_id     uuid NOT NULL,
    id               uuid NOT NULL,
    conversation_id  uuid NOT NULL,
    direction        text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    sid              text,
    body             text NOT NULL DEFAULT '',
    num_media        integer NOT NULL DEFAULT 0,
    media            jsonb NOT NULL DEFAULT '[]',
    -- What the reply meant for consent: opt_out, opt_out_phrase, opt_in, help, message.
    intent           text,
    status           text NOT NULL,
    error_code       integer,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, conversation_id) REFERENCES conversations (workspace_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX messages_sid_key ON messages (workspace_id, sid) WHERE sid IS NOT NULL;
CREATE INDEX messages_thread_idx ON messages (workspace_id, conversation_id, created_at);

-- Every distinct status callback, once (Twilio retries and duplicates collapse here).
CREATE TABLE status_callbacks (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    sid           text NOT NULL,
    status        text NOT NULL,
    error_code    integer,
    raw_dlr_done  text,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, sid, status)
);
