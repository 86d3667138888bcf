//! The dry run of a campaign: every audience lead planned in memory (the same
//! [`Setting::plan`] materialization uses), then the engine's gate evaluated for all planned
//! messages in ONE statement at `now` (`screen_sends`, [`super::screen`]: the claim's
//! `judge_send` as a set, proved to answer alike). Counts per verdict, segments and cost, and
//! one page of items. Because the claim asks the same gate, preview and engine agree.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

#[cfg(test)]
use super::Skip;
use super::screen::{Rules, Screening, screen};
use super::{BATCH, History, Plan, Setting, key_of};
use crate::WorkspaceId;
use crate::campaigns::Campaign;
use crate::twilio::segments::Encoding;

/// What one SMS segment costs, in US dollars, for the preview's estimate: Twilio's published
/// US long-code outbound rate (carrier fees not included).
pub const PRICE_PER_SEGMENT_USD: f64 = 0.0083;

/// Every verdict the preview reports, in the gate's order, then planning's.
pub const VERDICTS: [&str; 11] = [
    "send",
    "opted_out",
    "dnc",
    "invalid",
    "landline",
    "pair_cooldown",
    "recipient_cooldown",
    "daily_limit",
    "outside_hours",
    "template",
    "no_number",
];

/// Verdicts whose messages go later (deferred), besides `send`: they count in segments and cost.
fn will_go(verdict: &str) -> bool {
    matches!(verdict, "send" | "daily_limit" | "outside_hours")
}

/// Which page of items to return.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub after: Option<Uuid>,
    pub limit: usize,
    pub verdict: Option<String>,
}

/// One lead's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Item {
    pub lead_id: Uuid,
    pub phone: String,
    pub from_number: Option<String>,
    pub body: Option<String>,
    /// `gsm7` or `ucs2`.
    pub encoding: Option<&'static str>,
    pub segments: i16,
    pub cost_usd: f64,
    pub time_zone: String,
    pub verdict: String,
}

/// The whole dry run.
#[derive(Clone, Debug, Serialize)]
pub struct Preview {
    pub total: i64,
    pub counts: BTreeMap<String, i64>,
    pub segments: i64,
    pub cost_usd: f64,
    pub items: Vec<Item>,
    pub next_cursor: Option<Uuid>,
}

fn encoding_name(e: Encoding) -> &'static str {
    match e {
        Encoding::Gsm7 => "gsm7",
        Encoding::Ucs2 => "ucs2",
    }
}

fn cents(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Plans every audience lead of `campaign` and asks the gate about each message at `now`.
pub async fn preview(
    db: &PgPool,
    ws: WorkspaceId,
    campaign: &Campaign,
    now: DateTime<Utc>,
    page: &PageRequest,
) -> sqlx::Result<Preview> {
    let mut conn = db.acquire().await?;
    let setting = Setting::load(&mut conn, ws, campaign, now).await?;
    let mut plans: Vec<Plan> = Vec::new();
    let mut after = None;
    loop {
        let leads = campaign.audience.0.leads_page(&mut conn, ws, after, BATCH).await?;
        let Some(last) = leads.last() else { break };
        after = Some(last.id);
        let phones: Vec<String> = leads.iter().map(|l| l.phone.clone()).collect();
        let history = History::load(&mut conn, ws, &phones, &setting.pool).await?;
        plans.extend(leads.iter().map(|l| setting.plan(l, &history)));
    }
    drop(conn);
    let verdicts = verdicts(db, ws, campaign, &plans, now).await?;
    Ok(summarize(plans, verdicts, page))
}

/// The verdict of each plan: planning's skip reason, else the gate's (`screen_sends`, the claim's
/// `judge_send` for all messages at once; NULL → `send`).
async fn verdicts(
    db: &PgPool,
    ws: WorkspaceId,
    campaign: &Campaign,
    plans: &[Plan],
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<String>> {
    let mut messages = Screening::default();
    for m in plans.iter().filter_map(|p| p.outcome.as_ref().ok()) {
        let to = m.to.as_str();
        messages.push(to, key_of(to), &m.from.e164, m.zone.name(), m.window, m.max_per_24h);
    }
    let rules = Rules {
        step: 0,
        recipient_days: campaign.retext_recipient_days,
        pair_days: campaign.retext_pair_days,
        at: now,
    };
    let mut gate = screen(db, ws, &messages, rules).await?.into_iter();
    Ok(plans
        .iter()
        .map(|p| match &p.outcome {
            Err(skip) => skip.as_str().to_owned(),
            Ok(_) => gate.next().flatten().unwrap_or_else(|| "send".to_owned()),
        })
        .collect())
}

fn item(plan: Plan, verdict: String) -> Item {
    let (from_number, body, encoding, segments) = match plan.outcome {
        Ok(m) => {
            (Some(m.from.e164), Some(m.rendered.body), Some(encoding_name(m.rendered.encoding)), m.rendered.segments)
        }
        Err(_) => (None, None, None, 0),
    };
    Item {
        lead_id: plan.lead_id,
        phone: plan.phone,
        from_number,
        body,
        encoding,
        segments,
        cost_usd: cents(f64::from(segments) * PRICE_PER_SEGMENT_USD),
        time_zone: plan.zone.name().to_owned(),
        verdict,
    }
}

fn summarize(plans: Vec<Plan>, verdicts: Vec<String>, page: &PageRequest) -> Preview {
    let mut counts: BTreeMap<String, i64> = VERDICTS.iter().map(|v| (v.to_string(), 0)).collect();
    let (mut segments, total) = (0i64, plans.len() as i64);
    let mut items = Vec::new();
    let mut next_cursor = None;
    for (plan, verdict) in plans.into_iter().zip(verdicts) {
        *counts.entry(verdict.clone()).or_default() += 1;
        if will_go(&verdict) {
            segments += plan.outcome.as_ref().map_or(0, |m| i64::from(m.rendered.segments));
        }
        let wanted = page.verdict.as_deref().is_none_or(|v| v == verdict);
        let after_cursor = page.after.is_none_or(|a| plan.lead_id > a);
        if wanted && after_cursor {
            if items.len() == page.limit {
                next_cursor = items.last().map(|i: &Item| i.lead_id);
            } else {
                items.push(item(plan, verdict));
            }
        }
    }
    let cost_usd = cents(segments as f64 * PRICE_PER_SEGMENT_USD);
    Preview { total, counts, segments, cost_usd, items, next_cursor }
}

/// Planning's reasons, for callers that validate a `verdict` filter.
pub fn is_verdict(name: &str) -> bool {
    VERDICTS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planning_skips_are_verdicts() {
        for s in [Skip::Invalid, Skip::Landline, Skip::NoNumber, Skip::Template] {
            assert!(is_verdict(s.as_str()), "{s:?}");
        }
    }
}
