//! The Twilio REST client: create, fetch and list Messages over pooled HTTP/1.1 (hyper's client
//! with rustls and the platform's certificate verifier), against a base URL per account (Twilio
//! itself or the simulator). Every create returns a classified [`SendOutcome`]; nothing here
//! follows a redirect, retries a request that was sent, or panics — the engine decides.
//!
//! hyper rather than reqwest: at thousands of creates a second the client is a large share of the
//! engine's CPU, and reqwest's layers (redirect policy, retry policy, URL re-parsing) sit on top
//! of this same client. Without them the engine needs 22% less CPU a message (docs/benchmarks.md,
//! session 14).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_platform_verifier::BuilderVerifierExt as _;
use url::Url;

use super::outcome::{RetryReason, SendOutcome};
use super::resource::{Created, ErrorBody, MessagePage, MessageResource};
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

    /// What every create to this account sends the same, made once: its Messages URI and its
    /// Authorization header (a sender calling thousands of times a second spent ~7% of its CPU
    /// parsing URLs per message).
    pub fn prepare(&self) -> Result<PreparedAccount, BadBaseUrl> {
        Ok(PreparedAccount { messages: to_uri(&self.messages_url()?)?, authorization: self.authorization() })
    }

    fn authorization(&self) -> HeaderValue {
        let basic = format!("{}:{}", self.credentials.username, self.credentials.password);
        let mut authorization =
            HeaderValue::try_from(format!("Basic {}", BASE64.encode(basic))).expect("base64 is a valid header value");
        authorization.set_sensitive(true);
        authorization
    }
}

/// An account's base URL that makes no request URI.
#[derive(Debug, thiserror::Error)]
#[error("bad base URL: {0}")]
pub struct BadBaseUrl(String);

impl From<url::ParseError> for BadBaseUrl {
    fn from(e: url::ParseError) -> Self {
        Self(e.to_string())
    }
}

fn to_uri(url: &Url) -> Result<Uri, BadBaseUrl> {
    Uri::try_from(url.as_str()).map_err(|e| BadBaseUrl(e.to_string()))
}

