//! Test harness shared by every integration test.
//!
//! - [`TestDb::fresh`]: a new PostgreSQL database per test, cloned from a migrated template
//!   (made once per migration set, guarded by an advisory lock so parallel test processes agree).
//!   [`TestDb::empty`]: one with no schema, for tests that migrate step by step.
//! - [`TestApp::spawn`]: the full app (`App::build`, the same code `switchboard serve` runs) on an
//!   ephemeral port against a fresh database.
//! - [`TestApp::spawn_pair`]: two instances sharing one database and one Redis.
//! - [`Client`]: an HTTP client with a cookie jar that signs in and sends the CSRF header.
//! - [`twilio`]: a carrier account registered through the API and webhooks signed as Twilio signs.
//! - [`engine`]: [`TestApp::spawn_engine`], the app with the engine on where the Twilio simulator's
//!   webhooks reach it, and the simulator's configuration.
//!
//! Real PostgreSQL at TEST_PG_URL (default postgres://postgres@127.0.0.1:5432) and real Redis at
//! TEST_REDIS_URL (default redis://127.0.0.1:6379).

#![allow(dead_code)]

pub mod engine;
pub mod pg_proxy;
pub mod twilio;

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection, PgPool};
use switchboard_server::config::{LogFormat, SecretKey};
use switchboard_server::{App, Config, db};
use tokio::sync::oneshot;

pub const DEMO_PASSWORD: &str = "switchboard-demo";

pub fn pg_base_url() -> String {
    std::env::var("TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A database of its own for one test, dropped when the value is.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn fresh() -> Self {
        let template = ensure_template().await;
        Self::create(&format!("TEMPLATE \"{template}\"")).await
    }

    /// A database with no schema at all: a data migration's test applies the migrations before
    /// it (`db::MIGRATOR.run_to`), writes the old shape, then runs the rest.
    pub async fn empty() -> Self {
        Self::create("").await
    }

    /// `CREATE DATABASE` with a new name and `options` (names made here, never input).
    async fn create(options: &str) -> Self {
        let name = format!("sb_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin_conn().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\" {options}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let url = format!("{}/{name}", pg_base_url());
        Self { name, url }
    }

    pub async fn pool(&self) -> PgPool {
        PgPool::connect(&self.url).await.expect("connect to test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async; use a private runtime on a plain thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let mut admin = admin_conn().await;
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
                    .execute(&mut admin)
                    .await;
            });
        })
        .join();
    }
}

async fn admin_conn() -> PgConnection {
    PgConnection::connect(&format!("{}/postgres", pg_base_url()))
        .await
        .expect("PostgreSQL must be running for integration tests (see DEVELOPERS.md for the start command)")
}

/// The template database for the current migrations, created once.
async fn ensure_template() -> String {
    let mut hasher = Sha256::new();
    for m in db::MIGRATOR.iter() {
        hasher.update(m.version.to_le_bytes());
        hasher.update(&*m.checksum);
    }
    let name = format!("sb_template_{}", &hex::encode(hasher.finalize())[..16]);
    let mut admin = admin_conn().await;
    sqlx::query("SELECT pg_advisory_lock(727274)").execute(&mut admin).await.unwrap();
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    if !exists {
        let building = format!("{name}_building");
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)")))
            .execute(&mut admin)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{building}\""))).execute(&mut admin).await.unwrap();
        let pool = PgPool::connect(&format!("{}/{building}", pg_base_url())).await.unwrap();
        db::migrate(&pool).await.expect("migrations apply to an empty database");
        pool.close().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    sqlx::query("SELECT pg_advisory_unlock(727274)").execute(&mut admin).await.unwrap();
    name
}

/// Configuration for an app under test: ephemeral port, no Redis unless asked.
pub fn test_config(database_url: &str) -> Config {
    Config {
        database_url: database_url.to_owned(),
        redis_url: None,
        redis_prefix: format!("sbtest:{}", uuid::Uuid::new_v4().simple()),
        bind: "127.0.0.1:0".parse().unwrap(),
        public_url: "http://localhost:8080".parse().unwrap(),
        secret_key: SecretKey::random(),
        web_dir: None,
        session_ttl_hours: 24,
        body_limit: 64 * 1024,
        log_format: LogFormat::Pretty,
        auto_migrate: true,
        trusted_proxy_hops: 0,
        shutdown_grace_secs: 5,
        hub: switchboard_server::hub::HubConfig::default(),
        // Tests that send turn the engine on (`spawn_with`); the rest keep their database quiet.
        engine: switchboard_server::config::EngineSettings {
            enabled: false,
            status_callbacks: true,
            max_in_flight: 256,
            db_pool: 6,
            threads: 2,
        },
    }
}

