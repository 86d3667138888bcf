//! The `switchboard` binary: one executable for the server, its database chores and its tools.

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: the engine allocates per message (requests, rows,
/// futures), and glibc's allocator took a quarter of its CPU at ~7k sends/s (perf, docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use switchboard_server::auth::roles::Role;
use switchboard_server::{App, Config, commands, db, startup, telemetry};

#[derive(Parser)]
#[command(name = "switchboard", version, about = "Realtime SMS operations server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and console (the default). Creates and migrates the database.
    Serve,
    /// Create the database if missing and apply migrations, then exit.
    Migrate,
    /// Load seed data.
    Seed {
        /// The demo workspaces and one user per role (see README).
        #[arg(long)]
        demo: bool,
        /// Also register the simulator's demo account (seed 1) at this base URL in the demo
        /// workspace, with its numbers; prints `SIM_INBOUND_URL=<webhook>` for the simulator.
        #[arg(long, requires = "demo")]
        simulator: Option<url::Url>,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Send-log partitions: create ahead, archive old days.
    #[command(subcommand, name = "send-log")]
    SendLog(SendLogCommand),
    /// Run the Twilio-compatible simulator (no database needed). With no configuration it
    /// serves one demo account and prints its Account SID and auth token.
    Sim(Box<switchboard_loadtests::cli::SimArgs>),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user with a password.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        name: String,
        /// The password; read from SWITCHBOARD_PASSWORD when omitted.
        #[arg(long, env = "SWITCHBOARD_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long)]
        super_admin: bool,
        /// Add to this workspace (slug) ...
        #[arg(long, requires = "role")]
        workspace: Option<String>,
        /// ... with this role: owner, admin, manager, agent, viewer.
        #[arg(long, value_parser = parse_role, requires = "workspace")]
        role: Option<Role>,
    },
    /// Print a one-time link with which the user sets a new password.
    ResetPassword {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum SendLogCommand {
    /// Create the partitions from yesterday to a week ahead (the server does this every minute
    /// when AUTO_MIGRATE is on; run it on a schedule as the schema owner otherwise).
    Prepare,
    /// Detach every day before --before, write each as <dir>/send_log_YYYYMMDD.csv.gz, drop it.
    Archive {
        /// First day to keep (YYYY-MM-DD, UTC).
        #[arg(long)]
        before: chrono::NaiveDate,
        /// Directory for the archives (created if missing).
        #[arg(long)]
        dir: std::path::PathBuf,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("unknown role {s:?}; use owner, admin, manager, agent or viewer"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    let command = match command {
        // The simulator needs none of the server's configuration (no database, no secrets).
        Command::Sim(args) => return sim(*args).await,
        other => other,
    };
    let config = Config::load()?;
    telemetry::init_logging(config.log_format);
    match command {
        Command::Serve => App::build(config).await?.run(startup::shutdown_signal()).await,
        Command::Migrate => {
            let pool = db::connect(&config.database_url).await?;
            db::migrate(&pool).await?;
            println!("database migrated");
            Ok(())
        }
        Command::Seed { demo, simulator } => {
            if !demo {
                anyhow::bail!("say what to seed: --demo");
            }
            let pool = db::connect(&config.database_url).await?;
            db::migrate(&pool).await?;
            commands::seed_demo(&pool).await?;
            if let Some(base_url) = simulator {
                let demo = switchboard_loadtests::config::SimConfig::demo_account(1);
                let carrier = commands::DemoCarrier {
                    account_sid: demo.sid,
                    auth_token: demo.auth_token,
                    base_url: base_url.to_string().trim_end_matches('/').to_owned(),
                    numbers: demo.numbers.into_iter().map(|n| n.number).collect(),
                };
                let inbound = commands::seed_demo_carrier(&pool, &config, &carrier).await?;
                println!("SIM_INBOUND_URL={inbound}");
            }
            Ok(())
        }
        Command::Sim(args) => sim(*args).await,
        Command::SendLog(cmd) => {
            let pool = db::connect(&config.database_url).await?;
            match cmd {
                SendLogCommand::Prepare => {
                    startup::prepare_send_log(&pool).await?;
                    println!("send-log partitions ready through a week ahead");
                }
                SendLogCommand::Archive { before, dir } => archive_send_log(&pool, before, &dir).await?,
            }
            Ok(())
        }
        Command::User(cmd) => {
            let pool = db::connect(&config.database_url).await?;
            db::migrate(&pool).await?;
            match cmd {
                UserCommand::Create { email, name, password, super_admin, workspace, role } => {
                    let membership = workspace.as_deref().zip(role);
                    let id = commands::create_user(&pool, &email, &name, &password, super_admin, membership).await?;
                    println!("created user {id}");
                }
                UserCommand::ResetPassword { email } => {
                    println!("{}", commands::recovery_link(&pool, &config, &email).await?);
                }
            }
            Ok(())
        }
    }
}

async fn sim(args: switchboard_loadtests::cli::SimArgs) -> anyhow::Result<()> {
    telemetry::init_logging(switchboard_server::config::LogFormat::Pretty);
    Ok(switchboard_loadtests::cli::run(args, startup::shutdown_signal()).await?)
}

/// Detaches the days before `before` and archives each to `dir` as gzip CSV. A day whose file
/// already exists is refused rather than overwritten.
async fn archive_send_log(pool: &sqlx::PgPool, before: chrono::NaiveDate, dir: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    use switchboard_sender::send_log;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut conn = pool.acquire().await?;
    for table in send_log::detach_before(&mut conn, before).await? {
        let path = dir.join(format!("{table}.csv.gz"));
        let file =
            std::fs::OpenOptions::new().write(true).create_new(true).open(&path).with_context(|| {
                format!("cannot create {} (already archived?); {table} stays detached", path.display())
            })?;
        let rows = send_log::archive_partition(&mut conn, &table, std::io::BufWriter::new(file)).await?;
        println!("{table}: {rows} rows → {}", path.display());
    }
    Ok(())
}
