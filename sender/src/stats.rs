//! Campaign counters: monotonic per (campaign, metric), kept in `campaign_stats`.
//!
//! Writers add inside the transaction that changed the outbox, so a counter never runs ahead of
//! or behind the rows it counts. Each add lands on one of [`SHARDS`] rows chosen at random, so
//! two instances bumping the same hot campaign rarely wait on one row lock; readers sum shards.

use std::collections::BTreeMap;

use rand::Rng;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ids::WorkspaceId;

/// How many rows one (campaign, metric) counter is spread over.
pub const SHARDS: i16 = 8;

/// The metrics a campaign counts. Skips are `skipped:<reason>` (see [`skipped`]).
pub mod metric {
    pub const MATERIALIZED: &str = "materialized";
    pub const SENT: &str = "sent";
    pub const DELIVERED: &str = "delivered";
    /// Accepted, then reported undelivered or failed by the carrier's status callback.
    pub const UNDELIVERED: &str = "undelivered";
    pub const FAILED: &str = "failed";
    pub const UNKNOWN: &str = "unknown";
    pub const CANCELED: &str = "canceled";
    pub const REPLIES: &str = "replies";
    pub const OPT_OUTS: &str = "opt_outs";
}

/// The metric name for rows skipped for `reason`.
pub fn skipped(reason: &str) -> String {
    format!("skipped:{reason}")
}

/// Adds to several counters at once: `(campaign, metric, n)` triples, in one statement.
pub async fn add_many(conn: &mut PgConnection, workspace: WorkspaceId, adds: &[(Uuid, &str, i64)]) -> sqlx::Result<()> {
    if adds.is_empty() {
        return Ok(());
    }
    // Merge duplicates first: one statement may not touch the same row twice.
    let mut merged: BTreeMap<(Uuid, &str), i64> = BTreeMap::new();
    for (campaign, metric, n) in adds {
        *merged.entry((*campaign, *metric)).or_default() += n;
    }
    let shard = rand::rng().random_range(0..SHARDS);
    let (campaigns, (metrics, counts)): (Vec<Uuid>, (Vec<&str>, Vec<i64>)) =
        merged.into_iter().map(|((c, m), n)| (c, (m, n))).unzip();
    sqlx::query(
        "INSERT INTO campaign_stats (workspace_id, campaign_id, metric, shard, n) \
         SELECT $1, c, m, $5, n FROM unnest($2::uuid[], $3::text[], $4::bigint[]) AS t(c, m, n) \
         ON CONFLICT (workspace_id, campaign_id, metric, shard) DO UPDATE SET n = campaign_stats.n + EXCLUDED.n",
    )
    .bind(workspace)
    .bind(&campaigns)
    .bind(&metrics)
    .bind(&counts)
    .bind(shard)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds `n` to one counter.
pub async fn add(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    campaign: Uuid,
    metric: &str,
    n: i64,
) -> sqlx::Result<()> {
    add_many(conn, workspace, &[(campaign, metric, n)]).await
}

/// A campaign's counters and what is still queued.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub materialized: i64,
    pub sent: i64,
    pub delivered: i64,
    pub undelivered: i64,
    pub failed: i64,
    pub unknown: i64,
    pub canceled: i64,
    pub replies: i64,
    pub opt_outs: i64,
    /// Skipped rows by reason.
    pub skipped: BTreeMap<String, i64>,
    /// Materialized rows not yet final: materialized − sent − failed − unknown − canceled − skipped.
    pub queued: i64,
}

impl Counters {
    fn from_pairs(pairs: impl IntoIterator<Item = (String, i64)>) -> Self {
        let mut c = Counters::default();
        for (name, n) in pairs {
            match name.as_str() {
                metric::MATERIALIZED => c.materialized = n,
                metric::SENT => c.sent = n,
                metric::DELIVERED => c.delivered = n,
                metric::UNDELIVERED => c.undelivered = n,
                metric::FAILED => c.failed = n,
                metric::UNKNOWN => c.unknown = n,
                metric::CANCELED => c.canceled = n,
                metric::REPLIES => c.replies = n,
                metric::OPT_OUTS => c.opt_outs = n,
                other => {
                    if let Some(reason) = other.strip_prefix("skipped:") {
                        c.skipped.insert(reason.to_owned(), n);
                    }
                }
            }
        }
        let skipped: i64 = c.skipped.values().sum();
        c.queued = (c.materialized - c.sent - c.failed - c.unknown - c.canceled - skipped).max(0);
        c
    }

    /// The sum of two campaigns' counters (a crusade's total).
    pub fn merge(&mut self, other: &Counters) {
        self.materialized += other.materialized;
        self.sent += other.sent;
        self.delivered += other.delivered;
        self.undelivered += other.undelivered;
        self.failed += other.failed;
        self.unknown += other.unknown;
        self.canceled += other.canceled;
        self.replies += other.replies;
        self.opt_outs += other.opt_outs;
        self.queued += other.queued;
        for (reason, n) in &other.skipped {
            *self.skipped.entry(reason.clone()).or_default() += n;
        }
    }
}

/// The counters of each of `campaigns` (absent campaigns count zero).
pub async fn counters(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    campaigns: &[Uuid],
) -> sqlx::Result<BTreeMap<Uuid, Counters>> {
    let rows: Vec<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT campaign_id, metric, sum(n)::bigint FROM campaign_stats \
         WHERE workspace_id = $1 AND campaign_id = ANY($2) GROUP BY campaign_id, metric",
    )
    .bind(workspace)
    .bind(campaigns)
    .fetch_all(conn)
    .await?;
    let mut grouped: BTreeMap<Uuid, Vec<(String, i64)>> = campaigns.iter().map(|c| (*c, Vec::new())).collect();
    for (campaign, metric, n) in rows {
        grouped.entry(campaign).or_default().push((metric, n));
    }
    Ok(grouped.into_iter().map(|(c, pairs)| (c, Counters::from_pairs(pairs))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_is_what_is_not_final() {
        let c = Counters::from_pairs([
            ("materialized".into(), 10),
            ("sent".into(), 4),
            ("delivered".into(), 3),
            ("failed".into(), 1),
            ("skipped:opted_out".into(), 2),
            ("replies".into(), 1),
        ]);
        assert_eq!(c.queued, 3);
        assert_eq!(c.skipped.get("opted_out"), Some(&2));
        let mut total = c.clone();
        total.merge(&c);
        assert_eq!(total.queued, 6);
        assert_eq!(total.skipped.get("opted_out"), Some(&4));
    }
}
