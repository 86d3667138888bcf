//! What happens to a message after create: its status callbacks (sent, then the final status,
//! with optional duplicates and reordering), and the recipient's reply (STOP, START, HELP or
//! free text, optionally posted twice) posted to our inbound webhook. Inbound messages also enter here from
//! `POST /sim/inbound`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use switchboard_sender::twilio::resource::MessageStatus;
use switchboard_sender::twilio::segments;

use crate::config::Behaviour;
use crate::ids;
use crate::message::{API_VERSION, Direction, Message, Outcome};
use crate::state::{Account, ReplyEntry, SimState};

const REPLY_SALT: u64 = 0x5245_504C;
const RETRY_SALT: u64 = 0x5245_5452;
const TEXTS: [&str; 4] = ["Who is this?", "Thanks, got it", "Can you call me tomorrow?", "ok"];

/// A rate as a probability `random_bool` accepts (NaN counts as never).
pub fn probability(rate: f64) -> f64 {
    if rate.is_nan() { 0.0 } else { rate.clamp(0.0, 1.0) }
}

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Starts the background life of `message` when anything would come of it: status callbacks
/// (a StatusCallback URL and callbacks on) or a reply (reply rates and an inbound URL).
pub fn spawn(state: &Arc<SimState>, message: &Arc<Message>, behaviour: &Behaviour) {
    let callbacks = behaviour.callbacks.enabled && message.status_callback.is_some();
    let r = &behaviour.replies;
    let replies = r.stop_rate + r.start_rate + r.help_rate + r.text_rate > 0.0;
    if !callbacks && !replies {
        return;
    }
    let (state, message, behaviour) = (state.clone(), message.clone(), behaviour.clone());
    tokio::spawn(async move {
        if callbacks {
            post_status_callbacks(&state, &message, &behaviour).await;
        } else {
            sleep_until(message.final_ms).await;
        }
        if replies && message.outcome == Outcome::DELIVERED {
            reply(&state, &message, &behaviour).await;
        }
    });
}

async fn sleep_until(at_ms: i64) {
    let wait = at_ms.saturating_sub(now_ms());
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
    }
}

async fn post_status_callbacks(state: &Arc<SimState>, message: &Message, behaviour: &Behaviour) {
    let Some(url) = message.status_callback.as_deref() else { return };
    let Some(account) = state.accounts.get(&message.account_sid) else { return };
    let mut rng = ids::rng(state.seed, 0xCA11, message.seq);
    let mut posts: Vec<(i64, MessageStatus)> = Vec::with_capacity(3);
    if message.outcome.status != MessageStatus::Failed {
        posts.push((message.sent_ms, MessageStatus::Sent));
    }
    posts.push((message.final_ms, message.outcome.status));
    if posts.len() == 2 && rng.random_bool(probability(behaviour.callbacks.reorder_rate)) {
        // The final status arrives first, "sent" after it.
        let first = posts[0].1;
        posts[0].1 = posts[1].1;
        posts[1].1 = first;
    }
    if rng.random_bool(probability(behaviour.callbacks.duplicate_rate)) {
        let i = rng.random_range(0..posts.len());
        let (at, status) = posts[i];
        posts.insert(i + 1, (at + 5, status));
    }
    for (at, status) in posts {
        sleep_until(at).await;
        let params = status_params(message, status);
        let ok = state.dispatcher.post_signed(url, &account.auth_token, &params).await;
        let counter = if ok { &state.counters.callbacks_posted } else { &state.counters.callbacks_failed };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The parameters of one status callback, as Twilio sends them.
pub fn status_params(message: &Message, status: MessageStatus) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("AccountSid", message.account_sid.clone()),
        ("ApiVersion", API_VERSION.to_owned()),
        ("From", message.from.clone()),
        ("MessageSid", message.sid.clone()),
        ("MessageStatus", status.as_str().to_owned()),
        ("SmsSid", message.sid.clone()),
        ("SmsStatus", status.as_str().to_owned()),
        ("To", message.to.clone()),
    ];
    if let Some(service) = &message.messaging_service_sid {
        p.push(("MessagingServiceSid", service.clone()));
    }
    if matches!(status, MessageStatus::Failed | MessageStatus::Undelivered)
        && let Some(code) = message.outcome.error_code
    {
        p.push(("ErrorCode", code.to_string()));
    }
    if matches!(status, MessageStatus::Delivered | MessageStatus::Undelivered) {
        let done = DateTime::<Utc>::from_timestamp_millis(message.final_ms).unwrap_or_default();
        p.push(("RawDlrDoneDate", done.format("%y%m%d%H%M").to_string()));
    }
    p
}

