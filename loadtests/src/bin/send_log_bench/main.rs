//! `send-log-bench`: the send log and the cooldown gate against a scratch PostgreSQL database.
//!
//! - `writes`: rows/s of `sender::send_log::record_attempts` (batches, several writers, three
//!   tables) against a raw binary COPY of the same rows into the same partitioned table, in the
//!   same run (`writes.rs`).
//! - `cooldown`: history rows generated in SQL, then the single-recipient probe latencies
//!   (`send_log::cooldown`, `send_verdict(...)`, a bare primary-key probe) and one query that
//!   screens many recipients at once through `send_verdict` (`cooldown.rs`).
//!
//! Each run creates its own database (`sb_bench_<pid>`), migrates it with the project's
//! migrations, and drops it at the end, also when the run fails; `--db` names a database kept by
//! an earlier `--keep` run instead (migrated, never dropped), where `cooldown` reuses the
//! history it generated. Driven by `loadtests/bench-send-log.sh` and `loadtests/bench-cooldown.sh`.

mod cooldown;
mod writes;

use clap::{Parser, Subcommand};
use sqlx::{Connection, PgConnection, PgPool};

#[derive(Parser)]
struct Cli {
    /// A PostgreSQL server URL without a database name.
    #[arg(long, env = "PG_URL_BASE", default_value = "postgres://postgres@127.0.0.1:5432")]
    pg: String,
    /// Keep the scratch database afterwards (to look at it, or to reuse with `--db`).
    #[arg(long)]
    keep: bool,
    /// Use this existing database (migrated, kept afterwards) instead of a fresh scratch one.
    #[arg(long)]
    db: Option<String>,
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    Writes(writes::Args),
    Cooldown(cooldown::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(name) = &cli.db {
        return run(&cli, name).await;
    }
    let name = format!("sb_bench_{}", std::process::id());
    let mut admin = PgConnection::connect(&format!("{}/postgres", cli.pg)).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut admin).await?;
    let result = run(&cli, &name).await;
    if !cli.keep {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
            .execute(&mut admin)
            .await?;
    }
    result
}

async fn run(cli: &Cli, name: &str) -> anyhow::Result<()> {
    let url = format!("{}/{name}", cli.pg);
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(16).connect(&url).await?;
    sqlx::migrate!("../migrations").run(&pool).await?;
    let result = match &cli.bench {
        Bench::Writes(args) => writes::run(&pool, args).await,
        Bench::Cooldown(args) => cooldown::run(&pool, args).await,
    };
    pool.close().await;
    result
}

/// A workspace to own the rows.
pub async fn workspace(pool: &PgPool) -> anyhow::Result<switchboard_sender::WorkspaceId> {
    let id = switchboard_sender::WorkspaceId::new();
    sqlx::query("INSERT INTO workspaces (id, slug, name) VALUES ($1, 'bench', 'Bench')").bind(id).execute(pool).await?;
    Ok(id)
}

/// Percentile of sorted microsecond samples.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
