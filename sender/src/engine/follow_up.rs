//! Multi-step campaigns. When step k of a campaign is accepted for a recipient and the campaign
//! has a step k+1, that step's outbox row is queued right away, due `after_days` later, from the
//! same number (sticky sender) and with the same window. A reply from the recipient before then
//! cancels it ([`on_reply`]); the unique (campaign, step, lead) key keeps it once per step.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::classify::Disposition;
use super::recorder::{Finished, RowEnd};
use crate::ids::WorkspaceId;
use crate::stats::{self, metric};
use crate::templates::Template;
use crate::twilio::segments;

/// One step as stored in `campaigns.steps`.
#[derive(Debug, Deserialize)]
struct StoredStep {
    after_days: i64,
    templates: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct NextStep {
    workspace_id: WorkspaceId,
    id: i64,
    lead_id: Uuid,
    step: i16,
    next: sqlx::types::Json<StoredStep>,
    first_name: String,
    last_name: String,
    attributes: sqlx::types::Json<HashMap<String, serde_json::Value>>,
}

/// The values a template may use for a lead: its names and every attribute.
fn lead_values(n: &NextStep) -> HashMap<String, String> {
    let mut values: HashMap<String, String> = n
        .attributes
        .0
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
        .collect();
    values.insert("first_name".into(), n.first_name.clone());
    values.insert("last_name".into(), n.last_name.clone());
    values
}

/// Queues the next step for every accepted row of `batch` whose campaign has one.
pub async fn queue_next_steps(tx: &mut PgConnection, batch: &[Finished], now: DateTime<Utc>) -> sqlx::Result<()> {
    let sent: Vec<(WorkspaceId, i64)> = batch
        .iter()
        .filter(|f| matches!(f.end, RowEnd::Called { disposition: Disposition::Sent { .. }, .. }))
        .map(|f| (f.row.workspace_id, f.row.id))
        .collect();
    if sent.is_empty() {
        return Ok(());
    }
    let (ws, ids): (Vec<WorkspaceId>, Vec<i64>) = sent.into_iter().unzip();
    let next: Vec<NextStep> = sqlx::query_as(
        "SELECT o.workspace_id, o.id, o.lead_id, o.step, c.steps -> (o.step + 1) AS next, \
                l.first_name, l.last_name, l.attributes \
         FROM unnest($1::uuid[], $2::bigint[]) AS s(ws, id) \
         JOIN outbox o ON o.workspace_id = s.ws AND o.id = s.id \
         JOIN campaigns c ON c.workspace_id = o.workspace_id AND c.id = o.campaign_id \
         JOIN leads l ON l.workspace_id = o.workspace_id AND l.id = o.lead_id \
         WHERE jsonb_array_length(c.steps) > o.step + 1",
    )
    .bind(&ws)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    for n in next {
        let step = n.step + 1;
        let variant = n.next.templates.get((n.lead_id.as_u128() % n.next.templates.len().max(1) as u128) as usize);
        let body = variant.and_then(|t| Template::parse(t).ok()).and_then(|t| t.render(&lead_values(&n)).ok());
        let (state, reason, body) = match body {
            Some(body) => ("queued", None, body),
            None => ("skipped", Some("template"), String::new()),
        };
        let due = now + Duration::days(n.next.after_days.max(1));
        let inserted = sqlx::query_scalar::<_, Uuid>(
            "INSERT INTO outbox (workspace_id, campaign_id, crusade_id, step, lead_id, to_phone, to_key, from_number, \
               account_id, body, segments, not_before, state, skip_reason, time_zone, window_days, window_start, \
               window_end, max_per_24h) \
             SELECT workspace_id, campaign_id, crusade_id, $3, lead_id, to_phone, to_key, from_number, account_id, $4, $5, \
               $6, $7, $8, time_zone, window_days, window_start, window_end, max_per_24h \
             FROM outbox WHERE workspace_id = $1 AND id = $2 \
             ON CONFLICT (workspace_id, campaign_id, step, lead_id) DO NOTHING RETURNING campaign_id",
        )
        .bind(n.workspace_id)
        .bind(n.id)
        .bind(step)
        .bind(&body)
        .bind(segments::count(&body).segments as i16)
        .bind(due)
        .bind(state)
        .bind(reason)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(campaign) = inserted {
            stats::add(tx, n.workspace_id, campaign, metric::MATERIALIZED, 1).await?;
            if let Some(reason) = reason {
                stats::add(tx, n.workspace_id, campaign, &stats::skipped(reason), 1).await?;
            }
        }
    }
    Ok(())
}

/// A recipient wrote back: their pending follow-ups are canceled, and the reply counts for the
/// campaign that texted them last (as an opt-out when it was one). Runs in the inbound
/// message's transaction.
pub async fn on_reply(tx: &mut PgConnection, workspace: WorkspaceId, phone: &str, opted_out: bool) -> sqlx::Result<()> {
    let canceled: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE outbox SET state = 'canceled', skip_reason = 'replied', updated_at = now() \
         WHERE workspace_id = $1 AND to_phone = $2 AND step > 0 AND state = 'queued' RETURNING campaign_id",
    )
    .bind(workspace)
    .bind(phone)
    .fetch_all(&mut *tx)
    .await?;
    let mut adds: Vec<(Uuid, &str, i64)> = canceled.into_iter().map(|c| (c, metric::CANCELED, 1)).collect();
    let last: Option<Uuid> = sqlx::query_scalar(
        "SELECT campaign_id FROM outbox WHERE workspace_id = $1 AND to_phone = $2 AND state = 'sent' \
         ORDER BY sent_at DESC LIMIT 1",
    )
    .bind(workspace)
    .bind(phone)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(campaign) = last {
        adds.push((campaign, if opted_out { metric::OPT_OUTS } else { metric::REPLIES }, 1));
    }
    stats::add_many(tx, workspace, &adds).await
}
