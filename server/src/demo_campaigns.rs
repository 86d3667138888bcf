//! The demo workspace's leads, crusade and draft campaign (from `seeds/demo_campaigns.json`,
//! compiled in). Idempotent, like the rest of the seed: leads are added by phone when missing,
//! the crusade and the campaign by name; nothing existing is changed.

use anyhow::Context;
use serde::Deserialize;
use sqlx::PgPool;
use switchboard_sender::WorkspaceId;
use switchboard_sender::campaigns::{self, Audience, CampaignSpec, Step, Steps};
use switchboard_sender::crusades::{self, CrusadeSpec};
use switchboard_sender::leads::{self, RawLead};
use uuid::Uuid;

const SEED: &str = include_str!("../../seeds/demo_campaigns.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Seed {
    workspace: String,
    leads: LeadMix,
    crusade: SeedCrusade,
    campaign: SeedCampaign,
}

/// Leads generated deterministically: lead i takes the i-th area code, name, tags and street in turn.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeadMix {
    count: usize,
    area_codes: Vec<String>,
    first_names: Vec<String>,
    last_names: Vec<String>,
    tags: Vec<Vec<String>>,
    streets: Vec<String>,
    vertical: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedCrusade {
    name: String,
    days: Vec<String>,
    start_time: String,
    end_time: String,
    throttle_per_minute: i32,
    jitter_seconds: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedCampaign {
    name: String,
    steps: Vec<Step>,
    audience: Audience,
    vertical: String,
}

fn pick<T>(list: &[T], i: usize) -> &T {
    &list[i % list.len()]
}

impl LeadMix {
    fn leads(&self) -> Vec<RawLead> {
        (0..self.count)
            .map(|i| {
                let area = pick(&self.area_codes, i);
                let line = 100 + i / self.area_codes.len();
                RawLead {
                    phone: format!("+1{area}555{line:04}"),
                    first_name: Some(pick(&self.first_names, i).clone()),
                    last_name: Some(pick(&self.last_names, i * 7).clone()),
                    tags: Some(pick(&self.tags, i * 5).clone()),
                    vertical: Some(self.vertical.clone()),
                    line_type: Some(if i % 17 == 3 { "landline" } else { "mobile" }.into()),
                    attributes: Some(serde_json::json!({"street": pick(&self.streets, i * 3)})),
                    ..Default::default()
                }
            })
            .collect()
    }
}

/// Loads the campaign side of the demo workspace.
pub async fn seed(db: &PgPool) -> anyhow::Result<()> {
    let seed: Seed = serde_json::from_str(SEED).context("seeds/demo_campaigns.json is invalid")?;
    let mut tx = db.begin().await?;
    let ws: WorkspaceId = sqlx::query_scalar("SELECT id FROM workspaces WHERE slug = $1")
        .bind(&seed.workspace)
        .fetch_one(&mut *tx)
        .await
        .context("the demo workspace exists")?;
    let parsed = seed.leads.leads().into_iter().map(RawLead::parse).collect::<Result<Vec<_>, _>>()?;
    let phones: Vec<&str> = parsed.iter().map(|l| l.phone.as_str()).collect();
    let have: Vec<String> = sqlx::query_scalar("SELECT phone FROM leads WHERE workspace_id = $1 AND phone = ANY($2)")
        .bind(ws)
        .bind(&phones)
        .fetch_all(&mut *tx)
        .await?;
    for lead in parsed.iter().filter(|l| !have.iter().any(|h| h == l.phone.as_str())) {
        leads::insert(&mut tx, ws, lead).await.map_err(|e| anyhow::anyhow!("demo lead {}: {e}", lead.phone))?;
    }
    let crusade = ensure_crusade(&mut tx, ws, &seed.crusade).await?;
    ensure_campaign(&mut tx, ws, &seed.campaign, crusade).await?;
    tx.commit().await?;
    Ok(())
}

async fn id_by_name(
    tx: &mut sqlx::PgConnection,
    table: &str,
    ws: WorkspaceId,
    name: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT id FROM {table} WHERE workspace_id = $1 AND name = $2")))
        .bind(ws)
        .bind(name)
        .fetch_optional(tx)
        .await
}

async fn ensure_crusade(tx: &mut sqlx::PgConnection, ws: WorkspaceId, c: &SeedCrusade) -> anyhow::Result<Uuid> {
    if let Some(id) = id_by_name(tx, "crusades", ws, &c.name).await? {
        return Ok(id);
    }
    let spec = CrusadeSpec {
        name: c.name.clone(),
        days: crusades::parse_days(&c.days)?,
        start_time: crusades::parse_time("start_time", &c.start_time)?,
        end_time: crusades::parse_time("end_time", &c.end_time)?,
        start_date: None,
        end_date: None,
        throttle_per_minute: Some(c.throttle_per_minute),
        jitter_seconds: c.jitter_seconds,
    }
    .check()?;
    Ok(crusades::save(tx, ws, Uuid::now_v7(), &spec, true).await?.id)
}

async fn ensure_campaign(
    tx: &mut sqlx::PgConnection,
    ws: WorkspaceId,
    c: &SeedCampaign,
    crusade: Uuid,
) -> anyhow::Result<()> {
    if id_by_name(tx, "campaigns", ws, &c.name).await?.is_some() {
        return Ok(());
    }
    let spec = CampaignSpec {
        name: c.name.clone(),
        steps: Steps::parse(c.steps.clone())?,
        audience: c.audience.clone().parse()?,
        number_pool: Vec::new(),
        retext_recipient_days: 30,
        retext_pair_days: 90,
        opt_out_language: "Reply STOP to opt out.".into(),
        crusade_id: Some(crusade),
        vertical: Some(c.vertical.clone()),
    };
    campaigns::save(tx, ws, Uuid::now_v7(), &spec, true).await.map_err(|e| anyhow::anyhow!("demo campaign: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_parses_and_every_generated_lead_is_valid() {
        let seed: Seed = serde_json::from_str(SEED).unwrap();
        let leads = seed.leads.leads();
        assert_eq!(leads.len(), 200);
        for lead in leads {
            let phone = lead.phone.clone();
            lead.parse().unwrap_or_else(|e| panic!("{phone}: {e}"));
        }
        Steps::parse(seed.campaign.steps).unwrap();
    }
}
