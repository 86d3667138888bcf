//! Twilio's side of our webhooks, as the tests play it: a carrier account registered through the
//! API with known credentials, and form posts signed as Twilio signs them (`X-Twilio-Signature`:
//! HMAC-SHA1 over the public URL and the sorted parameters, base64; `sender::twilio::signature`).

use reqwest::StatusCode;
use serde_json::json;
use switchboard_sender::twilio::signature;

use super::TestApp;

pub const SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "0123456789abcdef0123456789abcdef";
/// The app's public URL under `test_config`: what Twilio signs a webhook's URL with.
pub const PUBLIC: &str = "http://localhost:8080";

/// One of an account's webhook endpoints on the app under test.
pub struct Webhook {
    pub base: String,
    pub path: String,
}

impl Webhook {
    /// The signature Twilio sends with `params` for this endpoint when the auth token is `token`.
    pub fn sign(&self, token: &str, params: &[(&str, &str)]) -> String {
        signature::sign(token, &format!("{PUBLIC}{}", self.path), params)
    }

    /// Posts `params` signed with `token`; the status and body.
    pub async fn post(&self, params: &[(&str, &str)], token: &str) -> (StatusCode, String) {
        self.post_with_signature(params, &self.sign(token, params)).await
    }

    /// Posts correctly signed (with [`TOKEN`]) and expects 200; returns the body.
    pub async fn ok(&self, params: &[(&str, &str)]) -> String {
        let (status, body) = self.post(params, TOKEN).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Posts `params` as a form with `sig` as its `X-Twilio-Signature`.
    pub async fn post_with_signature(&self, params: &[(&str, &str)], sig: &str) -> (StatusCode, String) {
        let resp = reqwest::Client::new()
            .post(format!("{}{}", self.base, self.path))
            .header("x-twilio-signature", sig)
            .form(params)
            .send()
            .await
            .unwrap();
        (resp.status(), resp.text().await.unwrap())
    }
}

/// A carrier account in the demo workspace and its two webhook endpoints.
pub struct Account {
    pub workspace_id: String,
    pub id: String,
    pub inbound: Webhook,
    pub status: Webhook,
}

/// Registers an account ([`SID`], [`TOKEN`]) in the demo workspace through the API, as its admin.
pub async fn register_account(app: &TestApp) -> Account {
    let admin = app.signed_in("admin@demo.test").await;
    let ws = app.workspace_id("demo").await;
    let (status, account) = admin
        .post(
            &format!("/api/workspaces/{ws}/accounts"),
            json!({"name": "Main", "account_sid": SID, "auth_token": TOKEN}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    let id = account["id"].as_str().unwrap().to_owned();
    let hook = |kind: &str| Webhook { base: app.base().to_owned(), path: format!("/webhooks/twilio/{ws}/{id}/{kind}") };
    Account { inbound: hook("inbound"), status: hook("status"), workspace_id: ws, id }
}

/// The parameters Twilio posts for an inbound SMS to our demo number +12015550100.
pub fn inbound_params<'a>(sid: &'a str, from: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", SID),
        ("ApiVersion", "2010-04-01"),
        ("Body", body),
        ("From", from),
        ("MessageSid", sid),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("SmsMessageSid", sid),
        ("SmsSid", sid),
        ("SmsStatus", "received"),
        ("To", "+12015550100"),
    ]
}