/// An account ready to create messages with ([`AccountEndpoint::prepare`]). Its Debug output
/// hides the credentials.
#[derive(Clone, Debug)]
pub struct PreparedAccount {
    messages: Uri,
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
    Transport(#[from] TransportError),
    #[error(transparent)]
    Url(#[from] BadBaseUrl),
}

/// A request that got no complete answer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No connection was made, so nothing was sent.
    #[error("connecting: {0}")]
    Connect(#[source] hyper_util::client::legacy::Error),
    /// The request may have reached the server.
    #[error("{0}")]
    Request(#[source] hyper_util::client::legacy::Error),
    #[error("reading the answer: {0}")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// The most of an answer read: Twilio's are a few KiB; a server sending more is not Twilio.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// A complete answer: its status, its Retry-After (seconds) and its body.
struct Answer {
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Bytes,
}

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

#[derive(Clone, Debug)]
pub struct TwilioClient {
    http: Client<Https, Full<Bytes>>,
    request_timeout: Duration,
}

impl TwilioClient {
    pub fn new(config: &ClientConfig) -> Self {
        let mut tcp = HttpConnector::new();
        tcp.set_connect_timeout(Some(config.connect_timeout));
        tcp.set_nodelay(true);
        tcp.enforce_http(false);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_platform_verifier())
            .expect("rustls' default protocols and the platform verifier configure")
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        // The engine decides every retry (a create repeated by the transport could text twice).
        // hyper repeats nothing that was written to a socket and follows no redirect (Twilio's
        // API never redirects).
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(config.max_idle_per_host)
            .pool_idle_timeout(Duration::from_secs(90))
            .build(https);
        Self { http, request_timeout: config.request_timeout }
    }

    /// `POST /2010-04-01/Accounts/{sid}/Messages.json`, classified.
    pub async fn create_message(&self, account: &AccountEndpoint, message: &NewMessage) -> SendOutcome {
        match account.prepare() {
            Ok(prepared) => self.create_prepared(&prepared, message).await,
            Err(e) => SendOutcome::Invalid { code: 0, message: e.to_string() },
        }
    }

    /// [`create_message`](Self::create_message) to an account prepared once.
    pub async fn create_prepared(&self, account: &PreparedAccount, message: &NewMessage) -> SendOutcome {
        let request = Request::builder()
            .method(Method::POST)
            .uri(account.messages.clone())
            .header(AUTHORIZATION, account.authorization.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"))
            .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE))
            .body(Full::new(Bytes::from(message.form_body())))
            .expect("a prepared URI and static headers make a request");
        let answer = match self.exchange(request).await {
            Ok(answer) => answer,
            Err(e) => return transport_outcome(&e),
        };
        if answer.status == StatusCode::CREATED || answer.status == StatusCode::OK {
            return match serde_json::from_slice::<Created>(&answer.body) {
                Ok(created) => SendOutcome::Accepted(created),
                // Twilio said yes but the body is unreadable: it may well have been accepted.
                Err(_) => SendOutcome::Retryable {
                    reason: RetryReason::ServerError(answer.status.as_u16()),
                    maybe_accepted: true,
                    retry_after: None,
                },
            };
        }
        SendOutcome::from_error(answer.status.as_u16(), serde_json::from_slice(&answer.body).ok(), answer.retry_after)
    }

    /// `GET .../Messages/{sid}.json`.
    pub async fn fetch_message(&self, account: &AccountEndpoint, sid: &str) -> Result<MessageResource, FetchError> {
        let url = account.base_url.join(&format!("/2010-04-01/Accounts/{}/Messages/{sid}.json", account.account_sid));
        let url = url.map_err(BadBaseUrl::from)?;
        self.get_json(account, &url).await
    }

    /// `GET .../Messages.json` filtered by To and/or From, one page.
    pub async fn list_messages(
        &self,
        account: &AccountEndpoint,
        to: Option<&E164>,
        from: Option<&E164>,
        page_size: u32,
    ) -> Result<MessagePage, FetchError> {
        let mut url = account.messages_url().map_err(BadBaseUrl::from)?;
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
        self.get_json(account, &url).await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        account: &AccountEndpoint,
        url: &Url,
    ) -> Result<T, FetchError> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(to_uri(url)?)
            .header(AUTHORIZATION, account.authorization())
            .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE))
            .body(Full::new(Bytes::new()))
            .expect("a parsed URI and static headers make a request");
        let answer = self.exchange(request).await?;
        let status = answer.status.as_u16();
        if !answer.status.is_success() {
            return Err(FetchError::Twilio { status, body: serde_json::from_slice(&answer.body).ok() });
        }
        serde_json::from_slice(&answer.body).map_err(|_| FetchError::Twilio { status, body: None })
    }

    /// Sends `request` and reads its whole answer, within the request timeout.
    async fn exchange(&self, request: Request<Full<Bytes>>) -> Result<Answer, TransportError> {
        let exchange = async {
            let response =
                self.http.request(request).await.map_err(|e| {
                    if e.is_connect() { TransportError::Connect(e) } else { TransportError::Request(e) }
                })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_ANSWER_BYTES).collect().await.map_err(TransportError::Body)?.to_bytes();
            let retry_after = parts
                .headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_secs);
            Ok(Answer { status: parts.status, retry_after, body })
        };
        tokio::time::timeout(self.request_timeout, exchange)
            .await
            .unwrap_or(Err(TransportError::Timeout(self.request_timeout)))
    }
}

const USER_AGENT_VALUE: &str = concat!("switchboard/", env!("CARGO_PKG_VERSION"));

/// A transport failure: before the request left (connect) it is safe to retry; after (timeout,
/// reset mid-answer) Twilio may have accepted it.
fn transport_outcome(e: &TransportError) -> SendOutcome {
    let reason = if matches!(e, TransportError::Timeout(_)) { RetryReason::Timeout } else { RetryReason::Connection };
    SendOutcome::Retryable { reason, maybe_accepted: !matches!(e, TransportError::Connect(_)), retry_after: None }
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
        assert_eq!(prepared.messages.to_string(), "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json");
        assert_eq!(prepared.authorization.to_str().unwrap(), format!("Basic {}", BASE64.encode("AC1:topsecret")));
        assert!(!format!("{prepared:?}").contains(&BASE64.encode("AC1:topsecret")));
    }
}
