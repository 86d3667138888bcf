//! Building and running the app: connect, migrate, assemble state and routes, serve until a
//! shutdown signal, drain in-flight requests, exit. Tests call the same `App::build`.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::routing::{any, get, post};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

use switchboard_sender::engine::{Engine, EngineConfig};
use switchboard_sender::pacing::{LocalPacer, Pacer, RedisPacer};

use crate::auth::guard::{ClientIp, client_ip};
use crate::auth::mailer::{LogMailer, Mailer};
use crate::auth::passkeys::relying_party;
use crate::auth::rate_limit::LoginLimiter;
use crate::config::Config;
use crate::error::{ApiError, not_found};
use crate::hub::{self, Hub};
use crate::state::AppState;
use crate::{api, db, ops, telemetry, web, webhooks};

/// A bound, ready-to-run server.
pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl App {
    /// Connects to PostgreSQL (creating and migrating the database) and Redis, and binds.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_mailer(config, Arc::new(LogMailer)).await
    }

    pub async fn build_with_mailer(config: Config, mailer: Arc<dyn Mailer>) -> anyhow::Result<Self> {
        let pool = db::connect(&config.database_url).await?;
        if config.auto_migrate {
            db::migrate(&pool).await?;
        }
        let redis = match &config.redis_url {
            None => None,
            Some(url) => Some(connect_redis(url).await?),
        };
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {} (set BIND to another address)", config.bind))?;
        let hub = match (&config.redis_url, &redis) {
            (Some(url), Some(conn)) => {
                Hub::with_redis(config.hub.clone(), url, conn.clone(), &config.redis_prefix).await?
            }
            _ => Hub::local(config.hub.clone()),
        };
        let state = AppState {
            hub,
            statuses: switchboard_sender::status_writer::StatusWriter::start(pool.clone()),
            webhook_keys: Arc::default(),
            opt_outs: Default::default(),
            db: pool,
            redis,
            webauthn: relying_party(&config)?.map(Arc::new),
            login_limiter: Arc::new(LoginLimiter::default()),
            mailer,
            metrics: telemetry::metrics_handle(),
            config: Arc::new(config),
        };
        if state.config.auto_migrate {
            prepare_send_log(&state.db).await.context("creating send-log partitions")?;
        }
        let router = routes(state.clone());
        Ok(Self { listener, router, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops accepting and drains in-flight requests.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let housekeeping = tokio::spawn(housekeeping(self.state.clone()));
        let engine = match self.state.config.engine.enabled {
            true => Some(EngineThread::start(&self.state).await.context("starting the sender engine")?),
            false => None,
        };
        tracing::info!(addr = %self.local_addr(), public_url = %self.state.config.public_url, "serving");
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        // After the signal, in-flight requests get `shutdown_grace_secs` to finish.
        let grace = Duration::from_secs(self.state.config.shutdown_grace_secs);
        let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            shutdown.await;
            let _ = signalled_tx.send(());
        };
        // TCP_NODELAY on every accepted socket: the hub writes small frames, and Nagle's
        // algorithm would hold one behind the client's delayed ACK of the previous (tens of ms).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted socket");
            }
        });
        let serve = axum::serve(listener, service).with_graceful_shutdown(shutdown).into_future();
        tokio::pin!(serve);
        let result = tokio::select! {
            result = &mut serve => result,
            _ = async { let _ = signalled_rx.await; tokio::time::sleep(grace).await } => {
                tracing::warn!(grace_secs = grace.as_secs(), "requests still running after the grace period; exiting");
                Ok(())
            }
        };
        housekeeping.abort();
        if let Some(engine) = engine {
            // Calls in flight finish and their results are written; if the database does not
            // take them within the grace period, the rows stay claimed and the other instances
            // recover them as unknown (never resent) once this one's heartbeat is stale.
            if tokio::time::timeout(grace, engine.stop()).await.is_err() {
                tracing::warn!(
                    grace_secs = grace.as_secs(),
                    "the engine did not stop within the grace period; exiting"
                );
            }
        }
        self.state.hub.shutdown().await;
        self.state.db.close().await;
        tracing::info!("stopped");
        result.context("server error")
    }
}

/// The sender engine on its own threads and tokio runtime. On the server's runtime, a campaign
/// at full rate keeps thousands of tasks ready (calls, claims, results), and a request arriving
/// meanwhile — a STOP webhook, a console click — waited its turn behind them (tens of ms on two
/// cores). On separate threads the operating system shares the cores between the two, and the
/// web side, mostly idle, is scheduled as soon as a request wakes it.
struct EngineThread {
    stop: tokio::sync::oneshot::Sender<()>,
    stopped: tokio::sync::oneshot::Receiver<()>,
}

impl EngineThread {
    /// Starts the engine; returns once it runs (its opt-out listener in place).
    async fn start(state: &AppState) -> anyhow::Result<Self> {
        use tokio::sync::oneshot;
        let (started_tx, started) = oneshot::channel::<anyhow::Result<()>>();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let (stopped_tx, stopped) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(state.config.engine.threads)
            .thread_name("engine")
            .enable_all()
            .build()
            .context("cannot start the engine's runtime")?;
        let state = state.clone();
        std::thread::Builder::new().name("engine".into()).spawn(move || {
            runtime.block_on(async move {
                match start_engine(&state).await {
                    Ok(engine) => {
                        let _ = started_tx.send(Ok(()));
                        let _ = stop_rx.await;
                        engine.stop().await;
                    }
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                    }
                }
            });
            // The runtime ends here, outside any async context.
            drop(runtime);
            let _ = stopped_tx.send(());
        })?;
        started.await.context("the engine's thread ended while starting")??;
        Ok(Self { stop, stopped })
    }

    /// Stops claiming, lets in-flight sends finish and their results land, then returns.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.stopped.await;
    }
}

