//! Batched writes around the carrier call. Many number workers send at once; each hands its
//! writes to one of two batching tasks, so PostgreSQL sees one transaction per batch instead of
//! one per message:
//!
//! - [`Recorder::record`] writes the "calling" send-log row and the pair/recipient histories
//!   and returns only after they committed — the call happens after (invariant 2: a crash leaves
//!   the row "calling", read as unknown, never resent).
//! - [`Recorder::finish`] applies each row's end: the send-log result, the outbox state, the
//!   campaign counters, and what the answer means for compliance (21610 → opt-out, invalid or
//!   landline → undeliverable, bad credentials → account failing) and the next campaign step
//!   (none for a recipient who replied since the attempt: `follow_up`), all in one transaction.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::classify::Disposition;
use super::follow_up;
use crate::batch::next_batch;
use crate::compliance::suppression::{ConsentContext, OptOutSource, record_opt_out};
use crate::ids::WorkspaceId;
use crate::outbox::Claimed;
use crate::phone::E164;
use crate::send_log::{self, Attempt, AttemptResult};
use crate::stats::{self, metric};

/// Most rows written in one transaction.
const BATCH: usize = 1000;

/// How a claimed row ends this round.
#[derive(Clone, Debug)]
pub enum RowEnd {
    /// The carrier was called; `attempt` names the send-log row.
    Called { attempt_id: Uuid, attempted_at: DateTime<Utc>, disposition: Disposition },
    /// The recipient opted out after the claim (the in-memory set): never called.
    Canceled,
    /// Not called nor recorded (account cooling off, write failed): back to the queue after this
    /// long, the claim's attempt given back.
    Requeue(Duration),
}

#[derive(Debug)]
pub struct Finished {
    pub row: Claimed,
    pub account_id: Option<Uuid>,
    pub end: RowEnd,
}

type Pending = (WorkspaceId, Attempt, oneshot::Sender<bool>);

/// The two batching tasks' inboxes.
#[derive(Clone)]
pub struct Recorder {
    attempts: mpsc::Sender<Pending>,
    ends: mpsc::Sender<Finished>,
}

impl Recorder {
    /// Starts the batching tasks on `db`. They end when every `Recorder` clone is dropped, after
    /// writing what they hold.
    pub fn start(db: PgPool, worker: String) -> (Self, tokio::task::JoinHandle<()>) {
        let (attempts, attempts_rx) = mpsc::channel(BATCH * 8);
        let (ends, ends_rx) = mpsc::channel(BATCH * 8);
        let a = tokio::spawn(write_attempts(db.clone(), worker.clone(), attempts_rx));
        let b = tokio::spawn(write_ends(db, worker.clone(), ends_rx));
        let joined = tokio::spawn(async move {
            let _ = tokio::join!(a, b);
        });
        (Self { attempts, ends }, joined)
    }

    /// Writes the "calling" row; true once it committed. False means it did not: do not call.
    pub async fn record(&self, workspace: WorkspaceId, attempt: Attempt) -> bool {
        let (done, committed) = oneshot::channel();
        if self.attempts.send((workspace, attempt, done)).await.is_err() {
            return false;
        }
        committed.await.unwrap_or(false)
    }

    /// Queues a row's end for the next batch.
    pub async fn finish(&self, finished: Finished) {
        if self.ends.send(finished).await.is_err() {
            tracing::error!("engine: the result writer is gone; a claimed row will be recovered as stale");
        }
    }
}

