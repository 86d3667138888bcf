//! The supervisor and the per-number workers.
//!
//! The supervisor keeps one worker per sending number: an active SMS number on an active
//! account that a running campaign may use (its pool, or every number when the pool is empty).
//! A worker loops: take the day's quota, claim what the number can send in about a second and
//! record every claimed row's attempt, in one transaction → for each row, re-check the opt-out
//! set and the account's breaker, wait for pacing tokens, and start the call (bounded by
//! `max_in_flight`), which calls, classifies and hands the result to the recorder.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::Shared;
use super::classify::{Disposition, classify};
use super::quota::{self, Cap};
use super::recorder::Finished;
use crate::accounts;
use crate::ids::WorkspaceId;
use crate::inbound::CallbackTarget;
use crate::numbers::{WarmupSchedule, effective_daily_cap};
use crate::outbox::{Claimed, Scope, claim_round};
use crate::pacing::{Bucket, Take};
use crate::phone::E164;
use crate::twilio::client::{AccountEndpoint, Credentials, NewMessage, PreparedAccount, Sender};

/// A number some running campaign may send from, with its limits.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct SendingNumber {
    workspace: WorkspaceId,
    e164: String,
    account: Uuid,
    mps: f64,
    account_mps: Option<f64>,
    caps: Vec<Cap>,
}

#[derive(sqlx::FromRow)]
struct NumberRow {
    workspace_id: WorkspaceId,
    e164: String,
    account_id: Uuid,
    mps: f64,
    daily_cap: Option<i32>,
    warmup: Option<sqlx::types::Json<WarmupSchedule>>,
    warmup_started_on: Option<chrono::NaiveDate>,
    account_mps: Option<f64>,
    account_daily_cap: Option<i32>,
}

async fn sending_numbers(db: &sqlx::PgPool) -> sqlx::Result<Vec<SendingNumber>> {
    let rows: Vec<NumberRow> = sqlx::query_as(
        "SELECT n.workspace_id, n.e164, n.account_id, n.mps::float8 AS mps, n.daily_cap, n.warmup, \
                n.warmup_started_on, a.mps_cap::float8 AS account_mps, a.daily_cap AS account_daily_cap \
         FROM phone_numbers n JOIN carrier_accounts a ON a.workspace_id = n.workspace_id AND a.id = n.account_id \
         WHERE n.status = 'active' AND n.sms AND n.health <> 'blocked' AND a.status = 'active' \
           AND EXISTS (SELECT 1 FROM campaigns c WHERE c.workspace_id = n.workspace_id AND c.status = 'running' \
                       AND (c.number_pool = '{}' OR n.id = ANY (c.number_pool)))",
    )
    .fetch_all(db)
    .await?;
    let today = Utc::now().date_naive();
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut caps = Vec::new();
            let warmup = r.warmup.as_ref().zip(r.warmup_started_on).map(|(w, d)| (&w.0, d));
            if let Some(per_day) = effective_daily_cap(r.daily_cap, warmup, today) {
                caps.push(Cap { scope: format!("number:{}", r.e164), per_day });
            }
            if let Some(per_day) = r.account_daily_cap {
                caps.push(Cap { scope: format!("account:{}", r.account_id), per_day });
            }
            SendingNumber {
                workspace: r.workspace_id,
                e164: r.e164,
                account: r.account_id,
                mps: r.mps,
                account_mps: r.account_mps,
                caps,
            }
        })
        .collect())
}

async fn crusade_throttles(db: &sqlx::PgPool) -> sqlx::Result<HashMap<Uuid, f64>> {
    let rows: Vec<(Uuid, i32)> = sqlx::query_as(
        "SELECT id, throttle_per_minute FROM crusades WHERE status = 'running' AND throttle_per_minute IS NOT NULL",
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(id, per_minute)| (id, f64::from(per_minute) / 60.0)).collect())
}

/// A started worker: its number as it was started, its stop switch, its task.
type Running = (SendingNumber, watch::Sender<bool>, JoinHandle<()>);

