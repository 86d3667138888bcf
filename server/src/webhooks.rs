//! Twilio webhooks: inbound messages and status callbacks for one carrier account, at
//! `/webhooks/twilio/{workspace_id}/{account_id}/inbound` and `.../status` (the URLs to set on
//! the account's numbers and as StatusCallback).
//!
//! Nothing is read, stored or answered before the X-Twilio-Signature checks out against the
//! account's auth token and the public URL (invariant 5: badly signed → 403, stored nowhere).
//! Processing then runs in one transaction in `sender::inbound`, so a crash midway stores
//! nothing and Twilio's retry stores it once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use switchboard_sender::compliance::{ReplyIntent, classify_reply};
use switchboard_sender::inbound::{self, CallbackTarget, InboundMessage, InboundOutcome, StatusCallback};
use switchboard_sender::twilio::resource::MessageStatus;
use switchboard_sender::twilio::signature;
use switchboard_sender::{E164, WorkspaceId, accounts};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::Path;
use crate::state::AppState;

#[derive(serde::Deserialize)]
pub struct AccountPath {
    workspace_id: WorkspaceId,
    account_id: Uuid,
}

/// The form parameters of a webhook whose signature has been verified.
struct Signed {
    params: Vec<(String, String)>,
}

impl Signed {
    fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn require(&self, name: &'static str) -> ApiResult<&str> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::validation(name, format!("{name} is required")))
    }

    fn phone(&self, name: &'static str) -> ApiResult<E164> {
        E164::parse(self.require(name)?).map_err(|e| ApiError::validation(name, format!("{name}: {e}")))
    }
}

/// Opened account credentials, kept briefly so a webhook is verified without a database read
/// and a decryption each time (status callbacks come two or three per message sent). A
/// signature that fails against a kept token is checked again against a fresh read, so a
/// rotated token takes effect at once; a deleted account's is forgotten within [`Self::KEEP`].
#[derive(Default)]
pub struct WebhookKeys {
    cache: Mutex<HashMap<(WorkspaceId, Uuid), Opened>>,
}

/// An account's credentials and when they were read.
type Opened = (Arc<accounts::Credentials>, Instant);

impl WebhookKeys {
    const KEEP: Duration = Duration::from_secs(30);

    fn kept(&self, path: &AccountPath) -> Option<Arc<accounts::Credentials>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(&(path.workspace_id, path.account_id))
            .filter(|(_, at)| at.elapsed() < Self::KEEP)
            .map(|(creds, _)| creds.clone())
    }

    async fn open(&self, state: &AppState, path: &AccountPath) -> ApiResult<Arc<accounts::Credentials>> {
        let mut conn = state.db.acquire().await?;
        let creds = accounts::credentials(&mut conn, path.workspace_id, &state.config.secret_key.0, path.account_id)
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("opening account credentials: {e}")))?
            .ok_or(ApiError::NotFound)?;
        let creds = Arc::new(creds);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|_, (_, at)| at.elapsed() < Self::KEEP);
        cache.insert((path.workspace_id, path.account_id), (creds.clone(), Instant::now()));
        Ok(creds)
    }
}