async fn write_attempts(db: PgPool, worker: String, mut rx: mpsc::Receiver<Pending>) {
    while let Some(batch) = next_batch(&mut rx, BATCH).await {
        let written: sqlx::Result<std::collections::HashSet<i64>> = async {
            let mut tx = db.begin().await?;
            // Only rows still claimed by this worker are called: a row recovered from a worker
            // presumed dead (and maybe claimed again elsewhere) is never called twice.
            let (ws, ids): (Vec<WorkspaceId>, Vec<i64>) =
                batch.iter().map(|(w, a, _)| (*w, a.outbox_id.unwrap_or_default())).unzip();
            let still_ours: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT o.id FROM unnest($1::uuid[], $2::bigint[]) AS r(ws, id) CROSS JOIN LATERAL ({} FOR UPDATE) o",
                still_mine("$3")
            )))
            .bind(&ws)
            .bind(&ids)
            .bind(&worker)
            .fetch_all(&mut *tx)
            .await?;
            let ours: std::collections::HashSet<i64> = still_ours.into_iter().collect();
            let rows: Vec<(WorkspaceId, Attempt)> = batch
                .iter()
                .filter(|(_, a, _)| a.outbox_id.is_some_and(|id| ours.contains(&id)))
                .map(|(w, a, _)| (*w, a.clone()))
                .collect();
            send_log::record_attempts(&mut tx, &rows).await?;
            tx.commit().await?;
            Ok(ours)
        }
        .await;
        if let Err(e) = &written {
            tracing::error!(error = %e, rows = batch.len(), "engine: recording attempts failed; not calling");
        }
        metrics::histogram!("switchboard_engine_attempt_batch_rows").record(batch.len() as f64);
        for (_, attempt, done) in batch {
            let ok = written.as_ref().is_ok_and(|ours| attempt.outbox_id.is_some_and(|id| ours.contains(&id)));
            let _ = done.send(ok);
        }
    }
}

