//! PostgreSQL: connecting (creating the database when it is missing) and migrating.

use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// The schema, embedded from `migrations/` so the binary works from any directory.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Why the database could not be reached, phrased as what the operator should do.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot reach PostgreSQL at {target}: {cause}. Start PostgreSQL or set DATABASE_URL \
     (e.g. postgres://user@host:5432/switchboard)"
)]
pub struct Unreachable {
    pub target: String,
    pub cause: String,
}

/// Connections in the web pool (API, console, webhooks, hub): the sender engine has its own
/// (`ENGINE_DB_POOL`), so a campaign at full rate never makes a STOP webhook wait for a connection.
pub const WEB_POOL: u32 = 20;

/// Connects to `url` with the web pool's size, creating the database first when the server
/// exists but the database does not.
pub async fn connect(url: &str) -> anyhow::Result<PgPool> {
    connect_sized(url, WEB_POOL).await
}

/// Connects a pool of at most `max_connections` to `url`, creating the database first when the
/// server exists but the database does not. Its sessions run with PostgreSQL's JIT off (see
/// [`session_settings`]).
pub async fn connect_sized(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = url.parse().context("DATABASE_URL is not a valid PostgreSQL URL")?;
    let options = session_settings(options);
    let target =
        format!("{}:{}/{}", options.get_host(), options.get_port(), options.get_database().unwrap_or("postgres"));
    create_database_if_missing(&options)
        .await
        .map_err(|e| Unreachable { target: target.clone(), cause: first_line(&e) })?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|e| Unreachable { target, cause: first_line(&e) }.into())
}

/// Settings every session of ours starts with, sent in the startup packet.
///
/// `jit = off`: every statement of ours is a short transaction step. PostgreSQL compiles a
/// statement with LLVM whenever its estimated cost passes `jit_above_cost`, at every execution,
/// and the engine's claim crosses it once a campaign queues about a million rows: with 1.2M
/// queued, 6.7 s of its 10.6 s over 15 s went to compiling, 82 times (`pg_stat_statements`'
/// `jit_*` columns; docs/benchmarks.md, "Sender engine throughput: what the figures say").
fn session_settings(options: PgConnectOptions) -> PgConnectOptions {
    options.options([("jit", "off")])
}

async fn create_database_if_missing(options: &PgConnectOptions) -> anyhow::Result<()> {
    let Some(name) = options.get_database() else { return Ok(()) };
    let name = name.to_owned();
    let admin = options.clone().database("postgres");
    let mut conn = tokio::time::timeout(Duration::from_secs(5), admin.connect())
        .await
        .map_err(|_| anyhow::anyhow!("connection timed out"))??;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut conn)
        .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        match sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}"))).execute(&mut conn).await {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another instance created it between our check and our CREATE.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(e) => return Err(e.into()),
        }
    }
    conn.close().await?;
    Ok(())
}

/// Applies every pending migration.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("running migrations")?;
    Ok(())
}

fn first_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}
