//! What a create-message attempt means for the engine. Every HTTP answer (or failure to get one)
//! maps to exactly one `SendOutcome`, following Twilio's documented error codes (FACTS.md).

use std::time::Duration;

use super::resource::{Created, ErrorBody};

/// The result of one create-message call, classified for the engine.
#[derive(Clone, Debug, PartialEq)]
pub enum SendOutcome {
    /// Twilio accepted it (201).
    Accepted(Created),
    /// This recipient can never be texted this way: invalid (21211), not mobile (21614),
    /// outside geo permissions (21408), unroutable (21612). Suppress the recipient for good.
    RecipientPermanent { code: i64, message: String },
    /// The recipient unsubscribed at the carrier (21610): record a workspace opt-out.
    OptedOut { code: i64, message: String },
    /// Try again later, preferably on another account: throttled (429/20429), a server error
    /// (5xx), or a transport failure. `maybe_accepted` is true when the request may have reached
    /// Twilio (a timeout after sending): reconcile by listing messages before any resend, because
    /// at-most-once beats a double text.
    Retryable { reason: RetryReason, maybe_accepted: bool, retry_after: Option<Duration> },
    /// The account itself is failing (20003 bad credentials, 20005 suspended, other 401/403):
    /// open its circuit breaker.
    AccountFailing { code: i64, message: String },
    /// The sending number cannot take more right now (21611: more than 10 h queued) or is not
    /// usable (21606 not SMS-capable or not ours, 21212 invalid From): pick another number
    /// only if the recipient was never texted from this one (sticky sender).
    SenderUnavailable { code: i64, message: String },
    /// The request itself is wrong (e.g. 21602 no body, 21617 body too long): fix the message.
    Invalid { code: i64, message: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryReason {
    Throttled,
    ServerError(u16),
    Timeout,
    Connection,
}

impl SendOutcome {
    /// Classifies a non-201 Twilio answer from its HTTP status, body, and Retry-After.
    pub fn from_error(status: u16, body: Option<ErrorBody>, retry_after: Option<Duration>) -> Self {
        let code = body.as_ref().map(|b| b.code).unwrap_or(0);
        let message = body.map(|b| b.message).unwrap_or_else(|| format!("HTTP {status} without a Twilio error body"));
        match (status, code) {
            (429, _) | (_, 20429) => {
                Self::Retryable { reason: RetryReason::Throttled, maybe_accepted: false, retry_after }
            }
            (500..=599, _) => {
                Self::Retryable { reason: RetryReason::ServerError(status), maybe_accepted: false, retry_after }
            }
            (_, 21610) => Self::OptedOut { code, message },
            (_, 21211 | 21614 | 21408 | 21612) => Self::RecipientPermanent { code, message },
            (_, 21611 | 21606 | 21212) => Self::SenderUnavailable { code, message },
            (401 | 403, _) | (_, 20003 | 20005) => Self::AccountFailing { code, message },
            _ => Self::Invalid { code, message },
        }
    }

    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted(_))
    }

    /// The Twilio error code, when the outcome carries one.
    pub fn error_code(&self) -> Option<i64> {
        match self {
            Self::RecipientPermanent { code, .. }
            | Self::OptedOut { code, .. }
            | Self::AccountFailing { code, .. }
            | Self::SenderUnavailable { code, .. }
            | Self::Invalid { code, .. } => Some(*code),
            Self::Retryable { reason: RetryReason::Throttled, .. } => Some(20429),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, code: i64) -> SendOutcome {
        SendOutcome::from_error(status, Some(ErrorBody::new(status, code, "x")), None)
    }

    #[test]
    fn every_documented_code_has_its_class() {
        assert!(matches!(err(400, 21211), SendOutcome::RecipientPermanent { code: 21211, .. }));
        assert!(matches!(err(400, 21614), SendOutcome::RecipientPermanent { .. }));
        assert!(matches!(err(400, 21408), SendOutcome::RecipientPermanent { .. }));
        assert!(matches!(err(400, 21610), SendOutcome::OptedOut { .. }));
        assert!(matches!(err(400, 21611), SendOutcome::SenderUnavailable { code: 21611, .. }));
        assert!(matches!(err(401, 20003), SendOutcome::AccountFailing { code: 20003, .. }));
        assert!(matches!(err(429, 20429), SendOutcome::Retryable { reason: RetryReason::Throttled, .. }));
        assert!(matches!(err(503, 20500), SendOutcome::Retryable { reason: RetryReason::ServerError(503), .. }));
        assert!(matches!(err(400, 21602), SendOutcome::Invalid { code: 21602, .. }));
    }

    #[test]
    fn bodiless_answers_still_classify() {
        assert!(matches!(SendOutcome::from_error(502, None, None), SendOutcome::Retryable { .. }));
        assert!(matches!(SendOutcome::from_error(401, None, None), SendOutcome::AccountFailing { code: 0, .. }));
        let throttled = SendOutcome::from_error(429, None, Some(Duration::from_secs(2)));
        assert_eq!(throttled.error_code(), Some(20429));
        assert!(matches!(throttled, SendOutcome::Retryable { retry_after: Some(d), .. } if d.as_secs() == 2));
    }
}
