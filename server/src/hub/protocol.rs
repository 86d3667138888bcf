//! The wire protocol of `/ws`: JSON text frames in both directions, tagged by `type`, and the
//! close codes. docs/protocol.md is the prose version of this file; change both together.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_sender::{UserId, WorkspaceId};

/// The client went too slow: its outgoing queue overflowed, so it was cut off (the others were
/// not slowed). Reconnect and resubscribe with the last seq to recover.
pub const CLOSE_SLOW_CONSUMER: u16 = 4008;
/// A frame from the client exceeded the size limit.
pub const CLOSE_FRAME_TOO_LARGE: u16 = 4009;
/// Policy violation (RFC 6455): e.g. the session ended while connected.
pub const CLOSE_POLICY: u16 = 1008;
/// The server is shutting down; reconnect (to another instance).
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// Where in a topic's history a client stands: the epoch it saw and the last seq it received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub epoch: String,
    pub seq: u64,
}

/// A frame from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Subscribe to `topic` of `workspace`; with `since`, recover what was missed after it.
    Subscribe {
        workspace: WorkspaceId,
        topic: String,
        #[serde(default)]
        since: Option<Position>,
        /// This connection's presence meta (what it focuses, typing, ...).
        #[serde(default)]
        meta: Option<Value>,
        /// `false`: take no part in presence (neither shown nor sent presence). Default true.
        #[serde(default = "yes")]
        presence: bool,
        /// Echoed back in the answer, to correlate.
        #[serde(default, rename = "ref")]
        reference: Option<String>,
    },
    Unsubscribe {
        workspace: WorkspaceId,
        topic: String,
    },
    /// Replace this connection's presence meta on a subscribed topic.
    Presence {
        workspace: WorkspaceId,
        topic: String,
        meta: Value,
    },
    /// Drop an ephemeral note on a subscribed topic.
    Drop {
        workspace: WorkspaceId,
        topic: String,
        text: String,
        #[serde(default)]
        anchor: Option<String>,
        #[serde(default)]
        ttl_ms: Option<u64>,
    },
    Ping,
}

fn yes() -> bool {
    true
}

/// One tab of a present user: its connection id and meta.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PresenceConn {
    pub conn: String,
    pub meta: Value,
}

/// A user present on a topic with every connection they have on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PresenceUser {
    pub user_id: UserId,
    pub name: String,
    pub conns: Vec<PresenceConn>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    /// The user's first connection arrived.
    Join,
    /// A connection arrived or left, or a meta changed; the user stays.
    Update,
    /// The user's last connection left.
    Leave,
}

/// An ephemeral note on a topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DropNote {
    pub id: String,
    pub user_id: UserId,
    pub name: String,
    pub text: String,
    pub anchor: Option<String>,
    /// Unix milliseconds after which the note is gone.
    pub expires_at: i64,
}

/// A frame to the client. Events are not built from this enum (see [`event_frame`]) so that
/// their bytes can be made once per publish.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Hello {
        conn: &'a str,
        user_id: UserId,
        ping_ms: u64,
        max_frame: usize,
    },
    Subscribed {
        workspace: WorkspaceId,
        topic: &'a str,
        epoch: &'a str,
        seq: u64,
        /// How many missed events follow (when `since` was given and recovery succeeded).
        recovered: Option<usize>,
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<&'a str>,
    },
    /// The client's position cannot be recovered: reload the topic's state, then continue
    /// from `epoch`/`seq`.
    Resync {
        workspace: WorkspaceId,
        topic: &'a str,
        epoch: &'a str,
        seq: u64,
        reason: &'a str,
    },
    Unsubscribed {
        workspace: WorkspaceId,
        topic: &'a str,
    },
    PresenceState {
        workspace: WorkspaceId,
        topic: &'a str,
        users: Vec<PresenceUser>,
    },
    PresenceDiff {
        workspace: WorkspaceId,
        topic: &'a str,
        event: DiffKind,
        user: &'a PresenceUser,
    },
    Drop {
        workspace: WorkspaceId,
        topic: &'a str,
        #[serde(flatten)]
        note: &'a DropNote,
    },
    Error {
        code: &'a str,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        workspace: Option<WorkspaceId>,
        #[serde(skip_serializing_if = "Option::is_none")]
        topic: Option<&'a str>,
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<&'a str>,
    },
    Pong,
}

impl ServerFrame<'_> {
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("server frames serialize")
    }
}

/// The head of an event frame, everything but `epoch` and `seq`, which are appended by
/// [`finish_event`] once the topic's sequence has numbered it (possibly inside Redis).
pub fn event_head(workspace: WorkspaceId, topic: &str, kind: &str, data: &Value) -> String {
    #[derive(Serialize)]
    struct Head<'a> {
        r#type: &'static str,
        workspace: WorkspaceId,
        topic: &'a str,
        kind: &'a str,
        data: &'a Value,
    }
    let mut text = serde_json::to_string(&Head { r#type: "event", workspace, topic, kind, data }).expect("serializes");
    text.pop(); // the closing brace; `finish_event` appends the rest
    text.push(',');
    text
}

/// Completes an [`event_head`]: `{"type":"event",...,"epoch":"..","seq":N}`.
pub fn finish_event(head: &str, epoch: &str, seq: u64) -> String {
    format!("{head}\"epoch\":\"{epoch}\",\"seq\":{seq}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_frames_are_valid_json_with_epoch_and_seq() {
        let ws = WorkspaceId::new();
        let text = finish_event(&event_head(ws, "campaign:7", "sent", &serde_json::json!({"n": 1})), "e1", 42);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "event");
        assert_eq!(v["topic"], "campaign:7");
        assert_eq!(v["seq"], 42);
        assert_eq!(v["epoch"], "e1");
        assert_eq!(v["data"]["n"], 1);
    }

    #[test]
    fn unknown_frames_and_fields_are_rejected() {
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"nope"}"#).is_err());
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"unsubscribe","topic":"inbox"}"#).is_err());
        assert!(matches!(serde_json::from_str::<ClientFrame>(r#"{"type":"ping"}"#), Ok(ClientFrame::Ping)));
    }
}