/// The sender engine with this instance's pacing store (Redis when configured, so caps hold
/// across instances) and the hub as its bus.
async fn start_engine(state: &AppState) -> anyhow::Result<Engine> {
    // Its own Redis connection, with a patient response timeout: a pacing answer that is late
    // only delays a send, while an error would stall the worker.
    let pacer = match &state.config.redis_url {
        Some(url) => {
            let config = redis::aio::ConnectionManagerConfig::new().set_response_timeout(Some(Duration::from_secs(5)));
            let conn = redis::Client::open(url.as_str())?.get_connection_manager_with_config(config).await?;
            Pacer::Redis(RedisPacer::new(conn, state.config.redis_prefix.clone()))
        }
        None => Pacer::Local(LocalPacer::default()),
    };
    let worker = format!("{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut config = EngineConfig::new(worker, state.config.secret_key.0);
    config.max_in_flight = state.config.engine.max_in_flight;
    if state.config.engine.status_callbacks {
        config.callback_base = Some(state.config.public_url.clone());
    }
    // Its own pool: hundreds of number workers claiming and recording would otherwise hold the
    // connections a STOP webhook or a console request waits for.
    let db = db::connect_sized(&state.config.database_url, state.config.engine.db_pool).await?;
    Engine::start_with(db, pacer, state.bus(), config, state.opt_outs.clone()).await
}

async fn connect_redis(url: &str) -> anyhow::Result<redis::aio::ConnectionManager> {
    let client = redis::Client::open(url).context("REDIS_URL is not a valid Redis URL")?;
    tokio::time::timeout(Duration::from_secs(5), client.get_connection_manager())
        .await
        .map_err(|_| anyhow::anyhow!("timed out"))
        .and_then(|r| r.map_err(Into::into))
        .with_context(|| format!("cannot reach Redis at {url}; start Redis or unset REDIS_URL"))
}

/// Periodic upkeep: forget idle rate-limit keys, delete expired sessions.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        state.login_limiter.forget_idle();
        state.hub.forget_idle();
        if let Err(e) = sqlx::query("DELETE FROM sessions WHERE expires_at < now()").execute(&state.db).await {
            tracing::warn!(error = %e, "could not delete expired sessions");
        }
        // With AUTO_MIGRATE=false the app's role may not own the send log; the owner then runs
        // `switchboard send-log prepare` on a schedule instead (docs/operations.md).
        if !state.config.auto_migrate {
            continue;
        }
        if let Err(e) = prepare_send_log(&state.db).await {
            tracing::warn!(error = %e, "could not create send-log partitions ahead");
        }
    }
}

/// Send-log partitions from yesterday to a week ahead (every minute is cheap: existing ones are
/// skipped), so the sender never writes to a day that has no partition.
pub async fn prepare_send_log(db: &sqlx::PgPool) -> sqlx::Result<()> {
    let mut conn = db.acquire().await?;
    let yesterday = chrono::Utc::now().date_naive() - chrono::Duration::days(1);
    let created = switchboard_sender::send_log::ensure_partitions(&mut conn, yesterday, 9).await?;
    if !created.is_empty() {
        tracing::info!(partitions = ?created, "created send-log partitions");
    }
    Ok(())
}

fn routes(state: AppState) -> Router {
    let (api, openapi) = api::router();
    let request_id = HeaderName::from_static("x-request-id");
    let middleware = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            // The path only: query strings can carry one-time tokens.
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::Internal(anyhow::anyhow!("handler panicked")))
        }))
        .layer(axum::middleware::from_fn_with_state(state.clone(), record_client_ip))
        .layer(axum::middleware::from_fn(ops::track))
        .layer(DefaultBodyLimit::max(state.config.body_limit));
    let console = web::console(web::locate(state.config.web_dir.as_deref()));
    Router::new()
        .merge(api)
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi))
        .route("/api/workspaces/{workspace_id}/hub/publish", post(hub::endpoint::publish))
        .route("/api/{*rest}", any(not_found))
        .route("/webhooks/twilio/{workspace_id}/{account_id}/inbound", post(webhooks::inbound))
        .route("/webhooks/twilio/{workspace_id}/{account_id}/status", post(webhooks::status))
        .route("/ws", get(hub::endpoint::upgrade))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .method_not_allowed_fallback(|| async {
            ApiError::BadRequest {
                code: "method_not_allowed",
                message: "This path does not take that method.".into(),
                field: None,
            }
        })
        .merge(console)
        .layer(middleware)
        .with_state(state)
}

async fn record_client_ip(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let peer = req.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let Some(ip) = client_ip(state.config.trusted_proxy_hops, req.headers(), peer) {
        req.extensions_mut().insert(ClientIp(ip));
    }
    next.run(req).await
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; draining");
}