/// One running app instance.
pub struct Instance {
    pub addr: SocketAddr,
    pub base: String,
    /// The running server's state (its pools, its engine's opt-out set).
    pub state: switchboard_server::state::AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Instance {
    pub async fn start(config: Config) -> Self {
        let app = App::build(config).await.expect("app builds");
        let addr = app.local_addr();
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async {
            let _ = rx.await;
        }));
        Self { addr, base: format!("http://{addr}"), state, stop: Some(tx), task: Some(task) }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// Stops accepting, drains and waits for the server to finish.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task joins").expect("server stops cleanly");
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The app on a fresh database with the demo seed loaded.
pub struct TestApp {
    pub db: TestDb,
    pub pool: PgPool,
    pub instances: Vec<Instance>,
    /// The SECRET_KEY every instance of this app shares (secrets sealed by one open on all).
    pub secret_key: SecretKey,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(1, false, |_| {}).await
    }

    /// Two instances sharing one PostgreSQL database and one Redis.
    pub async fn spawn_pair() -> Self {
        Self::spawn_with(2, true, |_| {}).await
    }

    pub async fn spawn_with(count: usize, with_redis: bool, tweak: impl Fn(&mut Config)) -> Self {
        let db = TestDb::fresh().await;
        let pool = db.pool().await;
        switchboard_server::commands::seed_demo(&pool).await.expect("demo seed loads");
        let prefix = format!("sbtest:{}", uuid::Uuid::new_v4().simple());
        let secret_key = SecretKey::random();
        let mut instances = Vec::new();
        for _ in 0..count {
            let mut config = test_config(&db.url);
            config.redis_prefix = prefix.clone();
            config.secret_key = secret_key.clone();
            if with_redis {
                config.redis_url = Some(redis_url());
            }
            tweak(&mut config);
            instances.push(Instance::start(config).await);
        }
        Self { db, pool, instances, secret_key }
    }

    pub fn base(&self) -> &str {
        &self.instances[0].base
    }

    pub fn client(&self) -> Client {
        self.instances[0].client()
    }

    /// A client signed in as `email` with the demo password.
    pub async fn signed_in(&self, email: &str) -> Client {
        let mut client = self.client();
        let (status, body) = client.login(email, DEMO_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "demo sign-in as {email}: {body}");
        client
    }

    pub async fn workspace_id(&self, slug: &str) -> String {
        let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM workspaces WHERE slug = $1")
            .bind(slug)
            .fetch_one(&self.pool)
            .await
            .unwrap();
        id.to_string()
    }

    pub async fn user_id(&self, email: &str) -> String {
        let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_one(&self.pool)
            .await
            .unwrap();
        id.to_string()
    }
}

/// HTTP client with its own cookie jar; after `login` it sends the CSRF token on unsafe methods.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub csrf: Option<String>,
    pub bearer: Option<String>,
    pub jar: Arc<reqwest::cookie::Jar>,
}

impl Client {
    pub fn new(base: &str) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder().cookie_provider(jar.clone()).build().unwrap();
        Self { base: base.to_owned(), http, csrf: None, bearer: None, jar }
    }

    /// The same cookies and CSRF token, pointed at another instance.
    pub fn against(&self, base: &str) -> Self {
        let mut other = self.clone();
        other.base = base.to_owned();
        let url: reqwest::Url = self.base.parse().unwrap();
        let target: reqwest::Url = base.parse().unwrap();
        use reqwest::cookie::CookieStore;
        if let Some(cookies) = self.jar.cookies(&url) {
            let fresh = Arc::new(reqwest::cookie::Jar::default());
            for c in cookies.to_str().unwrap().split("; ") {
                fresh.add_cookie_str(c, &target);
            }
            other.http = reqwest::Client::builder().cookie_provider(fresh.clone()).build().unwrap();
            other.jar = fresh;
        }
        other
    }

    pub fn with_token(base: &str, token: &str) -> Self {
        let mut c = Self::new(base);
        c.bearer = Some(token.to_owned());
        c
    }

    pub async fn login(&mut self, email: &str, password: &str) -> (StatusCode, Value) {
        let (status, body) =
            self.send(Method::POST, "/api/auth/login", Some(json!({"email": email, "password": password}))).await;
        if status == StatusCode::OK {
            self.csrf = body["csrf_token"].as_str().map(str::to_owned);
        }
        (status, body)
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = &self.bearer {
            req = req.bearer_auth(token);
        }
        if let Some(csrf) = self.csrf.as_ref().filter(|_| method != Method::GET) {
            req = req.header("x-csrf-token", csrf);
        }
        req
    }

    /// Sends JSON (when given) and returns the status and the JSON body (Null when empty).
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.request(method, path);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request reaches the server");
        let status = resp.status();
        let bytes = resp.bytes().await.unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, None).await
    }
}

/// Asserts an error response has the `{code, message}` shape and the given code.
pub fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, want_code: &str) {
    assert_eq!(status, want_status, "body: {body}");
    assert_eq!(body["code"], want_code, "body: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "error has a message: {body}");
}
