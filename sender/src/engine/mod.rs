//! The sender engine: turns queued outbox rows into carrier calls (docs/engine.md).
//!
//! One [`Engine`] runs per instance. Its supervisor keeps one worker per sending number (an
//! active number some running campaign may use); each worker claims what its number can send in
//! about a second, paces each message through the number's, account's and crusade's buckets,
//! re-checks the in-memory opt-out set, records the attempt, calls, and hands the answer to the
//! batched recorder. One instance at a time — the *leader*, holding an advisory lock — also
//! publishes live counters, completes finished campaigns, starts due crusades, reroutes first
//! messages away from tripped accounts and recovers claims a crashed instance left behind.
//!
//! Modules: `worker` (a number's loop), `recorder` (batched writes), `classify` (answer →
//! disposition), `breaker` (per-account circuit breaker), `quota` (daily caps), `opt_out_set`
//! (the last line of the STOP fence), `follow_up` (multi-step campaigns; replies stop them), `leader`.

pub mod breaker;
pub mod classify;
pub mod follow_up;
mod leader;
pub mod opt_out_set;
pub mod quota;
pub mod recorder;
mod rotation;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use url::Url;
use uuid::Uuid;

use crate::bus::Bus;
use crate::ids::WorkspaceId;
use crate::pacing::Pacer;
use crate::twilio::client::{ClientConfig, TwilioClient};
use breaker::Breakers;
use opt_out_set::OptOutSet;
use recorder::Recorder;

/// Pacing leaves this share of each second unused, so that the delay between our token and the
/// carrier's clock never puts one message too many into any 1-second window (invariant 3). At r
/// per second the tokens are (1 + slack) / r apart, so r + 1 sends span at least 1 + slack
/// seconds as granted; arriving up to `slack` seconds late still keeps them a second apart, and
/// a call answered later than that holds the number's next token (`worker::hold_if_late`). So
/// the slack trades holds against capacity: 4% leaves 96.2% of a number's rate usable and holds
/// a number after a round trip over 40 ms. (3% failed before late answers were held; 5% capped
/// 1 and 3 MPS at 95.2% and 94.9%: docs/benchmarks.md, "Pacing exactness".)
pub const PACING_SLACK: f64 = 0.04;

/// Lets a bookkeeping transaction (a claim, a batch of results) commit without waiting for its
/// WAL flush. Invariant 2 still holds: a claim that recorded rows commits synchronously (their
/// "calling" send-log rows), which flushes every earlier WAL record too, so it is durable before
/// its calls; a result lost to a database crash leaves its row claimed, which recovery reads as
/// unknown and never resends.
pub(crate) async fn relax_commit(tx: &mut sqlx::PgConnection) -> sqlx::Result<()> {
    sqlx::query("SET LOCAL synchronous_commit = off").execute(tx).await.map(drop)
}

/// How the engine runs.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Names this instance in `outbox.claimed_by`.
    pub worker_id: String,
    /// Opens carrier accounts' sealed tokens.
    pub secret_key: [u8; 32],
    /// Public base URL for status callbacks (`{base}/webhooks/twilio/{ws}/{account}/status`);
    /// None sends no StatusCallback.
    pub callback_base: Option<Url>,
    /// A worker not seen for this long is dead; the leader recovers its claims.
    pub dead_after: Duration,
    /// How often the supervisor looks for numbers to send from.
    pub supervise_every: Duration,
    /// Carrier calls in flight at once on this instance.
    pub max_in_flight: usize,
    /// Account failures that open its breaker (when they are also 80% of its last 20 calls),
    /// and for how long.
    pub breaker_threshold: u32,
    pub breaker_cool_off: Duration,
    pub client: ClientConfig,
}

impl EngineConfig {
    pub fn new(worker_id: impl Into<String>, secret_key: [u8; 32]) -> Self {
        Self {
            worker_id: worker_id.into(),
            secret_key,
            callback_base: None,
            dead_after: Duration::from_secs(10),
            supervise_every: Duration::from_secs(1),
            max_in_flight: 1024,
            breaker_threshold: 5,
            breaker_cool_off: Duration::from_secs(10),
            client: ClientConfig::default(),
        }
    }
}