/// Keeps one worker per sending number until `stopped`, then waits for all of them.
pub(super) async fn supervise(shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let mut workers: HashMap<(WorkspaceId, String), Running> = HashMap::new();
    while !*stopped.borrow() {
        if let Ok(mut conn) = shared.db.acquire().await
            && let Err(e) = crate::outbox::heartbeat(&mut conn, &shared.config.worker_id).await
        {
            tracing::warn!(error = %e, "engine: heartbeat failed");
        }
        match (sending_numbers(&shared.db).await, crusade_throttles(&shared.db).await) {
            (Ok(numbers), Ok(throttles)) => {
                *shared.throttles.write().unwrap_or_else(|p| p.into_inner()) = throttles;
                let wanted: HashMap<_, _> = numbers.into_iter().map(|n| ((n.workspace, n.e164.clone()), n)).collect();
                // Stop workers whose number left (or whose limits changed: restarted below).
                workers.retain(|key, (number, stop, _)| {
                    let keep = wanted.get(key) == Some(number);
                    if !keep {
                        let _ = stop.send(true);
                    }
                    keep
                });
                for (key, number) in wanted {
                    workers.entry(key).or_insert_with(|| {
                        let (stop, stop_rx) = watch::channel(false);
                        let handle = tokio::spawn(run_number(shared.clone(), Arc::new(number.clone()), stop_rx));
                        (number, stop, handle)
                    });
                }
                metrics::gauge!("switchboard_engine_sending_numbers").set(workers.len() as f64);
            }
            (Err(e), _) | (_, Err(e)) => tracing::warn!(error = %e, "engine: cannot list sending numbers"),
        }
        tokio::select! {
            _ = tokio::time::sleep(shared.config.supervise_every) => {}
            _ = stopped.changed() => {}
        }
    }
    for (_, (_, stop, handle)) in workers {
        let _ = stop.send(true);
        let _ = handle.await;
    }
}

/// Claims at most this many rows per round, whatever the number's rate.
const MAX_ROUND: f64 = 2000.0;

/// A chunk asks for its tokens this long before they are due and is granted at the moment they
/// are (`pacing`: a grant ahead), so a timer waking late costs the number nothing: longer than
/// a chunk of a fast number takes (`PACING_SLACK` × 0.66 ≈ 26 ms) and than a 75 MPS interval,
/// so those ask once a chunk.
const ASK_AHEAD: Duration = Duration::from_millis(50);

/// How late after its grant a chunk may still leave on it: the lateness adds to the calls' own
/// on the way to the carrier, which `PACING_SLACK` absorbs (`hold_if_late` counts both). A chunk
/// woken later than this is granted again as of its waking (`wait_for_tokens`).
const WAKE_TOLERANCE: Duration = Duration::from_millis(5);

/// The next round is claimed when what is left of this one would take less than this to send:
/// a claim (and its synchronous commit) takes tens of milliseconds, more under load, and a
/// number waiting for it loses that time for good (pacing does not catch up). Claimed as the
/// last chunk started, a fast number gave the claim one chunk's time (~26 ms at 500 MPS, one
/// 13 ms interval at 75 MPS). Rows are still claimed at most about 1.3 s before they are sent.
const PREFETCH_LEAD: Duration = Duration::from_millis(300);

