//! Batched results of carrier calls. Many number workers send at once; each hands its row's
//! end to the batching task, so PostgreSQL sees one transaction per batch instead of one per
//! message. [`Recorder::finish`] applies each row's end: the send-log result, the outbox state,
//! the campaign counters, and what the answer means for compliance (21610 → opt-out, invalid or
//! landline → undeliverable, bad credentials → account failing) and the next campaign step (none
//! for a recipient who replied since the attempt: `follow_up`), all in one transaction.
//!
//! The "calling" send-log rows are not written here: the claim writes them in its own
//! transaction (`worker::claim`), so a claimed row is always a recorded one (invariant 2).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::classify::Disposition;
use super::follow_up;
use crate::batch::next_batch;
use crate::compliance::suppression::{ConsentContext, OptOutSource, record_opt_out};
use crate::ids::WorkspaceId;
use crate::outbox::{self, Claimed, RowEnd};
use crate::phone::E164;
use crate::send_log::{self, AttemptResult};
use crate::stats::{self, metric};

/// Most rows written in one transaction.
const BATCH: usize = 1000;

/// How a claimed and recorded row ended: its attempt (the send-log row) and what came of it —
/// including not calling at all (`Withheld`, `Held`).
#[derive(Debug)]
pub struct Finished {
    pub row: Claimed,
    pub account_id: Option<Uuid>,
    pub attempt_id: Uuid,
    pub attempted_at: DateTime<Utc>,
    pub disposition: Disposition,
}

/// The batching task's inbox.
#[derive(Clone)]
pub struct Recorder {
    ends: mpsc::Sender<Finished>,
}

impl Recorder {
    /// Starts the batching task on `db`. It ends when every `Recorder` clone is dropped, after
    /// writing what it holds.
    pub fn start(db: PgPool, worker: String) -> (Self, tokio::task::JoinHandle<()>) {
        let (ends, ends_rx) = mpsc::channel(BATCH * 8);
        (Self { ends }, tokio::spawn(write_ends(db, worker, ends_rx)))
    }

    /// Queues a row's end for the next batch.
    pub async fn finish(&self, finished: Finished) {
        if self.ends.send(finished).await.is_err() {
            tracing::error!("engine: the result writer is gone; a claimed row will be recovered as stale");
        }
    }
}