async fn reply(state: &Arc<SimState>, message: &Message, behaviour: &Behaviour) {
    let r = &behaviour.replies;
    let mut rng = ids::rng(state.seed, REPLY_SALT, message.seq);
    let draw: f64 = rng.random();
    let body = if draw < r.stop_rate {
        "STOP"
    } else if draw < r.stop_rate + r.start_rate {
        "START"
    } else if draw < r.stop_rate + r.start_rate + r.help_rate {
        "HELP"
    } else if draw < r.stop_rate + r.start_rate + r.help_rate + r.text_rate {
        TEXTS[rng.random_range(0..TEXTS.len())]
    } else {
        return;
    };
    tokio::time::sleep(Duration::from_millis(r.delay_ms)).await;
    let Some(account) = state.accounts.get(&message.account_sid) else { return };
    receive(state, account, &message.to, &message.from, body).await;
}

/// Advanced Opt-Out's keyword classes.
pub fn opt_out_type(body: &str) -> Option<&'static str> {
    match body.trim().to_ascii_uppercase().as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" | "REVOKE" | "OPTOUT" => Some("STOP"),
        "START" | "YES" | "UNSTOP" => Some("START"),
        "HELP" | "INFO" => Some("HELP"),
        _ => None,
    }
}

/// A recipient (`from`) texts our number (`to`): the opt-out state changes first, the message
/// is stored as inbound, then the signed webhook is posted (when a URL is configured).
pub async fn receive(state: &Arc<SimState>, account: &Account, from: &str, to: &str, body: &str) -> ReplyEntry {
    let kind = opt_out_type(body);
    match kind {
        Some("STOP") => state.set_opt_out(to, from, true),
        Some("START") => state.set_opt_out(to, from, false),
        _ => {}
    }
    let seq = state.next_message_seq();
    let sid = ids::message_sid(state.seed, seq);
    let at = now_ms();
    let service = account.services.iter().find(|(_, pool)| pool.iter().any(|n| n == to)).map(|(sid, _)| sid.clone());
    let num_segments = segments::segments(body);
    let message = Message {
        seq,
        sid: sid.clone(),
        account_sid: account.sid.clone(),
        from: from.to_owned(),
        to: to.to_owned(),
        body: body.to_owned(),
        messaging_service_sid: service.clone(),
        num_media: 0,
        num_segments,
        direction: Direction::Inbound,
        status_callback: None,
        created_ms: at,
        send_ms: at,
        sent_ms: at,
        final_ms: at,
        outcome: Outcome { status: MessageStatus::Received, error_code: None },
    };
    state.messages.insert(sid.clone(), Arc::new(message));
    let entry = ReplyEntry {
        sid: sid.clone(),
        account: account.sid.clone(),
        from: from.to_owned(),
        to: to.to_owned(),
        body: body.to_owned(),
        opt_out_type: kind,
        at_ms: at,
    };
    state.push_reply(entry.clone());
    if let Some(url) = state.inbound_url(account, to) {
        let mut params = vec![
            ("AccountSid", account.sid.clone()),
            ("ApiVersion", API_VERSION.to_owned()),
            ("Body", body.to_owned()),
            ("From", from.to_owned()),
            ("FromCity", String::new()),
            ("FromCountry", "US".to_owned()),
            ("FromState", String::new()),
            ("FromZip", String::new()),
            ("MessageSid", sid.clone()),
            ("NumMedia", "0".to_owned()),
            ("NumSegments", num_segments.to_string()),
            ("SmsMessageSid", sid.clone()),
            ("SmsSid", sid.clone()),
            ("SmsStatus", "received".to_owned()),
            ("To", to.to_owned()),
            ("ToCity", String::new()),
            ("ToCountry", "US".to_owned()),
            ("ToState", String::new()),
            ("ToZip", String::new()),
        ];
        if let Some(service) = service {
            params.push(("MessagingServiceSid", service));
        }
        if let Some(kind) = kind {
            params.push(("OptOutType", kind.to_owned()));
        }
        let retried =
            ids::rng(state.seed, RETRY_SALT, seq).random_bool(probability(state.behaviour().replies.duplicate_rate));
        for _ in 0..1 + usize::from(retried) {
            let ok = state.dispatcher.post_signed(&url, &account.auth_token, &params).await;
            let counter = if ok { &state.counters.inbound_posted } else { &state.counters.inbound_failed };
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    entry
}