/// Checks the signature against the account's auth token; 404 for an unknown account, 403 for
/// a missing or wrong signature or another account's AccountSid.
async fn verify(
    state: &AppState,
    path: &AccountPath,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Signed> {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let url = state
        .config
        .public_url
        .join(uri.path_and_query().map(|p| p.as_str()).unwrap_or(uri.path()))
        .map_err(|e| ApiError::Internal(e.into()))?;
    let given = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let signed = Signed { params };
    let valid = |creds: &accounts::Credentials| {
        signature::validate(creds.auth_token.expose(), url.as_str(), &signed.params, given)
            && signed.get("AccountSid") == Some(creds.account_sid.as_str())
    };
    let passed = match state.webhook_keys.kept(path) {
        Some(creds) if valid(&creds) => true,
        _ => valid(&*state.webhook_keys.open(state, path).await?),
    };
    if !passed {
        metrics::counter!("switchboard_webhooks_rejected_total").increment(1);
        tracing::warn!(account = %path.account_id, "webhook with a bad signature refused");
        return Err(ApiError::BadSignature);
    }
    Ok(signed)
}

/// An inbound message. Answers TwiML: the one confirmation for STOP/START/HELP, else nothing.
pub async fn inbound(
    State(state): State<AppState>,
    Path(path): Path<AccountPath>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    // Before anything else: a STOP's fence is timed from here (sender::inbound, received_at).
    let received_at = chrono::Utc::now();
    let signed = verify(&state, &path, &uri, &headers, &body).await?;
    let media_count: usize = signed.get("NumMedia").and_then(|n| n.parse().ok()).unwrap_or(0).min(10);
    let msg = InboundMessage {
        sid: signed.require("MessageSid")?.to_owned(),
        from: signed.phone("From")?,
        to: signed.phone("To")?,
        body: signed.get("Body").unwrap_or_default().to_owned(),
        media: (0..media_count)
            .filter_map(|i| {
                let url = signed.get(&format!("MediaUrl{i}"))?.to_owned();
                Some((url, signed.get(&format!("MediaContentType{i}")).map(str::to_owned)))
            })
            .collect(),
        account_id: path.account_id,
        received_at,
    };
    // A STOP fences this instance's engine now, before the transaction that records it (the
    // other instances hear of it after the commit): sender::engine::opt_out_set.
    let intent = classify_reply(&msg.body);
    if intent.is_opt_out() && state.config.engine.enabled {
        let source = if intent == ReplyIntent::OptOut { "keyword" } else { "phrase" };
        state.opt_outs.fence_received(path.workspace_id, msg.from.as_str(), source, received_at.into());
    }
    let mut tx = state.db.begin().await?;
    let outcome = inbound::receive_message(&mut tx, path.workspace_id, &msg).await?;
    tx.commit().await?;
    let reply = match outcome {
        InboundOutcome::Duplicate => {
            metrics::counter!("switchboard_webhooks_duplicate_total", "kind" => "inbound").increment(1);
            None
        }
        InboundOutcome::Stored { conversation_id, message_id, intent, reply } => {
            metrics::counter!("switchboard_inbound_messages_total", "intent" => format!("{intent:?}")).increment(1);
            // Consoles on the inbox see it live (after commit: the event never runs ahead of the truth).
            let event = serde_json::json!({
                "conversation_id": conversation_id,
                "message_id": message_id,
                "from": msg.from,
                "to": msg.to,
                "intent": format!("{intent:?}"),
                "preview": msg.body.chars().take(140).collect::<String>(),
            });
            state.bus().publish(path.workspace_id, "inbox", "message.received", event);
            if intent.is_opt_out() || intent == ReplyIntent::OptIn {
                let consent = serde_json::json!({ "phone": msg.from, "opted_out": intent.is_opt_out() });
                state.bus().publish(path.workspace_id, "inbox", "consent.changed", consent);
            }
            reply
        }
    };
    Ok(twiml(reply))
}

/// TwiML answering an inbound message, replying from the same number when there is a reply.
fn twiml(reply: Option<&str>) -> Response {
    let body = match reply {
        Some(text) => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{}</Message></Response>",
            escape_xml(text)
        ),
        None => "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>".to_owned(),
    };
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A status callback: stored once, applied only when it moves the message forward. A campaign
/// message's callback URL names its outbox row and attempt (`?o=…&a=…&t=…`); a malformed one is
/// a 400 naming the parameter.
pub async fn status(
    State(state): State<AppState>,
    Path(path): Path<AccountPath>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let signed = verify(&state, &path, &uri, &headers, &body).await?;
    let raw_status = signed.require("MessageStatus")?;
    let callback = StatusCallback {
        sid: signed.require("MessageSid")?.to_owned(),
        status: MessageStatus::parse(raw_status)
            .ok_or_else(|| ApiError::validation("MessageStatus", format!("unknown status {raw_status:?}")))?,
        error_code: signed.get("ErrorCode").and_then(|c| c.parse().ok()),
        raw_dlr_done: signed.get("RawDlrDoneDate").map(str::to_owned),
        // Signed with the rest of the URL, so as trustworthy as the form.
        target: CallbackTarget::from_query(uri.query()).map_err(ApiError::from)?,
    };
    let fresh = state.statuses.write(path.workspace_id, callback).await.map_err(|e| ApiError::Internal(e.into()))?;
    if !fresh {
        metrics::counter!("switchboard_webhooks_duplicate_total", "kind" => "status").increment(1);
    }
    Ok(StatusCode::OK)
}
