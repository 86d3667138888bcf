//! Reading messages back for reconciliation: `GET .../Messages/{MessageSid}.json` and
//! `GET .../Messages.json` (newest first; `To`, `From`, `PageSize`, `Page`). Listing scans the
//! account's messages, fine for tests and reconciliation, not meant for load.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use switchboard_sender::E164;
use switchboard_sender::twilio::resource::MessagePage;

use crate::error::ApiError;
use crate::{gate, lifecycle};

use crate::state::SimState;

pub async fn fetch(
    State(state): State<Arc<SimState>>,
    Path((account_sid, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let _admitted = match gate::admit(&state, &account_sid, &headers).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let sid = file.strip_suffix(".json").unwrap_or(&file);
    match state.messages.get(sid).filter(|m| m.account_sid == account_sid) {
        Some(message) => Json(message.resource_at(lifecycle::now_ms())).into_response(),
        None => ApiError::not_found(&format!("/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json")).into_response(),
    }
}

pub async fn list(
    State(state): State<Arc<SimState>>,
    Path(account_sid): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let _admitted = match gate::admit(&state, &account_sid, &headers).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let number = |name: &str| {
        query.get(name).map(|raw| E164::parse(raw).map(|e| e.as_str().to_owned()).unwrap_or_else(|_| raw.clone()))
    };
    let (to, from) = (number("To"), number("From"));
    let page_size = query.get("PageSize").and_then(|s| s.parse::<usize>().ok()).unwrap_or(50).clamp(1, 1000);
    let page = query.get("Page").and_then(|s| s.parse::<usize>().ok()).unwrap_or(0);

    let mut matching: Vec<_> = state
        .messages
        .iter()
        .filter(|m| m.account_sid == account_sid)
        .filter(|m| to.as_ref().is_none_or(|t| *t == m.to) && from.as_ref().is_none_or(|f| *f == m.from))
        .map(|m| m.value().clone())
        .collect();
    matching.sort_unstable_by_key(|m| std::cmp::Reverse(m.seq));
    let now = lifecycle::now_ms();
    let start = page.saturating_mul(page_size);
    let messages: Vec<_> = matching.iter().skip(start).take(page_size).map(|m| m.resource_at(now)).collect();

    let base = format!("/2010-04-01/Accounts/{account_sid}/Messages.json");
    let filters: String = [("To", &to), ("From", &from)]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("&{k}={}", v.replace('+', "%2B"))))
        .collect();
    let page_uri = |p: usize| format!("{base}?PageSize={page_size}&Page={p}{filters}");
    let has_next = start + messages.len() < matching.len();
    let body = MessagePage {
        end: (start + messages.len()).saturating_sub(1) as i64,
        first_page_uri: page_uri(0),
        next_page_uri: has_next.then(|| page_uri(page + 1)),
        page: page as i64,
        page_size: page_size as i64,
        previous_page_uri: (page > 0).then(|| page_uri(page - 1)),
        start: start as i64,
        uri: page_uri(page),
        messages,
    };
    Json(body).into_response()
}
