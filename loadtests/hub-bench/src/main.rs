//! `hub-bench`: load drivers for the realtime hub, run on the same box as the server.
//!
//! - `idle`: opens N authenticated connections from several 127.0.0.x source addresses and
//!   reports the server's resident memory per connection (from /proc/<pid>/status).
//! - `fanout`: N subscribers on one topic; events (100-byte payloads carrying their publish
//!   time) published at rising rates through the HTTP publish API; reports deliveries/s and
//!   publish→deliver latency p50/p99 per rate. `--target socketio` runs the same scenario
//!   against loadtests/socketio/server.mjs (Engine.IO v4 over WebSocket, `42["event",…]`);
//!   `--target bare` against the bare loop.
//! - `bare-server`: the bare tokio + tokio-tungstenite broadcast loop (no protocol), the floor
//!   the hub's fan-out is compared with in the same run (`bare.rs`).

mod bare;
mod peer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;

use peer::{Peer, Target};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum TargetArg {
    Hub,
    Socketio,
    Bare,
}

#[derive(clap::Args, Clone)]
struct Common {
    /// Where subscribers connect (http://host:port).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, value_enum, default_value = "hub")]
    target: TargetArg,
    /// Demo credentials used to mint an API token (hub only).
    #[arg(long, default_value = "owner@demo.test")]
    email: String,
    #[arg(long, default_value = "switchboard-demo")]
    password: String,
    /// Source addresses 127.0.0.2 .. 127.0.0.(1+n) spread the client sockets.
    #[arg(long, default_value_t = 8)]
    source_ips: u8,
    /// Connections opened at once.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
}

#[derive(Subcommand)]
enum Mode {
    Idle {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 100_000)]
        clients: usize,
        /// The server's pid, to read its resident memory.
        #[arg(long)]
        server_pid: u32,
        /// Keep the connections this long after measuring.
        #[arg(long, default_value_t = 5)]
        hold_secs: u64,
    },
    /// Serves the bare loop: WebSocket on --port, `POST /publish` on --port + 1.
    BareServer {
        #[arg(long, default_value_t = 13010)]
        port: u16,
        /// Frames a connection may fall behind before it is dropped (the hub's HUB_QUEUE_LEN).
        #[arg(long, default_value_t = 4096)]
        queue_len: usize,
    },
    Fanout {
        #[command(flatten)]
        common: Common,
        /// Where events are published (defaults to --url; another instance for cross-instance runs).
        #[arg(long)]
        pub_url: Option<String>,
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        /// Events per second to publish, one step each.
        #[arg(long, value_delimiter = ',', default_value = "100,1000,3000")]
        rates: Vec<u64>,
        #[arg(long, default_value_t = 5)]
        step_secs: u64,
        /// Record every n-th delivery's latency per connection.
        #[arg(long, default_value_t = 8)]
        sample_every: u64,
        /// Publish requests per second at most (each carries rate / this many events).
        #[arg(long, default_value_t = 100)]
        requests_per_s: u64,
        /// Bytes of each event's payload, `{"t":<publish ns>,"p":"x…"}` (at least 32).
        #[arg(long, default_value_t = 100)]
        payload_bytes: usize,
        /// A label for the output lines.
        #[arg(long, default_value = "")]
        label: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().mode {
        Mode::Idle { common, clients, server_pid, hold_secs } => idle(common, clients, server_pid, hold_secs).await,
        Mode::BareServer { port, queue_len } => bare::serve(port, queue_len).await,
        Mode::Fanout {
            common,
            pub_url,
            clients,
            rates,
            step_secs,
            sample_every,
            requests_per_s,
            payload_bytes,
            label,
        } => {
            let load = Load { clients, rates, step_secs, sample_every, requests_per_s, payload_bytes };
            fanout(common, pub_url, load, label).await
        }
    }
}

