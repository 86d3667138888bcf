//! Ephemeral drops: short notes left on a topic for everyone there, gone after their TTL.
//! They live only in memory (and pass through Redis pub/sub between instances); nothing is
//! ever written to PostgreSQL.

use std::time::Duration;

use super::protocol::DropNote;

pub const DEFAULT_TTL: Duration = Duration::from_secs(30);
pub const MAX_TTL: Duration = Duration::from_secs(300);
pub const MIN_TTL: Duration = Duration::from_secs(1);
pub const MAX_TEXT_CHARS: usize = 280;
pub const MAX_ANCHOR_LEN: usize = 100;

/// The TTL a drop gets: the asked one clamped to 1 s ..= 5 min, 30 s when not given.
pub fn ttl(asked_ms: Option<u64>) -> Duration {
    asked_ms.map_or(DEFAULT_TTL, |ms| Duration::from_millis(ms).clamp(MIN_TTL, MAX_TTL))
}

/// Checks a drop's text and anchor; the error is the message for the client.
pub fn validate(text: &str, anchor: Option<&str>) -> Result<(), &'static str> {
    let chars = text.trim().chars().count();
    if chars == 0 || chars > MAX_TEXT_CHARS {
        return Err("A drop's text must be 1 to 280 characters.");
    }
    if anchor.is_some_and(|a| a.is_empty() || a.len() > MAX_ANCHOR_LEN) {
        return Err("A drop's anchor must be 1 to 100 characters.");
    }
    Ok(())
}

/// The live drops of one topic, shown to whoever subscribes before they fade.
#[derive(Default)]
pub struct DropBoard {
    notes: Vec<DropNote>,
}

impl DropBoard {
    pub fn add(&mut self, note: DropNote, now_ms: i64) {
        self.notes.retain(|n| n.expires_at > now_ms);
        self.notes.push(note);
    }

    pub fn live(&mut self, now_ms: i64) -> Vec<DropNote> {
        self.notes.retain(|n| n.expires_at > now_ms);
        self.notes.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_clamped() {
        assert_eq!(ttl(None), DEFAULT_TTL);
        assert_eq!(ttl(Some(10)), MIN_TTL);
        assert_eq!(ttl(Some(3_600_000)), MAX_TTL);
        assert!(validate("  ", None).is_err());
        assert!(validate(&"x".repeat(281), None).is_err());
        assert!(validate("hi", Some("ticket:1")).is_ok());
    }
}