async fn write_ends(db: PgPool, worker: String, mut rx: mpsc::Receiver<Finished>) {
    while let Some(batch) = next_batch(&mut rx, BATCH).await {
        // A failed batch is retried: its rows stay claimed until it lands (or, if the process
        // dies, stale-claim recovery reads them as unknown).
        let mut delay = Duration::from_millis(100);
        loop {
            match apply_ends(&db, &worker, &batch).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(error = %e, rows = batch.len(), "engine: writing results failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// The metric a row's end adds to its campaign's counters (none while it goes back to the queue).
fn counter_of(disposition: &Disposition) -> Option<&'static str> {
    match disposition.final_state()? {
        "sent" => Some(metric::SENT),
        "unknown" => Some(metric::UNKNOWN),
        "canceled" => Some(metric::CANCELED),
        _ => Some(metric::FAILED),
    }
}

async fn apply_ends(db: &PgPool, worker: &str, batch: &[Finished]) -> sqlx::Result<()> {
    let now = Utc::now();
    let mut tx = db.begin().await?;
    // Opt-outs learnt from the carrier (21610) wait for the flush; the rest is bookkeeping.
    let opts_out = batch.iter().any(|f| matches!(f.disposition, Disposition::OptedOut { .. }));
    if !opts_out {
        super::relax_commit(&mut tx).await?;
    }
    // First, before any row lock: the rows that queue a next step, their recipients locked
    // against a reply being stored meanwhile (see `follow_up`).
    let next_steps = follow_up::NextSteps::prepare(&mut tx, batch).await?;
    // Rows in key order, the outbox's before the send log's: status callbacks lock them so too
    // (`inbound::advance_outbox`), so the two never wait on each other in a cycle.
    let mut ordered: Vec<&Finished> = batch.iter().collect();
    ordered.sort_by_key(|f| (f.row.workspace_id, f.row.id));
    let results: Vec<AttemptResult> = ordered
        .iter()
        .map(|f| AttemptResult {
            workspace: f.row.workspace_id,
            attempted_at: f.attempted_at,
            id: f.attempt_id,
            state: match f.disposition {
                Disposition::Sent { .. } => "accepted",
                Disposition::Unknown => "unknown",
                _ => "failed",
            },
            sid: match &f.disposition {
                Disposition::Sent { sid, .. } => Some(sid.clone()),
                _ => None,
            },
            status: match &f.disposition {
                Disposition::Sent { status, .. } => Some(status.clone()),
                _ => None,
            },
            error_code: f.disposition.error_code().and_then(|c| i32::try_from(c).ok()),
        })
        .collect();

    let mut ends = Vec::with_capacity(batch.len());
    let mut counters: BTreeMap<WorkspaceId, Vec<(Uuid, &str, i64)>> = BTreeMap::new();
    for f in ordered {
        let disposition = &f.disposition;
        let after = match disposition {
            Disposition::Retry { after, .. } | Disposition::Held { after } => *after,
            _ => Duration::ZERO,
        };
        ends.push(RowEnd {
            workspace: f.row.workspace_id,
            id: f.row.id,
            state: disposition.final_state().unwrap_or("queued"),
            sid: match disposition {
                Disposition::Sent { sid, .. } => Some(sid.clone()),
                _ => None,
            },
            error_code: disposition.error_code().and_then(|c| i32::try_from(c).ok()),
            not_before: now + chrono::Duration::from_std(after).unwrap_or_default(),
            account: f.account_id,
            // The row's latest attempt, by the send log's primary key: status callbacks find it so.
            attempt: Some(f.attempt_id).filter(|id| !id.is_nil()),
            attempted_at: f.attempted_at,
        });
        if let Some(m) = counter_of(disposition) {
            counters.entry(f.row.workspace_id).or_default().push((f.row.campaign_id, m, 1));
        }
    }
    outbox::record_ends(&mut tx, worker, now, &ends).await?;
    send_log::record_results(&mut tx, &results).await?;
    for (workspace, adds) in &counters {
        stats::add_many(&mut tx, *workspace, adds).await?;
    }
    apply_compliance(&mut tx, batch).await?;
    next_steps.queue(&mut tx, now).await?;
    tx.commit().await
}

/// What carrier answers say about recipients and accounts.
async fn apply_compliance(tx: &mut sqlx::PgConnection, batch: &[Finished]) -> sqlx::Result<()> {
    for f in batch {
        let disposition = &f.disposition;
        let Ok(phone) = E164::from_stored(&f.row.to_phone) else { continue };
        match disposition {
            Disposition::OptedOut { .. } => {
                let ctx =
                    ConsentContext { via_number: E164::from_stored(&f.row.from_number).ok(), ..Default::default() };
                if record_opt_out(tx, f.row.workspace_id, &phone, OptOutSource::Carrier, &ctx).await? {
                    stats::add(tx, f.row.workspace_id, f.row.campaign_id, metric::OPT_OUTS, 1).await?;
                }
            }
            Disposition::Undeliverable { code, reason } => {
                sqlx::query(
                    "INSERT INTO undeliverable_numbers (workspace_id, phone, reason, error_code) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (workspace_id, phone) DO NOTHING",
                )
                .bind(f.row.workspace_id)
                .bind(phone.as_str())
                .bind(reason)
                .bind(i32::try_from(*code).ok())
                .execute(&mut *tx)
                .await?;
            }
            Disposition::Retry { account_down: true, .. } => {
                sqlx::query(
                    "UPDATE carrier_accounts SET status = 'failing', updated_at = now() \
                     WHERE workspace_id = $1 AND id = $2 AND status = 'active'",
                )
                .bind(f.row.workspace_id)
                .bind(f.account_id)
                .execute(&mut *tx)
                .await?;
            }
            _ => {}
        }
    }
    Ok(())
}