/// One number's loop.
async fn run_number(shared: Arc<Shared>, number: Arc<SendingNumber>, stop: watch::Receiver<bool>) {
    let mut buckets = vec![Bucket::new(format!("number:{}", number.e164), number.mps / (1.0 + super::PACING_SLACK))];
    if let Some(mps) = number.account_mps {
        buckets.push(Bucket::new(format!("account:{}", number.account), mps / (1.0 + super::PACING_SLACK)));
    }
    let labels = [("number", number.e164.clone()), ("account", number.account.to_string())];
    // Handles registered once: building a metric's key per call was 1.8% of the engine's CPU.
    let token_wait = metrics::histogram!("switchboard_engine_token_wait_seconds", &labels);
    let answered = metrics::counter!("switchboard_engine_calls_total", "number" => number.e164.clone(),
        "account" => number.account.to_string(), "error_code" => "none");
    let mut idle = true;
    // The next round, claimed and recorded while this one's last [`PREFETCH_LEAD`] of sends wait
    // for their tokens, so the number never idles on the database between rounds (a 3 MPS number
    // lost ~5% of its capacity so). Once started it is always sent, even after `stop`: its rows are recorded.
    let mut prefetched: Option<JoinHandle<Round>> = None;
    loop {
        let round = match prefetched.take() {
            Some(next) => next.await.unwrap_or_default(),
            None if *stop.borrow() => break,
            None => next_round(shared.clone(), number.clone()).await,
        };
        if !round.claimed {
            idle = true;
            pause(&stop, Duration::from_secs(1)).await;
            continue;
        }
        if std::mem::take(&mut idle) {
            // Numbers waking together (a campaign starts) would all send their first message
            // at once; the burst delays some calls past their token, and a late first call
            // shares a second with an on-time second one. Each number starts at its own phase.
            pause(&stop, start_phase(&number.e164).mul_f64(1.0 / number.mps.max(0.001))).await;
        }
        let (route, prepared) = (round.route, round.rows);
        let lead = ((number.mps * PREFETCH_LEAD.as_secs_f64()).ceil() as usize).max(1);
        let mut left = prepared.len();
        let mut rows = prepared.into_iter().peekable();
        while rows.peek().is_some() {
            let first = rows.peek().map(|(row, _)| row.crusade_id).unwrap_or_default();
            let mut row_buckets = buckets.clone();
            let throttle = first.and_then(|c| {
                shared.throttles.read().unwrap_or_else(|p| p.into_inner()).get(&c).map(|rate| (c, *rate))
            });
            if let Some((crusade, rate)) = throttle {
                row_buckets.push(Bucket::new(format!("crusade:{crusade}"), rate));
            }
            // Fast numbers take their tokens a few messages at a time (a timer cannot wake
            // every 200 µs); the chunk stays inside the pacing slack, so no 1-second window
            // holds more than the cap.
            let slowest = row_buckets.iter().map(|b| b.per_second).fold(f64::INFINITY, f64::min);
            let chunk_size = ((slowest * super::PACING_SLACK * 0.66) as usize).max(1);
            let chunk: Vec<(Claimed, Recorded)> =
                std::iter::from_fn(|| rows.next_if(|(row, _)| row.crusade_id == first)).take(chunk_size).collect();
            let cost: u32 = chunk.iter().map(|(row, _)| row.segments.max(1) as u32).sum();
            left = left.saturating_sub(chunk.len());
            if left < lead && prefetched.is_none() && !*stop.borrow() {
                prefetched = Some(tokio::spawn(next_round(shared.clone(), number.clone())));
            }
            // The chunk's in-flight slots first, then its tokens: a call must leave as soon as
            // its token is granted, or a late call and an on-time successor share one second.
            let (Some(route), Ok(mut permits)) =
                (route.clone(), shared.in_flight.clone().acquire_many_owned(chunk.len() as u32).await)
            else {
                return;
            };
            let waited = Instant::now();
            let granted_at = wait_for_tokens(&shared, &row_buckets, cost).await;
            token_wait.record(waited.elapsed().as_secs_f64());
            for (row, attempt) in chunk {
                let Some(permit) = permits.split(1) else { return };
                let (shared, number, route, answered) =
                    (shared.clone(), number.clone(), route.clone(), answered.clone());
                tokio::spawn(async move {
                    call(&shared, row, &number, &route, attempt, granted_at, &answered).await;
                    drop(permit);
                });
            }
        }
    }
}

/// One round of a number: the rows it claimed, checked again and recorded, ready to pace and
/// call.
#[derive(Default)]
struct Round {
    /// Whether the claim found anything (all of it may have ended in `prepare`).
    claimed: bool,
    route: Option<Arc<Route>>,
    rows: Vec<(Claimed, Recorded)>,
}

