//! Twilio's wire types for Messages, exactly as the 2010-04-01 API sends them (see FACTS.md and
//! `twilio_api_v2010.json`, schema `api.v2010.account.message`). Counts are strings, dates are
//! RFC 2822, `error_code` is an integer or null.

use serde::{Deserialize, Serialize};

/// The Message resource returned by create (201) and fetch (200).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageResource {
    pub account_sid: String,
    pub api_version: String,
    pub body: String,
    pub date_created: Option<String>,
    pub date_sent: Option<String>,
    pub date_updated: Option<String>,
    pub direction: String,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub num_media: String,
    pub num_segments: String,
    pub price: Option<String>,
    pub price_unit: Option<String>,
    pub sid: String,
    pub status: String,
    pub subresource_uris: Option<serde_json::Value>,
    pub to: String,
    pub uri: String,
}

/// What the engine reads of a create's answer (a Message resource): the sid it records and the
/// status and segment count Twilio gave. Read without building the rest of the resource: parsing
/// every field into owned strings (and `subresource_uris` into a JSON value) was 6.3% of the
/// engine's CPU (docs/benchmarks.md, session 14's call-graph profile).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Created {
    pub sid: String,
    pub status: String,
    /// Not needed to record the send: an answer without it is still an acceptance.
    #[serde(default)]
    pub num_segments: String,
}

/// Twilio's error body: `{"code":21211,"message":"...","more_info":"...","status":400}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: i64,
    pub message: String,
    #[serde(default)]
    pub more_info: Option<String>,
    pub status: u16,
}

impl ErrorBody {
    pub fn new(status: u16, code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            more_info: Some(format!("https://www.twilio.com/docs/errors/{code}")),
            status,
        }
    }
}

/// A page of the Messages list (`GET .../Messages.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessagePage {
    pub messages: Vec<MessageResource>,
    pub end: i64,
    pub first_page_uri: String,
    pub next_page_uri: Option<String>,
    pub page: i64,
    pub page_size: i64,
    pub previous_page_uri: Option<String>,
    pub start: i64,
    pub uri: String,
}

/// Message statuses Twilio reports. Final ones never move back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::EnumIter)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Queued,
    Sending,
    Sent,
    Failed,
    Delivered,
    Undelivered,
    Receiving,
    Received,
    Accepted,
    Scheduled,
    Read,
    PartiallyDelivered,
    Canceled,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        use MessageStatus::*;
        match self {
            Queued => "queued",
            Sending => "sending",
            Sent => "sent",
            Failed => "failed",
            Delivered => "delivered",
            Undelivered => "undelivered",
            Receiving => "receiving",
            Received => "received",
            Accepted => "accepted",
            Scheduled => "scheduled",
            Read => "read",
            PartiallyDelivered => "partially_delivered",
            Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }

    /// Delivered, undelivered, failed, read, canceled: nothing follows these.
    pub fn is_final(self) -> bool {
        use MessageStatus::*;
        matches!(self, Delivered | Undelivered | Failed | Read | Canceled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_finality() {
        for s in ["queued", "sent", "delivered", "undelivered", "partially_delivered"] {
            assert_eq!(MessageStatus::parse(s).unwrap().as_str(), s);
        }
        for status in <MessageStatus as strum::IntoEnumIterator>::iter() {
            assert_eq!(MessageStatus::parse(status.as_str()), Some(status));
        }
        assert!(MessageStatus::Delivered.is_final());
        assert!(!MessageStatus::Sent.is_final());
        assert_eq!(MessageStatus::parse("bogus"), None);
    }
}
