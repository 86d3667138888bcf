//! The Twilio REST client: create, fetch and list Messages over pooled HTTP (reqwest, rustls),
//! against a base URL per account (Twilio itself or the simulator). Every create returns a
//! classified [`SendOutcome`]; nothing here panics or retries on its own — the engine decides.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use url::Url;

use super::outcome::{RetryReason, SendOutcome};
use super::resource::{ErrorBody, MessagePage, MessageResource};
use crate::phone::E164;

pub const TWILIO_BASE_URL: &str = "https://api.twilio.com";

/// HTTP Basic credentials: the Account SID and auth token, or an API key SID (SK...) and secret.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"***").finish()
    }
}

/// Where and as whom to call for one Twilio account.
#[derive(Clone, Debug)]
pub struct AccountEndpoint {
    pub account_sid: String,
    pub base_url: Url,
    pub credentials: Credentials,
}

impl AccountEndpoint {
    fn messages_url(&self) -> Result<Url, url::ParseError> {
        self.base_url.join(&format!("/2010-04-01/Accounts/{}/Messages.json", self.account_sid))
    }

    /// What every create to this account sends the same, made once: its Messages URL and its
    /// Authorization header (a sender calling thousands of times a second spent ~7% of its CPU
    /// parsing URLs per message).
    pub fn prepare(&self) -> Result<PreparedAccount, url::ParseError> {
        let basic = format!("{}:{}", self.credentials.username, self.credentials.password);
        let mut authorization =
            HeaderValue::try_from(format!("Basic {}", BASE64.encode(basic))).expect("base64 is a valid header value");
        authorization.set_sensitive(true);
        Ok(PreparedAccount { messages: self.messages_url()?, authorization })
    }
}

/// An account ready to create messages with ([`AccountEndpoint::prepare`]). Its Debug output
/// hides the credentials.
#[derive(Clone, Debug)]
pub struct PreparedAccount {
    messages: Url,
    authorization: HeaderValue,
}

/// Who the message is from: a number of ours, or a messaging service (Twilio picks the number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sender {
    Number(E164),
    MessagingService(String),
}

/// A create-message request. `body` and/or `media_urls` must be present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub to: E164,
    pub from: Sender,
    pub body: Option<String>,
    pub media_urls: Vec<Url>,
    pub status_callback: Option<Url>,
    /// Seconds (1–36000) Twilio may keep it queued.
    pub validity_period: Option<u32>,
}

impl NewMessage {
    /// The form body, with parameters exactly as Twilio's CreateMessage names them.
    pub fn form_body(&self) -> String {
        let mut form = form_urlencoded::Serializer::new(String::with_capacity(256));
        form.append_pair("To", self.to.as_str());
        match &self.from {
            Sender::Number(n) => form.append_pair("From", n.as_str()),
            Sender::MessagingService(sid) => form.append_pair("MessagingServiceSid", sid),
        };
        if let Some(body) = &self.body {
            form.append_pair("Body", body);
        }
        for url in &self.media_urls {
            form.append_pair("MediaUrl", url.as_str());
        }
        if let Some(cb) = &self.status_callback {
            form.append_pair("StatusCallback", cb.as_str());
        }
        if let Some(v) = self.validity_period {
            form.append_pair("ValidityPeriod", &v.to_string());
        }
        form.finish()
    }
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub connect_timeout: Duration,
    /// Whole-request deadline; past it the outcome is `Retryable { maybe_accepted: true }`.
    pub request_timeout: Duration,
    /// Idle pooled connections kept per host (bounds the sockets a burst leaves open).
    pub max_idle_per_host: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            max_idle_per_host: 64,
        }
    }
}

/// Errors of the read endpoints (fetch, list).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("Twilio answered {status}: {body:?}")]
    Twilio { status: u16, body: Option<ErrorBody> },
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("bad base URL: {0}")]
    Url(#[from] url::ParseError),
}

#[derive(Clone, Debug)]
pub struct TwilioClient {
    http: reqwest::Client,
}