/// Claims what the number can send in about a second, recording every claimed row in the same
/// transaction, then checks each once more. Recording before pacing means the pacer's spacing
/// reaches the carrier intact (nothing variable sits between a token and its call); a crash
/// while waiting leaves those rows unknown, never resent — at most about two seconds of this
/// number's sends.
async fn next_round(shared: Arc<Shared>, number: Arc<SendingNumber>) -> Round {
    let scope = Scope::Number { workspace: number.workspace, from_number: &number.e164 };
    // Nothing is claimed (and so recorded) for an account that cannot call now: its breaker is
    // cooling off, or its credentials cannot be opened.
    if shared.breakers.cooling(number.account) {
        return Round::default();
    }
    let Some(route) = shared.endpoints.get(&shared, number.workspace, number.account).await else {
        return Round::default();
    };
    // A tripped account sends one probe at a time; a healthy one what fits in a second.
    let budget = if shared.breakers.state(number.account) == super::breaker::BreakerState::Closed {
        number.mps.clamp(1.0, MAX_ROUND) as i32
    } else {
        1
    };
    let claimed = match claim(&shared, &number, scope, budget).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, number = %number.e164, "engine: claim failed");
            Vec::new()
        }
    };
    if claimed.is_empty() {
        return Round::default();
    }
    let mut rows = Vec::with_capacity(claimed.len());
    for (row, attempt) in claimed {
        if let Some(ready) = prepare(&shared, row, attempt, &number).await {
            rows.push(ready);
        }
    }
    Round { claimed: true, route: Some(route), rows }
}

/// The carrier may have taken a call anywhere between its token and its answer. Pacing's slack
/// absorbs `PACING_SLACK` seconds of that; an answer later than this (a new connection, a
/// stalled task) holds the number's next token until one whole interval after the answer (the
/// carrier may have taken it just before answering), so a late send and an on-time successor
/// never share a second.
async fn hold_if_late(shared: &Shared, number: &SendingNumber, since_token: Duration) {
    let slack = Duration::from_secs_f64(super::PACING_SLACK);
    if since_token <= slack {
        return;
    }
    let bucket = Bucket::new(format!("number:{}", number.e164), number.mps);
    let hold = Duration::from_secs_f64(1.0 / number.mps.max(1e-6));
    if let Err(e) = shared.pacer.hold(&bucket, hold).await {
        tracing::warn!(error = %e, "engine: pacing store unavailable; a late send was not held");
    }
}

/// A number's fixed share of one send interval, in [0, 1) seconds, spread by its digits.
fn start_phase(e164: &str) -> Duration {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    e164.hash(&mut hasher);
    Duration::from_secs_f64((hasher.finish() % 10_000) as f64 / 10_000.0)
}

async fn pause(stop: &watch::Receiver<bool>, d: Duration) {
    let mut stop = stop.clone();
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.changed() => {}
    }
}

