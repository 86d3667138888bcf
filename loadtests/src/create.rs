//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`: parse the form, validate it as Twilio
//! does (each refusal with Twilio's code), reserve the message's slot on its From's queue, fix
//! its outcome, store it and answer 201. Nothing here waits on anything but the gate.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use switchboard_sender::E164;
use switchboard_sender::twilio::segments;

use crate::error::ApiError;
use crate::message::{Direction, Message, Outcome};
use crate::state::{Account, SimState, pair_key};
use crate::{gate, ids, lifecycle};

/// The CreateMessage parameters the simulator interprets. Others Twilio documents are accepted
/// and ignored; every name here is in Twilio's CreateMessage schema (checked by a test).
pub const INTERPRETED_PARAMS: &[&str] =
    &["To", "From", "MessagingServiceSid", "Body", "MediaUrl", "StatusCallback", "ValidityPeriod"];

const MAX_BODY_CHARS: usize = 1600;
const MAX_MEDIA: usize = 10;
const OUTCOME_SALT: u64 = 0x0C0E;

#[derive(Default)]
struct CreateParams {
    to: Option<String>,
    from: Option<String>,
    service: Option<String>,
    body: Option<String>,
    media: Vec<String>,
    status_callback: Option<String>,
    validity: Option<String>,
}

impl CreateParams {
    fn parse(form: &[u8]) -> Self {
        let mut p = Self::default();
        for (name, value) in form_urlencoded::parse(form) {
            let value = Some(value.into_owned());
            match name.as_ref() {
                "To" => p.to = value,
                "From" => p.from = value,
                "MessagingServiceSid" => p.service = value,
                "Body" => p.body = value,
                "MediaUrl" => p.media.extend(value),
                "StatusCallback" => p.status_callback = value,
                "ValidityPeriod" => p.validity = value,
                _ => {}
            }
        }
        p
    }
}

pub async fn create(
    State(state): State<Arc<SimState>>,
    Path(account_sid): Path<String>,
    headers: HeaderMap,
    form: Bytes,
) -> Response {
    let result = match gate::admit(&state, &account_sid, &headers).await {
        Ok(admitted) => accept(&state, admitted.account, CreateParams::parse(&form)),
        Err(e) => Err(e),
    };
    match result {
        Ok(message) => {
            let resource = message.created_resource();
            (StatusCode::CREATED, Json(resource)).into_response()
        }
        Err(error) => {
            state.count_rejection(error.code());
            error.into_response()
        }
    }
}

