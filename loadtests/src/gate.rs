//! What every Messages API request passes before its handler runs, in Twilio's order: injected
//! faults that never answer, HTTP Basic authentication (401/20003), the per-account concurrency
//! limit (429/20429), then injected latency and errors.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;

use crate::error::ApiError;
use crate::ids;
use crate::lifecycle::probability;
use crate::state::{Account, SimState};

const FAULT_SALT: u64 = 0xFA17;

/// Holds one of the account's concurrent-request slots until dropped.
pub struct Admitted<'a> {
    pub account: &'a Account,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.account.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs the gate for a request on `account_sid`'s resources.
pub async fn admit<'a>(
    state: &'a Arc<SimState>,
    account_sid: &str,
    headers: &HeaderMap,
) -> Result<Admitted<'a>, ApiError> {
    let faults = state.behaviour().faults.clone();
    let mut rng = (faults != Default::default())
        .then(|| ids::rng(state.seed, FAULT_SALT, state.request_seq.fetch_add(1, Ordering::Relaxed)));
    if let Some(rng) = rng.as_mut()
        && rng.random_bool(probability(faults.hang_rate))
    {
        std::future::pending::<()>().await;
    }
    let account = authenticate(state, account_sid, headers)?;
    let in_flight = account.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
    let admitted = Admitted { account };
    if in_flight > account.max_concurrent {
        return Err(ApiError::too_many_requests());
    }
    if let Some(rng) = rng.as_mut() {
        let jitter = if faults.latency_jitter_ms > 0 { rng.random_range(0..=faults.latency_jitter_ms) } else { 0 };
        let wait = faults.latency_ms + jitter;
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        let draw: f64 = rng.random();
        if draw < faults.error_500_rate {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                20500,
                "An internal server error has occurred",
            ));
        }
        if draw < faults.error_500_rate + faults.error_503_rate {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                20503,
                "Service is unavailable. Please try again",
            ));
        }
        if draw < faults.error_500_rate + faults.error_503_rate + faults.error_429_rate {
            return Err(ApiError::too_many_requests());
        }
    }
    Ok(admitted)
}

/// The account in the path, when the request carries its SID and auth token, or one of its API
/// keys and the key's secret.
fn authenticate<'a>(state: &'a SimState, account_sid: &str, headers: &HeaderMap) -> Result<&'a Account, ApiError> {
    let account = state.accounts.get(account_sid).ok_or_else(ApiError::unauthenticated)?;
    let (user, password) = basic_credentials(headers).ok_or_else(ApiError::unauthenticated)?;
    let valid = if user == account.sid {
        constant_time_eq(password.as_bytes(), account.auth_token.as_bytes())
    } else {
        account
            .api_keys
            .iter()
            .any(|(sid, secret)| *sid == user && constant_time_eq(password.as_bytes(), secret.as_bytes()))
    };
    if valid { Ok(account) } else { Err(ApiError::unauthenticated()) }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
