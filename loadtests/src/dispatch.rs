//! Posting webhooks the way Twilio does: form-encoded, signed with the account's auth token in
//! `X-Twilio-Signature`. A semaphore bounds how many posts are in flight at once, so a slow
//! receiver backs up the callback timers, never the create path.

use std::sync::Arc;
use std::time::Duration;

use switchboard_sender::twilio::signature;
use tokio::sync::Semaphore;

use crate::config::CallbackConfig;

pub struct Dispatcher {
    client: reqwest::Client,
    permits: Arc<Semaphore>,
}

impl Dispatcher {
    pub fn new(config: &CallbackConfig) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms.max(1)))
            .pool_max_idle_per_host(config.max_in_flight.max(1))
            .user_agent("TwilioProxy/1.1")
            .build()
            .unwrap_or_default();
        Self { client, permits: Arc::new(Semaphore::new(config.max_in_flight.max(1))) }
    }

    /// POSTs `params` to `url` signed with `auth_token`; true when the receiver answered 2xx.
    pub async fn post_signed(&self, url: &str, auth_token: &str, params: &[(&str, String)]) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let signature = signature::sign(auth_token, url, params);
        let result = self
            .client
            .post(url)
            .header("X-Twilio-Signature", signature)
            .header("I-Twilio-Idempotency-Token", uuid_like(url, params))
            .form(params)
            .send()
            .await;
        match result {
            Ok(response) if response.status().is_success() => true,
            Ok(response) => {
                tracing::debug!(url, status = %response.status(), "webhook refused");
                false
            }
            Err(error) => {
                tracing::debug!(url, %error, "webhook failed");
                false
            }
        }
    }
}

/// A stable token per (url, params), like Twilio's idempotency header on retries.
fn uuid_like(url: &str, params: &[(&str, String)]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(url.as_bytes());
    for (k, v) in params {
        h.update(k.as_bytes());
        h.update(v.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}
