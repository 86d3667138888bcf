//! Multi-step campaigns. When step k of a campaign is accepted for a recipient and the campaign
//! has a step k+1, that step's outbox row is queued right away, due `after_days` later, from the
//! same number (sticky sender) and with the same window. A reply from the recipient before then
//! cancels it ([`on_reply`]); the unique (campaign, step, lead) key keeps it once per step.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::classify::Disposition;
use super::recorder::{Finished, RowEnd};
use crate::campaigns::{self, Campaign};
use crate::ids::WorkspaceId;
use crate::leads::Lead;
use crate::plan;
use crate::stats::{self, metric};

/// A sent row whose campaign has a next step, with its lead.
#[derive(sqlx::FromRow)]
struct Due {
    workspace_id: WorkspaceId,
    outbox_id: i64,
    campaign_id: Uuid,
    step: i16,
    #[sqlx(flatten)]
    lead: Lead,
}

/// Queues the next step for every accepted row of `batch` whose campaign has one. The text is
/// rendered by [`plan::render_step`], the same code that plans step 0 and the preview.
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
    // Every join is a primary-key probe from the batch (LATERAL, with LIMIT 1 so the planner
    // cannot flatten it): right after a large materialization the statistics of `outbox` and
    // `leads` are stale, and a planner left free scanned all leads once per sent row.
    let due: Vec<Due> = sqlx::query_as(
        "SELECT o.workspace_id, o.id AS outbox_id, o.campaign_id, o.step, \
                l.id, l.phone, l.first_name, l.last_name, l.state, l.time_zone, l.tags, l.vertical, l.line_type, \
                l.attributes, l.created_at \
         FROM unnest($1::uuid[], $2::bigint[]) AS s(ws, id) \
         CROSS JOIN LATERAL (SELECT * FROM outbox o WHERE o.workspace_id = s.ws AND o.id = s.id LIMIT 1) o \
         CROSS JOIN LATERAL (SELECT c.steps FROM campaigns c \
                             WHERE c.workspace_id = o.workspace_id AND c.id = o.campaign_id LIMIT 1) c \
         CROSS JOIN LATERAL (SELECT * FROM leads l WHERE l.workspace_id = o.workspace_id AND l.id = o.lead_id LIMIT 1) l \
         WHERE jsonb_array_length(c.steps) > o.step + 1",
    )
    .bind(&ws)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut campaigns: HashMap<(WorkspaceId, Uuid), Option<Campaign>> = HashMap::new();
    for d in due {
        let key = (d.workspace_id, d.campaign_id);
        if let std::collections::hash_map::Entry::Vacant(slot) = campaigns.entry(key) {
            slot.insert(campaigns::get(tx, d.workspace_id, d.campaign_id).await?);
        }
        let Some(campaign) = campaigns.get(&key).and_then(Option::as_ref) else { continue };
        let step = d.step + 1;
        let Some(after_days) = campaign.steps.0.get(step as usize).map(|s| i64::from(s.after_days)) else { continue };
        let (state, reason, body, segments) = match plan::render_step(campaign, step as usize, &d.lead) {
            Ok(r) => ("queued", None, r.body, r.segments),
            Err(skip) => ("skipped", Some(skip.as_str()), String::new(), 0),
        };
        let due_at = now + Duration::days(after_days.max(1));
        let inserted = sqlx::query_scalar::<_, Uuid>(
            "INSERT INTO outbox (workspace_id, campaign_id, crusade_id, step, lead_id, to_phone, to_key, from_number, \
               account_id, body, segments, not_before, state, skip_reason, time_zone, window_days, window_start, \
               window_end, max_per_24h) \
             SELECT workspace_id, campaign_id, crusade_id, $3, lead_id, to_phone, to_key, from_number, account_id, $4, $5, \
               $6, $7, $8, time_zone, window_days, window_start, window_end, max_per_24h \
             FROM outbox WHERE workspace_id = $1 AND id = $2 \
             ON CONFLICT (workspace_id, campaign_id, step, lead_id) DO NOTHING RETURNING campaign_id",
        )
        .bind(d.workspace_id)
        .bind(d.outbox_id)
        .bind(step)
        .bind(&body)
        .bind(segments)
        .bind(due_at)
        .bind(state)
        .bind(reason)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(campaign) = inserted {
            stats::add(tx, d.workspace_id, campaign, metric::MATERIALIZED, 1).await?;
            if let Some(reason) = reason {
                stats::add(tx, d.workspace_id, campaign, &stats::skipped(reason), 1).await?;
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