/// Signs in as the demo owner and mints an API token; returns (workspace id, token).
async fn mint_token(c: &Common, base: &str) -> anyhow::Result<(String, String)> {
    let http = reqwest::Client::builder().cookie_store(true).build()?;
    let login: serde_json::Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": c.email, "password": c.password}))
        .send()
        .await?
        .error_for_status()
        .context("sign-in for the bench token")?
        .json()
        .await?;
    let csrf = login["csrf_token"].as_str().context("no csrf token")?.to_owned();
    let session: serde_json::Value = http.get(format!("{base}/api/auth/session")).send().await?.json().await?;
    let memberships = session["memberships"].as_array().context("no memberships")?;
    let ws = memberships
        .iter()
        .find(|m| m["slug"] == "demo")
        .or(memberships.first())
        .and_then(|m| m["workspace_id"].as_str())
        .context("no workspace")?
        .to_owned();
    let token: serde_json::Value = http
        .post(format!("{base}/api/workspaces/{ws}/tokens"))
        .header("x-csrf-token", csrf)
        .json(&json!({"name": "hub-bench"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok((ws, token["token"].as_str().context("no token")?.to_owned()))
}

async fn target_of(c: &Common) -> anyhow::Result<Target> {
    Ok(match c.target {
        TargetArg::Hub => {
            let (workspace, token) = mint_token(c, &c.url).await?;
            Target::Hub { base: c.url.clone(), workspace, token }
        }
        TargetArg::Socketio => Target::SocketIo { base: c.url.clone() },
        TargetArg::Bare => Target::Bare { base: c.url.clone() },
    })
}

/// Opens `n` peers, `concurrency` at a time; each runs `serve` on its own task.
async fn open_peers(
    c: &Common,
    target: &Arc<Target>,
    n: usize,
    subscribe: bool,
    stats: Arc<Stats>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut openers = Vec::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    for _ in 0..c.concurrency.min(n) {
        let (target, next, tx, stats, ips) = (target.clone(), next.clone(), tx.clone(), stats.clone(), c.source_ips);
        openers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), anyhow::Error>(());
                }
                let source = std::net::Ipv4Addr::new(127, 0, 0, 2 + (i % ips.max(1) as usize) as u8);
                let peer = Peer::open(&target, source, subscribe).await.with_context(|| format!("connection {i}"))?;
                let _ = tx.send(tokio::spawn(peer.serve(stats.clone())));
            }
        }));
    }
    drop(tx);
    for o in openers {
        o.await??;
    }
    let mut tasks = Vec::new();
    while let Some(t) = rx.recv().await {
        tasks.push(t);
    }
    eprintln!("opened {n} connections in {:.1} s", started.elapsed().as_secs_f64());
    Ok(tasks)
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).context("VmRSS value")?.parse()?)
}

async fn idle(c: Common, clients: usize, pid: u32, hold: u64) -> anyhow::Result<()> {
    let target = Arc::new(target_of(&c).await?);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib(pid)?;
    let stats = Arc::new(Stats::default());
    let tasks = open_peers(&c, &target, clients, false, stats).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kib(pid)?;
    let per = (after.saturating_sub(before)) as f64 / clients as f64;
    println!(
        "{}",
        json!({"bench": "idle", "target": format!("{:?}", c.target).to_lowercase(), "connections": clients,
               "rss_before_kib": before, "rss_after_kib": after, "kib_per_connection": (per * 100.0).round() / 100.0})
    );
    tokio::time::sleep(Duration::from_secs(hold)).await;
    for t in tasks {
        t.abort();
    }
    Ok(())
}

/// Counters the subscriber tasks share: deliveries, and latency samples tagged by step.
#[derive(Default)]
pub struct Stats {
    pub delivered: AtomicU64,
    pub step: AtomicUsize,
    pub sample_every: AtomicU64,
    pub samples: std::sync::Mutex<Vec<(usize, u32)>>,
}

pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// A fan-out run's shape.
struct Load {
    clients: usize,
    rates: Vec<u64>,
    step_secs: u64,
    sample_every: u64,
    requests_per_s: u64,
    payload_bytes: usize,
}

async fn fanout(c: Common, pub_url: Option<String>, load: Load, label: String) -> anyhow::Result<()> {
    let Load { clients, rates, step_secs, sample_every, requests_per_s, payload_bytes } = load;
    let target = Arc::new(target_of(&c).await?);
    let stats = Arc::new(Stats::default());
    stats.sample_every.store(sample_every.max(1), Ordering::Relaxed);
    let tasks = open_peers(&c, &target, clients, true, stats.clone()).await?;
    let publisher = peer::PublisherThread::start(target.clone(), pub_url, payload_bytes)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (i, &rate) in rates.iter().enumerate() {
        stats.step.store(i + 1, Ordering::Relaxed);
        let before = stats.delivered.load(Ordering::Relaxed);
        let started = Instant::now();
        let published = publisher.run(rate, Duration::from_secs(step_secs), requests_per_s).await?;
        // Let the tail arrive before reading the counter.
        let expected = published * clients as u64;
        let deadline = Instant::now() + Duration::from_secs(10);
        while stats.delivered.load(Ordering::Relaxed) - before < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let delivered = stats.delivered.load(Ordering::Relaxed) - before;
        let mut lat: Vec<u32> =
            stats.samples.lock().unwrap().iter().filter(|(s, _)| *s == i + 1).map(|(_, l)| *l).collect();
        lat.sort_unstable();
        let pct = |p: f64| {
            lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0) as f64
                / 1000.0
        };
        println!(
            "{}",
            json!({"bench": "fanout", "label": label, "requests_per_s": requests_per_s, "payload_bytes": payload_bytes, "target": format!("{:?}", c.target).to_lowercase(), "clients": clients,
                   "rate": rate, "published": published, "offered_per_s": rate * clients as u64,
                   "delivered": delivered, "expected": expected,
                   "deliveries_per_s": (delivered as f64 / elapsed).round(),
                   "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0), "samples": lat.len()})
        );
        stats.samples.lock().unwrap().retain(|(s, _)| *s != i + 1);
        if delivered < expected * 9 / 10 {
            eprintln!("saturated at {rate} events/s; stopping");
            break;
        }
        stats.step.store(0, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for t in tasks {
        t.abort();
    }
    if rates.is_empty() {
        bail!("no rates");
    }
    Ok(())
}