impl TwilioClient {
    pub fn new(config: &ClientConfig) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_max_idle_per_host(config.max_idle_per_host)
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            // The engine decides every retry (a create repeated by the transport could text
            // twice), and Twilio's API never redirects.
            .retry(reqwest::retry::never())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client with rustls builds");
        Self { http }
    }

    /// `POST /2010-04-01/Accounts/{sid}/Messages.json`, classified.
    pub async fn create_message(&self, account: &AccountEndpoint, message: &NewMessage) -> SendOutcome {
        match account.prepare() {
            Ok(prepared) => self.create_prepared(&prepared, message).await,
            Err(e) => SendOutcome::Invalid { code: 0, message: format!("bad base URL: {e}") },
        }
    }

    /// [`create_message`](Self::create_message) to an account prepared once.
    pub async fn create_prepared(&self, account: &PreparedAccount, message: &NewMessage) -> SendOutcome {
        let sent = self
            .http
            .post(account.messages.clone())
            .header(AUTHORIZATION, account.authorization.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(message.form_body())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => return transport_outcome(&e),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return transport_outcome(&e),
        };
        if status == StatusCode::CREATED || status == StatusCode::OK {
            return match serde_json::from_slice::<MessageResource>(&bytes) {
                Ok(resource) => SendOutcome::Accepted(Box::new(resource)),
                // Twilio said yes but the body is unreadable: it may well have been accepted.
                Err(_) => SendOutcome::Retryable {
                    reason: RetryReason::ServerError(status.as_u16()),
                    maybe_accepted: true,
                    retry_after: None,
                },
            };
        }
        SendOutcome::from_error(status.as_u16(), serde_json::from_slice(&bytes).ok(), retry_after)
    }

    /// `GET .../Messages/{sid}.json`.
    pub async fn fetch_message(&self, account: &AccountEndpoint, sid: &str) -> Result<MessageResource, FetchError> {
        let url =
            account.base_url.join(&format!("/2010-04-01/Accounts/{}/Messages/{sid}.json", account.account_sid))?;
        self.get_json(account, url).await
    }

    /// `GET .../Messages.json` filtered by To and/or From, one page.
    pub async fn list_messages(
        &self,
        account: &AccountEndpoint,
        to: Option<&E164>,
        from: Option<&E164>,
        page_size: u32,
    ) -> Result<MessagePage, FetchError> {
        let mut url = account.messages_url()?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(to) = to {
                q.append_pair("To", to.as_str());
            }
            if let Some(from) = from {
                q.append_pair("From", from.as_str());
            }
            q.append_pair("PageSize", &page_size.to_string());
        }
        self.get_json(account, url).await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        account: &AccountEndpoint,
        url: Url,
    ) -> Result<T, FetchError> {
        let response = self
            .http
            .get(url)
            .basic_auth(&account.credentials.username, Some(&account.credentials.password))
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            return Err(FetchError::Twilio { status: status.as_u16(), body: serde_json::from_slice(&bytes).ok() });
        }
        serde_json::from_slice(&bytes).map_err(|_| FetchError::Twilio { status: status.as_u16(), body: None })
    }
}

/// A transport failure: before the request left (connect) it is safe to retry; after (timeout,
/// reset mid-answer) Twilio may have accepted it.
fn transport_outcome(e: &reqwest::Error) -> SendOutcome {
    let reason = if e.is_timeout() { RetryReason::Timeout } else { RetryReason::Connection };
    SendOutcome::Retryable { reason, maybe_accepted: !e.is_connect(), retry_after: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_uses_twilio_parameter_names() {
        let msg = NewMessage {
            to: E164::parse("+14155550100").unwrap(),
            from: Sender::Number(E164::parse("+14155550199").unwrap()),
            body: Some("hi".into()),
            media_urls: vec![
                "https://example.com/a.jpg".parse().unwrap(),
                "https://example.com/b.jpg".parse().unwrap(),
            ],
            status_callback: Some("https://sb.example.com/webhooks/twilio/status".parse().unwrap()),
            validity_period: Some(600),
        };
        let body = msg.form_body();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
        let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["To", "From", "Body", "MediaUrl", "MediaUrl", "StatusCallback", "ValidityPeriod"]);
        assert_eq!(pairs[0].1, "+14155550100");
        assert_eq!(pairs[5].1, "https://sb.example.com/webhooks/twilio/status");
        let svc = NewMessage { from: Sender::MessagingService("MG123".into()), ..msg };
        assert!(svc.form_body().contains("MessagingServiceSid=MG123"));
    }

    #[test]
    fn credentials_never_print_the_secret() {
        let c = Credentials { username: "AC1".into(), password: "topsecret".into() };
        assert!(!format!("{c:?}").contains("topsecret"));
        let account = AccountEndpoint {
            account_sid: "AC1".into(),
            base_url: "https://api.twilio.com".parse().unwrap(),
            credentials: c,
        };
        let prepared = account.prepare().unwrap();
        assert_eq!(prepared.messages.as_str(), "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json");
        assert_eq!(prepared.authorization.to_str().unwrap(), format!("Basic {}", BASE64.encode("AC1:topsecret")));
        assert!(!format!("{prepared:?}").contains(&BASE64.encode("AC1:topsecret")));
    }
}