/// What every worker shares.
pub(crate) struct Shared {
    db: PgPool,
    pacer: Pacer,
    client: TwilioClient,
    bus: Arc<dyn Bus>,
    config: EngineConfig,
    opt_outs: OptOutSet,
    breakers: Breakers,
    recorder: Recorder,
    in_flight: Arc<Semaphore>,
    /// Crusade throttles (messages per second) by crusade id, refreshed by the supervisor.
    throttles: RwLock<HashMap<Uuid, f64>>,
    endpoints: worker::Endpoints,
}

/// A running engine; [`Engine::stop`] ends it after in-flight sends are recorded.
pub struct Engine {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    opt_outs: OptOutSet,
}

/// The outbox and the send log are rewritten several times a message; without autovacuum their
/// dead row versions pile up and every claim and callback slows as a campaign runs (a 6-minute
/// run fell from 7,406 to 4,311 sends/s, docs/benchmarks.md). Some CI images turn it off.
async fn warn_without_autovacuum(conn: &mut sqlx::PgConnection) -> sqlx::Result<()> {
    let on: String = sqlx::query_scalar("SELECT current_setting('autovacuum')").fetch_one(conn).await?;
    if on != "on" {
        tracing::warn!(
            "engine: PostgreSQL runs with autovacuum off; the outbox and send log will bloat and sending \
             will slow as campaigns run (docs/operations.md, \"Vacuum\")"
        );
    }
    Ok(())
}

impl Engine {
    /// Starts the engine. Returns once its opt-out listener is in place, so a STOP committed
    /// after this returns reaches the last-moment re-check.
    pub async fn start(db: PgPool, pacer: Pacer, bus: Arc<dyn Bus>, config: EngineConfig) -> anyhow::Result<Self> {
        Self::start_with(db, pacer, bus, config, OptOutSet::default()).await
    }

    /// [`Engine::start`] with an opt-out set the caller shares: the server's webhook puts a STOP
    /// it receives there before committing it ([`OptOutSet::fence_received`]).
    pub async fn start_with(
        db: PgPool,
        pacer: Pacer,
        bus: Arc<dyn Bus>,
        config: EngineConfig,
        opt_outs: OptOutSet,
    ) -> anyhow::Result<Self> {
        {
            let mut conn = db.acquire().await?;
            let today = chrono::Utc::now().date_naive();
            crate::send_log::ensure_partitions(&mut conn, today - chrono::Duration::days(1), 9).await?;
            warn_without_autovacuum(&mut conn).await?;
        }
        let (ready_tx, ready) = tokio::sync::oneshot::channel();
        let listener = tokio::spawn(opt_outs.clone().listen(db.clone(), ready_tx));
        let _ = tokio::time::timeout(Duration::from_secs(10), ready).await;
        let (recorder, recorder_done) = Recorder::start(db.clone(), config.worker_id.clone());
        let shared = Arc::new(Shared {
            // Every call in flight may hold a pooled connection; a smaller idle pool closes and
            // reopens connections under load (a socket per message on both sides).
            client: TwilioClient::new(&ClientConfig {
                max_idle_per_host: config.client.max_idle_per_host.max(config.max_in_flight),
                ..config.client.clone()
            }),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            breakers: Breakers::new(config.breaker_threshold, config.breaker_cool_off),
            db,
            pacer,
            bus,
            config,
            opt_outs: opt_outs.clone(),
            recorder,
            throttles: RwLock::default(),
            endpoints: worker::Endpoints::default(),
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let leader = tokio::spawn(leader::run(shared.clone(), stopped.clone()));
            worker::supervise(shared.clone(), stopped).await;
            let _ = leader.await;
            listener.abort();
            // Every worker has returned; wait for the calls they started, then for the writes.
            let max = shared.config.max_in_flight as u32;
            let _ = shared.in_flight.acquire_many(max).await;
            drop(shared);
            let _ = recorder_done.await;
        });
        Ok(Self { stop, task, opt_outs })
    }

    /// The engine's in-memory opt-out set (for tests and the STOP-to-fence benchmark).
    pub fn opt_outs(&self) -> &OptOutSet {
        &self.opt_outs
    }

    /// Whether `phone` is in the in-memory opt-out set.
    pub fn fenced(&self, workspace: WorkspaceId, phone: &str) -> bool {
        self.opt_outs.contains(workspace, phone)
    }

    /// Stops claiming, lets in-flight sends finish and their results land, then returns.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
