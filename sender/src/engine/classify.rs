//! What the engine does with each carrier answer (DESIGN.md "Classify", FACTS.md retry rules).
//! Pure: a [`SendOutcome`] and the row's attempt count in, a [`Disposition`] out.

use std::time::Duration;

use crate::twilio::outcome::{RetryReason, SendOutcome};

/// After this many calls that did not go through, a row fails for good.
pub const MAX_ATTEMPTS: i32 = 8;

/// How an outbox row ends (or does not) after one call.
#[derive(Clone, Debug, PartialEq)]
pub enum Disposition {
    /// Accepted: the row is `sent`.
    Sent { sid: String, status: String },
    /// 21610: the recipient unsubscribed at the carrier; record a workspace opt-out. Row `failed`.
    OptedOut { code: i64 },
    /// The number can never take SMS from us: `invalid` (21211, 21612) or `landline` (21614).
    /// Recorded as undeliverable; row `failed`.
    Undeliverable { code: i64, reason: &'static str },
    /// Failed for good without saying anything about the recipient (21408 geo permissions, a bad
    /// request, too many attempts). Row `failed`.
    Failed { code: Option<i64> },
    /// Nothing was sent; try again after `after`. `account_fault` counts against the account's
    /// circuit breaker; `account_down` marks the account failing (bad credentials).
    Retry { after: Duration, code: Option<i64>, account_fault: bool, account_down: bool },
    /// The request may have reached Twilio (a timeout): `unknown`, never resent.
    Unknown,
    /// Recorded but not called: the recipient opted out between the claim and the call. Row
    /// `canceled`.
    Withheld,
    /// Recorded but not called: the account's breaker opened between the claim and the call.
    /// The row goes back to the queue after `after`. Its attempt stays counted toward
    /// [`MAX_ATTEMPTS`]: the claim recorded it (its send-log row and the histories), so the next
    /// claim judges the row as a retry, past the cooldowns that record would otherwise trip.
    Held { after: Duration },
}

impl Disposition {
    /// The row's final state, or None when it goes back to the queue.
    pub fn final_state(&self) -> Option<&'static str> {
        match self {
            Disposition::Sent { .. } => Some("sent"),
            Disposition::OptedOut { .. } | Disposition::Undeliverable { .. } | Disposition::Failed { .. } => {
                Some("failed")
            }
            Disposition::Unknown => Some("unknown"),
            Disposition::Withheld => Some("canceled"),
            Disposition::Retry { .. } | Disposition::Held { .. } => None,
        }
    }

    /// The Twilio error code, if the answer carried one.
    pub fn error_code(&self) -> Option<i64> {
        match self {
            Disposition::OptedOut { code } | Disposition::Undeliverable { code, .. } => Some(*code),
            Disposition::Failed { code } | Disposition::Retry { code, .. } => *code,
            Disposition::Sent { .. } | Disposition::Unknown | Disposition::Withheld | Disposition::Held { .. } => None,
        }
    }
}

/// Exponential backoff after the `attempts`-th call: 0.5, 1, 2, 4 ... seconds, at most 30, and
/// never sooner than the carrier's Retry-After.
pub fn backoff(attempts: i32, retry_after: Option<Duration>) -> Duration {
    let exp = Duration::from_millis(500 << (attempts.clamp(1, 8) - 1)).min(Duration::from_secs(30));
    retry_after.map_or(exp, |r| r.max(exp))
}

/// Classifies one answer for a row that has now been called `attempts` times.
pub fn classify(outcome: SendOutcome, attempts: i32) -> Disposition {
    let retry = |after: Duration, code: Option<i64>, account_fault: bool, account_down: bool| {
        if attempts >= MAX_ATTEMPTS {
            Disposition::Failed { code }
        } else {
            Disposition::Retry { after, code, account_fault, account_down }
        }
    };
    match outcome {
        SendOutcome::Accepted(created) => Disposition::Sent { sid: created.sid, status: created.status },
        SendOutcome::OptedOut { code, .. } => Disposition::OptedOut { code },
        SendOutcome::RecipientPermanent { code: code @ (21211 | 21612), .. } => {
            Disposition::Undeliverable { code, reason: "invalid" }
        }
        SendOutcome::RecipientPermanent { code: code @ 21614, .. } => {
            Disposition::Undeliverable { code, reason: "landline" }
        }
        SendOutcome::RecipientPermanent { code, .. } => Disposition::Failed { code: Some(code) },
        SendOutcome::Retryable { maybe_accepted: true, .. } => Disposition::Unknown,
        SendOutcome::Retryable { reason, retry_after, .. } => {
            let code = match reason {
                RetryReason::Throttled => Some(20429),
                _ => None,
            };
            retry(backoff(attempts, retry_after), code, true, false)
        }
        SendOutcome::AccountFailing { code, .. } => retry(Duration::from_secs(30), Some(code), true, true),
        // 21611: this number has 10 h of messages queued at Twilio; wait, keep the number (sticky).
        SendOutcome::SenderUnavailable { code: 21611, .. } => {
            retry(Duration::from_secs(300), Some(21611), false, false)
        }
        SendOutcome::SenderUnavailable { code, .. } | SendOutcome::Invalid { code, .. } => {
            Disposition::Failed { code: Some(code) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn twilio_error(status: u16, code: i64) -> SendOutcome {
        let body = crate::twilio::resource::ErrorBody { code, message: "x".into(), more_info: None, status };
        SendOutcome::from_error(status, Some(body), None)
    }

    #[test]
    fn carrier_answers_map_to_what_the_engine_does() {
        assert_eq!(classify(twilio_error(400, 21610), 1), Disposition::OptedOut { code: 21610 });
        assert_eq!(
            classify(twilio_error(400, 21211), 1),
            Disposition::Undeliverable { code: 21211, reason: "invalid" }
        );
        assert_eq!(
            classify(twilio_error(400, 21614), 1),
            Disposition::Undeliverable { code: 21614, reason: "landline" }
        );
        assert_eq!(classify(twilio_error(400, 21408), 1), Disposition::Failed { code: Some(21408) });
        assert!(matches!(
            classify(twilio_error(429, 20429), 1),
            Disposition::Retry { account_fault: true, account_down: false, .. }
        ));
        assert!(matches!(classify(twilio_error(503, 0), 2), Disposition::Retry { account_fault: true, .. }));
        assert!(matches!(classify(twilio_error(401, 20003), 1), Disposition::Retry { account_down: true, .. }));
        assert_eq!(classify(twilio_error(503, 0), MAX_ATTEMPTS), Disposition::Failed { code: None });
        let timeout = SendOutcome::Retryable { reason: RetryReason::Timeout, maybe_accepted: true, retry_after: None };
        assert_eq!(classify(timeout, 1), Disposition::Unknown, "a maybe-accepted call is never resent");
    }

    #[test]
    fn backoff_doubles_and_respects_retry_after() {
        assert_eq!(backoff(1, None), Duration::from_millis(500));
        assert_eq!(backoff(3, None), Duration::from_secs(2));
        assert_eq!(backoff(20, None), Duration::from_secs(30));
        assert_eq!(backoff(1, Some(Duration::from_secs(30))), Duration::from_secs(30));
    }
}