fn accept(state: &Arc<SimState>, account: &Account, p: CreateParams) -> Result<Arc<Message>, ApiError> {
    let raw_to =
        p.to.filter(|t| !t.trim().is_empty())
            .ok_or_else(|| ApiError::bad_request(21604, "A 'To' phone number is required."))?;
    let to = state.parse_to(&raw_to).ok_or_else(|| {
        ApiError::bad_request(21211, format!("The 'To' number {raw_to} is not a valid phone number."))
    })?;
    let from = sender(account, p.from.as_deref(), p.service.as_deref(), &to)?;
    let body = p.body.unwrap_or_default();
    if body.is_empty() && p.media.is_empty() {
        return Err(ApiError::bad_request(21602, "Message body is required."));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(ApiError::bad_request(21617, "The concatenated message body exceeds the 1600 character limit."));
    }
    if p.media.len() > MAX_MEDIA {
        return Err(ApiError::bad_request(21623, "The number of media files exceeds the limit of 10."));
    }
    if let Some(url) = &p.status_callback
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(ApiError::bad_request(21609, format!("The StatusCallback URL {url} is not a valid URL.")));
    }
    let validity_s = match &p.validity {
        None => None,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(s) if (1..=36_000).contains(&s) => Some(s),
            Ok(_) => {
                return Err(ApiError::bad_request(
                    90007,
                    "Invalid validity period value: between 1 and 36000 seconds.",
                ));
            }
            Err(_) => return Err(ApiError::bad_request(90014, "Validity Period should be positive integer.")),
        },
    };
    if from == to {
        return Err(ApiError::bad_request(21266, "'To' and 'From' number cannot be the same."));
    }
    if state.geo_blocked_prefixes.iter().any(|prefix| to.starts_with(prefix.as_str())) {
        let message = format!(
            "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}."
        );
        return Err(ApiError::bad_request(21408, message));
    }
    if state.non_mobile.contains(&to) {
        return Err(ApiError::bad_request(21614, format!("'To' number {to} is not a valid mobile number.")));
    }
    if state.is_opted_out(&from, &to) {
        return Err(ApiError::bad_request(21610, "Attempt to send to unsubscribed recipient."));
    }

    let num_segments = segments::segments(&body);
    let now = lifecycle::now_ms();
    let number = account.numbers.get(&from);
    let mps = number.map_or(state.default_mps, |n| n.mps);
    // Reserve the message's turn on its From's queue, and count it against the daily cap. A
    // message whose ValidityPeriod ends before its turn takes no turn: it fails at expiry.
    let validity_ms = validity_s.map(|s| s * 1000);
    let (send_ms, expired, over_daily_cap) = {
        let mut queue = match state.senders.get_mut(&from) {
            Some(queue) => queue,
            None => state.senders.entry(from.clone()).or_default(),
        };
        let start = queue.next_free_ms.max(now as f64);
        let cost_ms = num_segments as f64 / mps * 1000.0;
        if start + cost_ms - now as f64 > state.max_queue_ms {
            return Err(ApiError::bad_request(
                21611,
                "This 'From' number has exceeded the maximum number of queued messages.",
            ));
        }
        let expires_at = validity_ms.map(|v| now + v).filter(|&at| (start as i64) > at);
        if expires_at.is_none() {
            queue.next_free_ms = start + cost_ms;
        }
        let day = now.div_euclid(86_400_000);
        if queue.day != day {
            queue.day = day;
            queue.sent_today = 0;
        }
        queue.sent_today += 1;
        let over_daily_cap = number.and_then(|n| n.daily_cap).is_some_and(|cap| queue.sent_today > cap);
        (expires_at.unwrap_or(start as i64), expires_at.is_some(), over_daily_cap)
    };
    let over_pair_limit = state.pair_limit > 0 && {
        let mut window = state.pairs.entry(pair_key(&from, &to)).or_default();
        while window.front().is_some_and(|&t| t <= now - state.pair_window_ms) {
            window.pop_front();
        }
        window.push_back(now);
        window.len() > state.pair_limit
    };

    let behaviour = state.behaviour();
    let seq = state.next_message_seq();
    let outcome = if expired {
        Outcome::error(30036)
    } else if over_pair_limit {
        Outcome::error(14107)
    } else if over_daily_cap {
        Outcome::error(30023)
    } else {
        random_outcome(state.seed, seq, &behaviour.callbacks.error_rates)
    };
    let callbacks = &behaviour.callbacks;
    let sent_delay = if expired { 0 } else { i64::try_from(callbacks.sent_delay_ms).unwrap_or(i64::MAX / 4) };
    let sent_ms = send_ms + sent_delay;
    let final_ms = if outcome.status == switchboard_sender::twilio::resource::MessageStatus::Failed {
        sent_ms
    } else {
        sent_ms + i64::try_from(callbacks.delivery_delay_ms).unwrap_or(i64::MAX / 4)
    };
    let sid = ids::message_sid(state.seed, seq);
    let message = Arc::new(Message {
        seq,
        sid: sid.clone(),
        account_sid: account.sid.clone(),
        from,
        to,
        body,
        messaging_service_sid: p.service,
        num_media: p.media.len(),
        num_segments,
        direction: Direction::OutboundApi,
        status_callback: p.status_callback,
        created_ms: now,
        send_ms,
        sent_ms,
        final_ms,
        outcome,
    });
    state.messages.insert(sid, message.clone());
    state.counters.accepted.fetch_add(1, Ordering::Relaxed);
    lifecycle::spawn(state, &message, &behaviour);
    Ok(message)
}

/// The From the message leaves on: the one given (which must be the account's), or one of the
/// messaging service's numbers chosen by the recipient (sticky, like Twilio's sticky sender).
fn sender(account: &Account, from: Option<&str>, service: Option<&str>, to: &str) -> Result<String, ApiError> {
    let from = from.map(str::trim).filter(|f| !f.is_empty());
    if let Some(raw) = from {
        // Most callers send E.164 already: look it up before paying for a parse.
        let parsed = if account.numbers.contains_key(raw) {
            raw.to_owned()
        } else {
            E164::parse(raw).map(|e| e.as_str().to_owned()).unwrap_or_else(|_| raw.to_owned())
        };
        if !account.numbers.contains_key(&parsed) {
            let message = format!(
                "The From phone number {raw} is not a valid, SMS-capable inbound phone number or short code for your account."
            );
            return Err(ApiError::bad_request(21606, message));
        }
        if let Some(sid) = service
            && !account.services.contains_key(sid)
        {
            return Err(ApiError::bad_request(21702, format!("The Messaging Service Sid {sid} is invalid.")));
        }
        return Ok(parsed);
    }
    let Some(sid) = service.filter(|s| !s.is_empty()) else {
        return Err(ApiError::bad_request(21603, "A 'From' phone number is required."));
    };
    let pool = account
        .services
        .get(sid)
        .ok_or_else(|| ApiError::bad_request(21702, format!("The Messaging Service Sid {sid} is invalid.")))?;
    if pool.is_empty() {
        return Err(ApiError::bad_request(21704, "The Messaging Service contains no phone numbers."));
    }
    let index = pair_key(sid, to) as usize % pool.len();
    Ok(pool[index].clone())
}

fn random_outcome(seed: u64, seq: u64, error_rates: &std::collections::BTreeMap<u16, f64>) -> Outcome {
    if error_rates.is_empty() {
        return Outcome::DELIVERED;
    }
    let draw: f64 = ids::rng(seed, OUTCOME_SALT, seq).random();
    let mut cumulative = 0.0;
    for (&code, &rate) in error_rates {
        cumulative += lifecycle::probability(rate);
        if draw < cumulative {
            return Outcome::error(code);
        }
    }
    Outcome::DELIVERED
}