/// Takes the day's quota, claims, records each claimed row's attempt (its "calling" send-log row
/// and the pair history) and gives back what the claim did not use, in one
/// transaction: a claimed row is always a recorded one, so crash recovery reads every claimed
/// row of a dead worker as possibly sent (invariant 2), and there is no moment at which a claim
/// exists without its record. The transaction commits synchronously once it recorded anything:
/// the "calling" rows must be durable before their calls.
async fn claim(
    shared: &Shared,
    number: &SendingNumber,
    scope: Scope<'_>,
    budget: i32,
) -> sqlx::Result<Vec<(Claimed, Recorded)>> {
    let now = Utc::now();
    let mut tx = shared.db.begin().await?;
    let granted = if number.caps.is_empty() {
        budget
    } else {
        quota::take(&mut tx, number.workspace, &number.caps, now, budget).await?
    };
    if granted == 0 {
        super::relax_commit(&mut tx).await?;
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let round = claim_round(&mut tx, &shared.config.worker_id, scope, i64::from(granted), now).await?;
    let unused = granted - round.claimed.len() as i32;
    if !number.caps.is_empty() && unused > 0 {
        quota::give_back(&mut tx, number.workspace, &number.caps, now, unused).await?;
    }
    let at = Utc::now();
    let mut recorded = Vec::with_capacity(round.claimed.len());
    let mut attempts = Vec::with_capacity(round.claimed.len());
    let mut unreadable = Vec::new();
    for row in round.claimed {
        let Some(attempt) = row.attempt(Some(number.account), at) else {
            unreadable.push(row);
            continue;
        };
        let (to, from) = (attempt.to.clone(), attempt.from.clone());
        recorded.push((row, Recorded { id: attempt.id, at, to, from }));
        attempts.push((number.workspace, attempt));
    }
    if attempts.is_empty() {
        super::relax_commit(&mut tx).await?;
    }
    crate::send_log::record_attempts(&mut tx, &attempts).await?;
    tx.commit().await?;
    for row in unreadable {
        // A stored phone that no longer parses: never callable, failed without a call.
        finish(shared, row, number, (Uuid::nil(), Utc::now()), Disposition::Failed { code: None }).await;
    }
    Ok(recorded)
}

/// Waits until `cost` tokens of every bucket are granted; returns the moment they were granted
/// for (the calls leave at once).
async fn wait_for_tokens(shared: &Shared, buckets: &[Bucket], cost: u32) -> Instant {
    loop {
        match shared.pacer.take(buckets, cost, ASK_AHEAD).await {
            Ok(Take::Granted(after)) => {
                // Never before the grant (a timer wakes at or after its deadline).
                let at = Instant::now() + after;
                tokio::time::sleep_until(at.into()).await;
                if at.elapsed() <= WAKE_TOLERANCE {
                    return at;
                }
                // Woken too long after the grant (a busy runtime) to send on it: the calls would
                // leave close behind the previous ones. Granted again as of now instead, as if
                // asked now: the next grants move back behind this send.
                for bucket in buckets {
                    let again = Duration::from_secs_f64(f64::from(cost) / bucket.per_second.max(1e-6));
                    if let Err(e) = shared.pacer.hold(bucket, again).await {
                        tracing::warn!(error = %e, "engine: pacing store unavailable; a late grant was not renewed");
                    }
                }
                return Instant::now();
            }
            Ok(Take::Wait(d)) => tokio::time::sleep(d).await,
            Err(e) => {
                tracing::warn!(error = %e, "engine: pacing store unavailable; waiting");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Hands a row's end to the recorder: `attempt` names its send-log row (`Uuid::nil()` for a row
/// never recorded).
async fn finish(
    shared: &Shared,
    row: Claimed,
    number: &SendingNumber,
    attempt: (Uuid, chrono::DateTime<Utc>),
    disposition: Disposition,
) {
    let (attempt_id, attempted_at) = attempt;
    let finished = Finished { row, account_id: Some(number.account), attempt_id, attempted_at, disposition };
    shared.recorder.finish(finished).await;
}

/// The attempt a recorded row is called with.
struct Recorded {
    id: Uuid,
    at: chrono::DateTime<Utc>,
    to: E164,
    from: E164,
}

/// Checks a claimed, recorded row once more before pacing: None when a fresh opt-out (the
/// in-memory set) withholds it, never called.
async fn prepare(
    shared: &Shared,
    row: Claimed,
    attempt: Recorded,
    number: &SendingNumber,
) -> Option<(Claimed, Recorded)> {
    if shared.opt_outs.contains(row.workspace_id, &row.to_phone) {
        finish(shared, row, number, (attempt.id, attempt.at), Disposition::Withheld).await;
        return None;
    }
    Some((row, attempt))
}

/// Calls the carrier for a recorded row and hands the classified answer to the recorder.
/// `answered` counts the number's calls answered without an error code.
async fn call(
    shared: &Shared,
    row: Claimed,
    number: &SendingNumber,
    route: &Route,
    attempt: Recorded,
    granted_at: Instant,
    answered: &metrics::Counter,
) {
    let disposition = if shared.opt_outs.contains(row.workspace_id, &row.to_phone) {
        // The last look: a STOP that committed since the claim. Recorded, never called.
        Disposition::Withheld
    } else if !shared.breakers.allow(number.account) {
        // The account's breaker opened since this row was recorded: nothing goes through it
        // until the cool-off ends and a probe succeeds.
        Disposition::Held { after: shared.config.breaker_cool_off }
    } else {
        let message = NewMessage {
            to: attempt.to,
            from: Sender::Number(attempt.from),
            body: Some(row.body.clone()),
            media_urls: vec![],
            status_callback: route.status_callback.as_ref().map(|base| {
                CallbackTarget { outbox_id: row.id, attempt_id: attempt.id, attempted_at: attempt.at }.url(base)
            }),
            validity_period: None,
        };
        let outcome = shared.client.create_prepared(&route.account, &message).await;
        hold_if_late(shared, number, granted_at.elapsed()).await;
        classify(outcome, row.attempts)
    };
    match &disposition {
        // Not called: neither the breaker nor the call counters hear of it.
        Disposition::Withheld | Disposition::Held { .. } => {}
        Disposition::Retry { account_fault: true, .. } => {
            if shared.breakers.failure(number.account) {
                tracing::warn!(account = %number.account, "engine: account breaker opened");
                metrics::counter!("switchboard_engine_breaker_opened_total", "account" => number.account.to_string())
                    .increment(1);
            }
        }
        _ => shared.breakers.success(number.account),
    }
    if !matches!(disposition, Disposition::Withheld | Disposition::Held { .. }) {
        match disposition.error_code() {
            None => answered.increment(1),
            Some(code) => metrics::counter!("switchboard_engine_calls_total", "number" => number.e164.clone(),
                "account" => number.account.to_string(), "error_code" => code.to_string())
            .increment(1),
        }
    }
    finish(shared, row, number, (attempt.id, attempt.at), disposition).await;
}

/// Where a number's calls go: its account, prepared to call, and the account's status callback
/// URL, to which each message adds its own target (`inbound::CallbackTarget`).
pub(super) struct Route {
    account: PreparedAccount,
    status_callback: Option<url::Url>,
}

type OpenedAt = (Arc<Route>, Instant);

/// Opened carrier credentials per account, kept a minute so a token change takes effect soon.
#[derive(Default)]
pub(super) struct Endpoints {
    cache: Mutex<HashMap<(WorkspaceId, Uuid), OpenedAt>>,
}

impl Endpoints {
    const TTL: Duration = Duration::from_secs(60);

    async fn get(&self, shared: &Shared, workspace: WorkspaceId, account: Uuid) -> Option<Arc<Route>> {
        if let Some((route, at)) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&(workspace, account))
            && at.elapsed() < Self::TTL
        {
            return Some(route.clone());
        }
        let opened = async {
            let mut conn = shared.db.acquire().await.ok()?;
            accounts::credentials(&mut conn, workspace, &shared.config.secret_key, account).await.ok()?
        }
        .await;
        let Some(c) = opened else {
            tracing::warn!(%account, "engine: cannot open the account's credentials");
            return None;
        };
        let (username, password) = match &c.api_key {
            Some((sid, secret)) => (sid.clone(), secret.expose().to_owned()),
            None => (c.account_sid.clone(), c.auth_token.expose().to_owned()),
        };
        let endpoint = AccountEndpoint {
            account_sid: c.account_sid,
            base_url: c.base_url.parse().ok()?,
            credentials: Credentials { username, password },
        };
        let route = Arc::new(Route {
            account: endpoint.prepare().ok()?,
            status_callback: shared
                .config
                .callback_base
                .as_ref()
                .and_then(|base| base.join(&format!("/webhooks/twilio/{}/{account}/status", workspace.0)).ok()),
        });
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((workspace, account), (route.clone(), Instant::now()));
        Some(route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_phases_are_stable_and_spread_over_the_interval() {
        let phases: Vec<f64> = (0..200).map(|i| start_phase(&format!("+1201200{i:04}")).as_secs_f64()).collect();
        assert_eq!(start_phase("+12012000000"), start_phase("+12012000000"));
        assert!(phases.iter().all(|p| (0.0..1.0).contains(p)));
        let mut tenths = [0usize; 10];
        for p in &phases {
            tenths[(p * 10.0) as usize] += 1;
        }
        assert!(tenths.iter().all(|n| *n >= 8), "{tenths:?}");
    }
}
