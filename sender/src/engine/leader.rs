//! The leader: the one instance (holding a PostgreSQL advisory lock on its own connection) that
//! runs the engine's once-a-second chores. If it dies, its connection closes, the lock frees,
//! and another instance's leader loop takes over within a second.
//!
//! - scheduled crusades whose start date came → running (their campaigns materialized);
//! - live counters on `campaign:<id>` and `crusade:<id>` for running (and just-finished) ones;
//! - campaigns with nothing left queued or claimed → `completed` (crusades when all are done);
//! - stale claims of crashed workers recovered as `unknown` (possibly sent, never resent);
//! - first messages queued on a tripped account's numbers rerouted to healthy accounts;
//! - status callbacks older than `inbound::STATUS_CALLBACK_RETENTION` pruned, every 10 s.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tokio::sync::watch;
use uuid::Uuid;

use super::Shared;
use crate::ids::WorkspaceId;
use crate::outbox::{forget_finished_claims, recover_stale_claims};
use crate::stats::{self, Counters};

const LOCK: &str = "SELECT pg_try_advisory_lock(hashtext('switchboard engine leader'))";

pub(super) async fn run(shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let mut lock: Option<PgConnection> = None;
    // Campaigns seen running, kept a few seconds after they stop so the final counts go out.
    let mut watched: BTreeMap<(WorkspaceId, Uuid), (Option<Uuid>, Instant)> = BTreeMap::new();
    let mut last_recovery = Instant::now() - Duration::from_secs(3600);
    let mut last_prune = Instant::now() - Duration::from_secs(3600);
    while !*stopped.borrow() {
        if lock.is_none() {
            lock = try_lead(&shared).await;
        }
        if let Some(conn) = lock.as_mut() {
            let chores = chores(&shared, conn, &mut watched, &mut last_recovery, &mut last_prune);
            if let Err(e) = chores.await {
                tracing::warn!(error = %e, "engine: leader chores failed; giving up the lead");
                lock = None;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stopped.changed() => {}
        }
    }
}

async fn chores(
    shared: &Shared,
    conn: &mut PgConnection,
    watched: &mut BTreeMap<(WorkspaceId, Uuid), (Option<Uuid>, Instant)>,
    last_recovery: &mut Instant,
    last_prune: &mut Instant,
) -> sqlx::Result<()> {
    for (ws, crusade) in crate::crusades::activate_due(conn, Utc::now()).await? {
        tracing::info!(%crusade, "engine: crusade reached its start date");
        shared.bus.publish(
            ws,
            &format!("crusade:{crusade}"),
            "status",
            json!({"crusade_id": crusade, "status": "running"}),
        );
    }
    for (ws, crusade) in crate::crusades::end_due(conn, Utc::now()).await? {
        tracing::info!(%crusade, "engine: crusade passed its end date");
        shared.bus.publish(
            ws,
            &format!("crusade:{crusade}"),
            "status",
            json!({"crusade_id": crusade, "status": "completed"}),
        );
    }
    complete_finished(shared, conn).await?;
    publish_counters(shared, conn, watched).await?;
    if last_recovery.elapsed() > Duration::from_secs(2) {
        *last_recovery = Instant::now();
        let older = Utc::now() - chrono::Duration::from_std(shared.config.dead_after).unwrap_or_default();
        let unknown = recover_stale_claims(conn, older).await?;
        if unknown > 0 {
            tracing::warn!(unknown, "engine: a dead instance's claims recovered as unknown");
        }
        forget_finished_claims(conn, Utc::now() - chrono::Duration::minutes(1)).await?;
        super::rotation::reroute_tripped(shared, conn).await?;
    }
    if last_prune.elapsed() > PRUNE_EVERY {
        *last_prune = Instant::now();
        prune_callbacks(conn).await?;
    }
    Ok(())
}

/// How often the leader prunes old status callbacks, in batches of `PRUNE_BATCH` for at most
/// `PRUNE_FOR` (so the live counters never wait longer): about 10k rows a second of capacity on
/// the benchmark box, more than a day of sending at full rate adds; a backlog (the first start
/// after an upgrade) drains over the following minutes.
const PRUNE_EVERY: Duration = Duration::from_secs(10);
const PRUNE_BATCH: i64 = 5000;
const PRUNE_FOR: Duration = Duration::from_millis(500);

async fn prune_callbacks(conn: &mut PgConnection) -> sqlx::Result<()> {
    let (started, before) = (Instant::now(), Utc::now() - crate::inbound::STATUS_CALLBACK_RETENTION);
    let mut pruned = 0;
    while started.elapsed() < PRUNE_FOR {
        let n = crate::inbound::prune_status_callbacks(conn, before, PRUNE_BATCH).await?;
        pruned += n;
        if n < PRUNE_BATCH as u64 {
            break;
        }
    }
    if pruned > 0 {
        tracing::info!(pruned, "engine: old status callbacks pruned");
    }
    Ok(())
}

async fn try_lead(shared: &Shared) -> Option<PgConnection> {
    let options = shared.db.connect_options();
    let mut conn = PgConnection::connect_with(&options).await.ok()?;
    let got: bool = sqlx::query_scalar(LOCK).fetch_one(&mut conn).await.ok()?;
    if got {
        tracing::info!(worker = %shared.config.worker_id, "engine: leading");
        Some(conn)
    } else {
        let _ = conn.close().await;
        None
    }
}

/// Running campaigns with nothing queued (claimed rows are queued ones) are complete; so are crusades whose
/// campaigns all ended.
async fn complete_finished(shared: &Shared, conn: &mut PgConnection) -> sqlx::Result<()> {
    let done: Vec<(WorkspaceId, Uuid, Option<Uuid>)> = sqlx::query_as(
        "UPDATE campaigns c SET status = 'completed', finished_at = now(), updated_at = now() \
         WHERE c.status = 'running' AND c.materialized_at IS NOT NULL \
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.workspace_id = c.workspace_id AND o.campaign_id = c.id \
                           AND o.state = 'queued') \
         RETURNING c.workspace_id, c.id, c.crusade_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (ws, id, _) in &done {
        shared.bus.publish(*ws, &format!("campaign:{id}"), "status", json!({"campaign_id": id, "status": "completed"}));
    }
    let crusades: Vec<(WorkspaceId, Uuid)> = sqlx::query_as(
        "UPDATE crusades k SET status = 'completed', updated_at = now() \
         WHERE k.status = 'running' \
           AND EXISTS (SELECT 1 FROM campaigns c WHERE c.workspace_id = k.workspace_id AND c.crusade_id = k.id) \
           AND NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.workspace_id = k.workspace_id AND c.crusade_id = k.id \
                           AND c.status NOT IN ('completed', 'canceled')) \
         RETURNING k.workspace_id, k.id",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (ws, id) in crusades {
        shared.bus.publish(ws, &format!("crusade:{id}"), "status", json!({"crusade_id": id, "status": "completed"}));
    }
    Ok(())
}

/// Publishes the counters of every running campaign (and of those that stopped in the last
/// few seconds), and their crusades' sums.
async fn publish_counters(
    shared: &Shared,
    conn: &mut PgConnection,
    watched: &mut BTreeMap<(WorkspaceId, Uuid), (Option<Uuid>, Instant)>,
) -> sqlx::Result<()> {
    let running: Vec<(WorkspaceId, Uuid, Option<Uuid>)> =
        sqlx::query_as("SELECT workspace_id, id, crusade_id FROM campaigns WHERE status = 'running'")
            .fetch_all(&mut *conn)
            .await?;
    let now = Instant::now();
    for (ws, id, crusade) in running {
        watched.insert((ws, id), (crusade, now));
    }
    watched.retain(|_, (_, seen)| now.duration_since(*seen) < Duration::from_secs(5));
    let mut by_workspace: BTreeMap<WorkspaceId, Vec<(Uuid, Option<Uuid>)>> = BTreeMap::new();
    for ((ws, id), (crusade, _)) in watched.iter() {
        by_workspace.entry(*ws).or_default().push((*id, *crusade));
    }
    for (ws, campaigns) in by_workspace {
        let ids: Vec<Uuid> = campaigns.iter().map(|(id, _)| *id).collect();
        let statuses: BTreeMap<Uuid, String> =
            sqlx::query_as("SELECT id, status FROM campaigns WHERE workspace_id = $1 AND id = ANY($2)")
                .bind(ws)
                .bind(&ids)
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .collect();
        let counters = stats::counters(conn, ws, &ids).await?;
        let mut crusades: BTreeMap<Uuid, (Counters, serde_json::Map<String, serde_json::Value>)> = BTreeMap::new();
        for (id, crusade) in campaigns {
            let c = counters.get(&id).cloned().unwrap_or_default();
            let status = statuses.get(&id).cloned().unwrap_or_default();
            let payload = json!({"campaign_id": id, "status": status, "counters": c, "queued": c.queued});
            if let Some(crusade) = crusade {
                let entry = crusades.entry(crusade).or_default();
                entry.0.merge(&c);
                entry.1.insert(id.to_string(), payload.clone());
            }
            shared.bus.publish(ws, &format!("campaign:{id}"), "stats", payload);
        }
        for (crusade, (total, per_campaign)) in crusades {
            let status: Option<String> =
                sqlx::query_scalar("SELECT status FROM crusades WHERE workspace_id = $1 AND id = $2")
                    .bind(ws)
                    .bind(crusade)
                    .fetch_optional(&mut *conn)
                    .await?;
            shared.bus.publish(
                ws,
                &format!("crusade:{crusade}"),
                "stats",
                json!({"crusade_id": crusade, "status": status, "counters": total, "queued": total.queued,
                       "campaigns": per_campaign}),
            );
        }
    }
    Ok(())
}
