//! A simulated message: what was asked, its timeline (queued → sent → final) fixed at create,
//! and its Twilio resource as of any moment, so GET needs no background bookkeeping.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use switchboard_sender::twilio::resource::{MessageResource, MessageStatus};

pub const API_VERSION: &str = "2010-04-01";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    OutboundApi,
    Inbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::OutboundApi => "outbound-api",
            Direction::Inbound => "inbound",
        }
    }
}

/// How a message ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: MessageStatus,
    pub error_code: Option<u16>,
}

impl Outcome {
    pub const DELIVERED: Outcome = Outcome { status: MessageStatus::Delivered, error_code: None };

    /// The final status Twilio reports with `code`: failed for errors that stop a message
    /// before the carrier (14107, 30001, 30034, 30036), undelivered for carrier errors.
    pub fn error(code: u16) -> Outcome {
        let status = match code {
            14107 | 30001 | 30034 | 30036 => MessageStatus::Failed,
            _ => MessageStatus::Undelivered,
        };
        Outcome { status, error_code: Some(code) }
    }
}

#[derive(Clone, Debug)]
pub struct Message {
    pub seq: u64,
    pub sid: String,
    pub account_sid: String,
    pub from: String,
    pub to: String,
    pub body: String,
    pub messaging_service_sid: Option<String>,
    pub num_media: usize,
    pub num_segments: usize,
    pub direction: Direction,
    pub status_callback: Option<String>,
    pub created_ms: i64,
    /// Leaves the From's queue ("sending").
    pub send_ms: i64,
    /// "sent" (not for messages that fail before the carrier).
    pub sent_ms: i64,
    pub final_ms: i64,
    pub outcome: Outcome,
}

/// One accepted create, as `GET /sim/record` and `SimHandle::record` list it.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct RecordEntry {
    pub seq: u64,
    pub sid: String,
    pub account: String,
    pub from: String,
    pub to: String,
    pub messaging_service_sid: Option<String>,
    pub body_len: usize,
    pub body_sha256: String,
    pub num_segments: usize,
    pub accepted_at_ms: i64,
}

pub fn rfc2822(ms: i64) -> Option<String> {
    // Twilio pads the day to two digits ("Tue, 01 Dec 2026 ..."); chrono's `to_rfc2822` does not.
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.format("%a, %d %b %Y %H:%M:%S +0000").to_string())
}

impl Message {
    /// The initial status: what create answers and what no callback reports.
    pub fn initial_status(&self) -> MessageStatus {
        match (self.direction, &self.messaging_service_sid) {
            (Direction::Inbound, _) => MessageStatus::Received,
            (Direction::OutboundApi, Some(_)) => MessageStatus::Accepted,
            (Direction::OutboundApi, None) => MessageStatus::Queued,
        }
    }

    fn fails_before_carrier(&self) -> bool {
        self.outcome.status == MessageStatus::Failed
    }

    /// The status at `now_ms` and when it began.
    pub fn status_at(&self, now_ms: i64) -> (MessageStatus, i64) {
        if self.direction == Direction::Inbound {
            return (MessageStatus::Received, self.created_ms);
        }
        if now_ms >= self.final_ms {
            (self.outcome.status, self.final_ms)
        } else if now_ms >= self.sent_ms && !self.fails_before_carrier() {
            (MessageStatus::Sent, self.sent_ms)
        } else if now_ms >= self.send_ms {
            (MessageStatus::Sending, self.send_ms)
        } else {
            (self.initial_status(), self.created_ms)
        }
    }

    pub fn uri(&self) -> String {
        format!("/2010-04-01/Accounts/{}/Messages/{}.json", self.account_sid, self.sid)
    }

    /// The resource as create answers it: always the initial status.
    pub fn created_resource(&self) -> MessageResource {
        self.resource(self.initial_status(), self.created_ms)
    }

    /// The resource as a fetch at `now_ms` sees it.
    pub fn resource_at(&self, now_ms: i64) -> MessageResource {
        let (status, since) = self.status_at(now_ms);
        self.resource(status, since)
    }

    fn resource(&self, status: MessageStatus, since: i64) -> MessageResource {
        let reached_carrier = matches!(
            status,
            MessageStatus::Sent | MessageStatus::Delivered | MessageStatus::Undelivered | MessageStatus::Received
        );
        let date_sent = match self.direction {
            Direction::Inbound => rfc2822(self.created_ms),
            Direction::OutboundApi if reached_carrier => rfc2822(self.sent_ms),
            Direction::OutboundApi => None,
        };
        let priced = reached_carrier && status != MessageStatus::Sent;
        let uri = self.uri();
        let media = format!("{}/Media.json", uri.trim_end_matches(".json"));
        let date_created = rfc2822(self.created_ms);
        let date_updated = if since == self.created_ms { date_created.clone() } else { rfc2822(since) };
        MessageResource {
            account_sid: self.account_sid.clone(),
            api_version: API_VERSION.to_owned(),
            body: self.body.clone(),
            date_created,
            date_sent,
            date_updated,
            direction: self.direction.as_str().to_owned(),
            error_code: if status.is_final() { self.outcome.error_code.map(i64::from) } else { None },
            error_message: None,
            from: Some(self.from.clone()),
            messaging_service_sid: self.messaging_service_sid.clone(),
            num_media: self.num_media.to_string(),
            num_segments: self.num_segments.to_string(),
            price: priced.then(|| format!("-{:.5}", 0.0079 * self.num_segments as f64)),
            price_unit: Some("USD".to_owned()),
            sid: self.sid.clone(),
            status: status.as_str().to_owned(),
            subresource_uris: Some(serde_json::json!({ "media": media })),
            to: self.to.clone(),
            uri,
        }
    }

    pub fn record_entry(&self) -> RecordEntry {
        RecordEntry {
            seq: self.seq,
            sid: self.sid.clone(),
            account: self.account_sid.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            messaging_service_sid: self.messaging_service_sid.clone(),
            body_len: self.body.chars().count(),
            body_sha256: hex::encode(Sha256::digest(self.body.as_bytes())),
            num_segments: self.num_segments,
            accepted_at_ms: self.created_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc2822_like_twilio() {
        assert_eq!(rfc2822(1_692_853_305_000).as_deref(), Some("Thu, 24 Aug 2023 05:01:45 +0000"));
        // A single-digit day is padded, as Twilio writes it.
        assert_eq!(rfc2822(1_796_094_044_000).as_deref(), Some("Tue, 01 Dec 2026 03:00:44 +0000"));
    }
}