async fn write_ends(db: PgPool, worker: String, mut rx: mpsc::Receiver<Finished>) {
    while let Some(batch) = next_batch(&mut rx, BATCH).await {
        // A failed batch is retried: its rows stay claimed until it lands (or, if the process
        // dies, stale-claim recovery reads the "calling" rows as unknown).
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

/// The metric a row's end adds to its campaign's counters.
fn counter_of(end: &RowEnd) -> Option<&'static str> {
    match end {
        RowEnd::Called { disposition, .. } => match disposition.final_state()? {
            "sent" => Some(metric::SENT),
            "unknown" => Some(metric::UNKNOWN),
            "canceled" => Some(metric::CANCELED),
            _ => Some(metric::FAILED),
        },
        RowEnd::Canceled => Some(metric::CANCELED),
        RowEnd::Requeue(_) => None,
    }
}

async fn apply_ends(db: &PgPool, worker: &str, batch: &[Finished]) -> sqlx::Result<()> {
    let now = Utc::now();
    let mut tx = db.begin().await?;
    // Opt-outs learnt from the carrier (21610) wait for the flush; the rest is bookkeeping.
    let opts_out =
        batch.iter().any(|f| matches!(&f.end, RowEnd::Called { disposition: Disposition::OptedOut { .. }, .. }));
    if !opts_out {
        super::relax_commit(&mut tx).await?;
    }
    // First, before any row lock: the rows that queue a next step, their recipients locked
    // against a reply being stored meanwhile (see `follow_up`).
    let next_steps = follow_up::NextSteps::prepare(&mut tx, batch).await?;
    let results: Vec<AttemptResult> = batch
        .iter()
        .filter_map(|f| match &f.end {
            RowEnd::Called { attempt_id, attempted_at, disposition } => Some(AttemptResult {
                workspace: f.row.workspace_id,
                attempted_at: *attempted_at,
                id: *attempt_id,
                state: match disposition {
                    Disposition::Sent { .. } => "accepted",
                    Disposition::Unknown => "unknown",
                    _ => "failed",
                },
                sid: match disposition {
                    Disposition::Sent { sid, .. } => Some(sid.clone()),
                    _ => None,
                },
                status: match disposition {
                    Disposition::Sent { status, .. } => Some(status.clone()),
                    _ => None,
                },
                error_code: disposition.error_code().and_then(|c| i32::try_from(c).ok()),
            }),
            _ => None,
        })
        .collect();
    send_log::record_results(&mut tx, &results).await?;

    let mut ws = Vec::with_capacity(batch.len());
    let mut ids = Vec::with_capacity(batch.len());
    let mut states = Vec::with_capacity(batch.len());
    let mut sids: Vec<Option<String>> = Vec::with_capacity(batch.len());
    let mut codes: Vec<Option<i32>> = Vec::with_capacity(batch.len());
    let mut not_before = Vec::with_capacity(batch.len());
    let mut accounts: Vec<Option<Uuid>> = Vec::with_capacity(batch.len());
    // A row put back before its attempt was recorded gives the claim's attempt back: nothing was
    // called and no history written, so it is judged again as it was before this claim.
    let given_back: Vec<bool> = batch.iter().map(|f| matches!(f.end, RowEnd::Requeue(_))).collect();
    let mut counters: BTreeMap<WorkspaceId, Vec<(Uuid, &str, i64)>> = BTreeMap::new();
    for f in batch {
        let (state, sid, code, after) = match &f.end {
            RowEnd::Called { disposition, .. } => {
                let sid = match disposition {
                    Disposition::Sent { sid, .. } => Some(sid.clone()),
                    _ => None,
                };
                let after = match disposition {
                    Disposition::Retry { after, .. } | Disposition::Held { after } => *after,
                    _ => Duration::ZERO,
                };
                let code = disposition.error_code().and_then(|c| i32::try_from(c).ok());
                (disposition.final_state().unwrap_or("queued"), sid, code, after)
            }
            RowEnd::Canceled => ("canceled", None, None, Duration::ZERO),
            RowEnd::Requeue(after) => ("queued", None, None, *after),
        };
        ws.push(f.row.workspace_id);
        ids.push(f.row.id);
        states.push(state);
        sids.push(sid);
        codes.push(code);
        not_before.push(now + chrono::Duration::from_std(after).unwrap_or_default());
        accounts.push(f.account_id);
        if let Some(m) = counter_of(&f.end) {
            counters.entry(f.row.workspace_id).or_default().push((f.row.campaign_id, m, 1));
        }
    }
    let new_sids: Vec<&str> = sids.iter().flatten().map(String::as_str).collect();
    crate::inbound::lock_sids(&mut tx, &new_sids).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH mine AS MATERIALIZED ( \
           SELECT r.* FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::timestamptz[], \
             $7::uuid[], $10::bool[]) AS r(ws, id, state, sid, code, not_before, account, given_back) \
           CROSS JOIN LATERAL ({} FOR UPDATE) l) \
         UPDATE outbox o SET state = r.state, sid = coalesce(r.sid, o.sid), error_code = r.code, \
           account_id = coalesce(r.account, o.account_id), \
           sent_at = CASE WHEN r.state = 'sent' THEN $8 ELSE o.sent_at END, \
           status = CASE WHEN r.state = 'sent' THEN coalesce(o.status, 'queued') ELSE o.status END, \
           not_before = CASE WHEN r.state = 'queued' THEN r.not_before ELSE o.not_before END, \
           claimed_at = CASE WHEN r.state = 'queued' THEN NULL ELSE o.claimed_at END, \
           attempts = o.attempts - CASE WHEN r.given_back THEN 1 ELSE 0 END, \
           updated_at = $8 \
         FROM mine r WHERE o.workspace_id = r.ws AND o.id = r.id",
        still_mine("$9")
    )))
    .bind(&ws)
    .bind(&ids)
    .bind(&states)
    .bind(&sids)
    .bind(&codes)
    .bind(&not_before)
    .bind(&accounts)
    .bind(now)
    .bind(worker)
    .bind(&given_back)
    .execute(&mut *tx)
    .await?;
    for (workspace, adds) in &counters {
        stats::add_many(&mut tx, *workspace, adds).await?;
    }
    let mut sids_by_workspace: BTreeMap<WorkspaceId, Vec<&str>> = BTreeMap::new();
    for (w, sid) in ws.iter().zip(&sids) {
        if let Some(sid) = sid {
            sids_by_workspace.entry(*w).or_default().push(sid);
        }
    }
    for (workspace, sids) in &sids_by_workspace {
        crate::inbound::apply_early_callbacks(&mut tx, *workspace, sids).await?;
    }
    apply_compliance(&mut tx, batch).await?;
    next_steps.queue(&mut tx, now).await?;
    tx.commit().await
}

/// What carrier answers say about recipients and accounts.
async fn apply_compliance(tx: &mut sqlx::PgConnection, batch: &[Finished]) -> sqlx::Result<()> {
    for f in batch {
        let RowEnd::Called { disposition, .. } = &f.end else { continue };
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

/// The listed row `r` (ws, id) if this worker (the `worker` parameter) still holds its claim,
/// found by primary key. Used as a LATERAL subquery on purpose: `claimed` rows are transient,
/// so the table's statistics always call them rare, and a planner free to join the other way
/// round scans every claimed row once per listed row (seconds per batch under load).
fn still_mine(worker: &str) -> String {
    format!(
        "SELECT o.id FROM outbox o WHERE o.workspace_id = r.ws AND o.id = r.id \
         AND o.state = 'claimed' AND o.claimed_by = {worker}"
    )
}
