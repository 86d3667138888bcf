//! Shared application state handed to every handler.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use webauthn_rs::Webauthn;

use crate::auth::mailer::Mailer;
use crate::auth::rate_limit::LoginLimiter;
use crate::config::Config;
use crate::hub::Hub;

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub redis: Option<redis::aio::ConnectionManager>,
    pub config: Arc<Config>,
    pub login_limiter: Arc<LoginLimiter>,
    /// None when PUBLIC_URL has no domain name (browsers refuse IP addresses as passkey RP ids).
    pub webauthn: Option<Arc<Webauthn>>,
    pub mailer: Arc<dyn Mailer>,
    pub metrics: PrometheusHandle,
    /// The realtime hub; also the domain's event bus (`hub.bus()`).
    pub hub: Hub,
    /// Stores status callbacks in batches (`sender::status_writer`).
    pub statuses: switchboard_sender::status_writer::StatusWriter,
    /// Carrier credentials that verify webhook signatures, kept briefly.
    pub webhook_keys: Arc<crate::webhooks::WebhookKeys>,
    /// This instance's engine's in-memory opt-out set: the inbound webhook fences a STOP there
    /// before committing it (every other instance hears of it from PostgreSQL after the commit).
    pub opt_outs: switchboard_sender::engine::opt_out_set::OptOutSet,
}

impl AppState {
    /// Where domain code publishes events.
    pub fn bus(&self) -> Arc<dyn switchboard_sender::Bus> {
        Arc::new(self.hub.clone())
    }
}
