//! Starting and stopping the simulator: `Simulator::start` binds, builds the router and serves
//! in the background; the returned `SimHandle` is how tests and the CLI talk to it in-process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{AccountConfig, Behaviour, BehaviourUpdate, ConfigError, SimConfig};
use crate::message::{Direction, RecordEntry};
use crate::state::{ReplyEntry, SimState, Stats};
use crate::{control, create, fetch};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

pub struct Simulator;

impl Simulator {
    /// Validates `config`, binds its address (port 0 picks a free one) and serves until
    /// [`SimHandle::stop`] or the handle is dropped.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        config.validate()?;
        let listener =
            TcpListener::bind(config.bind).await.map_err(|source| SimError::Bind { addr: config.bind, source })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind { addr: config.bind, source })?;
        let state = Arc::new(SimState::new(&config));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stop_rx.await;
            });
            if let Err(error) = served.await {
                tracing::error!(%error, "simulator stopped");
            }
        });
        Ok(SimHandle {
            base_url: format!("http://{addr}"),
            addr,
            accounts: config.effective_accounts(),
            state,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

pub fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/2010-04-01/Accounts/{account_sid}/Messages.json", post(create::create).get(fetch::list))
        .route("/2010-04-01/Accounts/{account_sid}/Messages/{message_file}", get(fetch::fetch))
        .route("/sim/record", get(control::record))
        .route("/sim/stats", get(control::stats))
        .route("/sim/replies", get(control::replies))
        .route("/sim/reset", post(control::reset))
        .route("/sim/config", get(control::get_config).post(control::set_config))
        .route("/sim/inbound", post(control::inbound))
        .route("/webhooks/{*path}", post(control::sink))
        .with_state(state)
}

/// A running simulator.
pub struct SimHandle {
    /// `http://127.0.0.1:PORT`: the base URL to give a Twilio client.
    pub base_url: String,
    pub addr: SocketAddr,
    /// The accounts it serves, credentials included.
    pub accounts: Vec<AccountConfig>,
    state: Arc<SimState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// `.../2010-04-01/Accounts/{sid}/Messages.json` for the `i`th account.
    pub fn messages_url(&self, account: usize) -> String {
        let sid = self.accounts.get(account).map_or("", |a| a.sid.as_str());
        format!("{}/2010-04-01/Accounts/{sid}/Messages.json", self.base_url)
    }

    /// Every accepted create since start or the last reset, in acceptance order.
    pub fn record(&self) -> Vec<RecordEntry> {
        record_of(&self.state)
    }

    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// Inbound messages (replies and injected ones), oldest first.
    pub fn replies(&self) -> Vec<ReplyEntry> {
        self.state.replies()
    }

    pub fn behaviour(&self) -> Behaviour {
        (*self.state.behaviour()).clone()
    }

    /// Replaces the sections present in `update` (callbacks, replies, faults).
    pub fn set_behaviour(&self, update: BehaviourUpdate) -> Result<Behaviour, ConfigError> {
        apply_update(&self.state, update)
    }

    /// Shorthand for replacing only the faults.
    pub fn set_faults(&self, faults: crate::config::Faults) -> Result<Behaviour, ConfigError> {
        apply_update(&self.state, BehaviourUpdate { faults: Some(faults), ..Default::default() })
    }

    pub fn is_opted_out(&self, our_number: &str, recipient: &str) -> bool {
        self.state.is_opted_out(our_number, recipient)
    }

    pub fn reset(&self) {
        self.state.reset();
    }

    /// Stops accepting and lets in-flight requests finish for up to 5 s (hung ones never do),
    /// then drops whatever is left.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

pub(crate) fn record_of(state: &SimState) -> Vec<RecordEntry> {
    let mut entries: Vec<RecordEntry> =
        state.messages.iter().filter(|m| m.direction == Direction::OutboundApi).map(|m| m.record_entry()).collect();
    entries.sort_unstable_by_key(|e| e.seq);
    entries
}

pub(crate) fn apply_update(state: &SimState, update: BehaviourUpdate) -> Result<Behaviour, ConfigError> {
    let mut behaviour = (*state.behaviour()).clone();
    if let Some(c) = update.callbacks {
        behaviour.callbacks = c;
    }
    if let Some(r) = update.replies {
        behaviour.replies = r;
    }
    if let Some(f) = update.faults {
        behaviour.faults = f;
    }
    crate::config::validate_behaviour(&behaviour)?;
    state.set_behaviour(behaviour.clone());
    Ok(behaviour)
}
