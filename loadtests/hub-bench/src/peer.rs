//! One load-generating connection (a `Peer`) and the event publisher, for the three servers under
//! test: the hub (`/ws?token=`, JSON frames), Socket.IO (Engine.IO v4 over a WebSocket: `0{..}`
//! open, `40` connect, `42["event",..]` events, `2`/`3` ping/pong) and the bare loop (every text
//! frame is an event; see `bare.rs`).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::json;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::{Stats, now_ns};

pub enum Target {
    Hub {
        base: String,
        workspace: String,
        token: String,
    },
    SocketIo {
        base: String,
    },
    /// The bare loop: WebSocket on `base`'s port, `POST /publish` on the next one.
    Bare {
        base: String,
    },
}

impl Target {
    fn base(&self) -> &str {
        match self {
            Target::Hub { base, .. } | Target::SocketIo { base } | Target::Bare { base } => base,
        }
    }

    fn is_event(&self, text: &str) -> bool {
        match self {
            Target::Hub { .. } => text.starts_with("{\"type\":\"event\""),
            Target::SocketIo { .. } => text.starts_with("42"),
            Target::Bare { .. } => true,
        }
    }
}

pub struct Peer {
    ws: WebSocketStream<TcpStream>,
    target: Arc<Target>,
}

fn addr_of(base: &str) -> anyhow::Result<SocketAddr> {
    let hostport = base.trim_start_matches("http://").trim_end_matches('/');
    let hostport = hostport.replace("localhost", "127.0.0.1");
    hostport.parse().with_context(|| format!("{base} must be http://<ip>:<port>"))
}

impl Peer {
    pub async fn open(target: &Arc<Target>, source: Ipv4Addr, subscribe: bool) -> anyhow::Result<Self> {
        let addr = addr_of(target.base())?;
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(source.into(), 0))?;
        let stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        let host = target.base().trim_start_matches("http://").trim_end_matches('/');
        let url = match &**target {
            Target::Hub { token, .. } => format!("ws://{host}/ws?token={token}"),
            Target::SocketIo { .. } => format!("ws://{host}/socket.io/?EIO=4&transport=websocket"),
            Target::Bare { .. } => format!("ws://{host}/"),
        };
        let config = WebSocketConfig::default().read_buffer_size(16 * 1024).write_buffer_size(0);
        let (ws, _) =
            tokio_tungstenite::client_async_with_config(url.into_client_request()?, stream, Some(config)).await?;
        let mut peer = Self { ws, target: target.clone() };
        match &**target {
            Target::Hub { workspace, .. } => {
                peer.expect(|t| t.contains("\"hello\"")).await?;
                if subscribe {
                    let frame =
                        json!({"type": "subscribe", "workspace": workspace, "topic": "grid", "presence": false});
                    peer.ws.send(Message::Text(frame.to_string().into())).await?;
                    peer.expect(|t| t.contains("\"subscribed\"")).await?;
                }
            }
            Target::SocketIo { .. } => {
                peer.expect(|t| t.starts_with('0')).await?;
                peer.ws.send(Message::Text("40".into())).await?;
                peer.expect(|t| t.starts_with("40")).await?;
            }
            Target::Bare { .. } => {}
        }
        Ok(peer)
    }

    async fn expect(&mut self, want: impl Fn(&str) -> bool) -> anyhow::Result<()> {
        loop {
            let msg =
                tokio::time::timeout(Duration::from_secs(30), self.ws.next()).await.context("handshake timeout")?;
            match msg {
                Some(Ok(Message::Text(t))) if want(&t) => return Ok(()),
                Some(Ok(Message::Text(t))) if t.contains("\"error\"") => bail!("refused: {t}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => bail!("closed during handshake"),
            }
        }
    }

    /// Reads until the connection ends: counts events, samples their latency.
    pub async fn serve(mut self, stats: Arc<Stats>) {
        let every = stats.sample_every.load(Ordering::Relaxed);
        let (mut pending, mut seen) = (0u64, 0u64);
        let mut samples: Vec<(usize, u32)> = Vec::new();
        loop {
            let msg = match self.ws.next().now_or_never() {
                Some(m) => m,
                None => {
                    if pending > 0 {
                        stats.delivered.fetch_add(pending, Ordering::Relaxed);
                        pending = 0;
                    }
                    if !samples.is_empty() {
                        stats.samples.lock().unwrap().append(&mut samples);
                    }
                    self.ws.next().await
                }
            };
            let text = match msg {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return,
            };
            if matches!(*self.target, Target::SocketIo { .. }) && text.as_str() == "2" {
                let _ = self.ws.send(Message::Text("3".into())).await;
                continue;
            }
            if !self.target.is_event(&text) {
                continue;
            }
            pending += 1;
            seen += 1;
            if seen.is_multiple_of(every)
                && let Some(t) = sent_at(&text)
            {
                let step = stats.step.load(Ordering::Relaxed);
                let latency_us = now_ns().saturating_sub(t) / 1000;
                samples.push((step, latency_us.min(u32::MAX as u64) as u32));
            }
            if pending >= 64 {
                stats.delivered.fetch_add(pending, Ordering::Relaxed);
                pending = 0;
            }
        }
    }
}

/// The publish time carried in the payload (`"t":<ns>`).
fn sent_at(text: &str) -> Option<u64> {
    let at = text.find("\"t\":")? + 4;
    let digits: &str = &text[at..];
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// One publishing step: events per second, for how long, at most how many requests per second;
/// answered with how many events were published.
type Step = (u64, Duration, u64, tokio::sync::oneshot::Sender<anyhow::Result<u64>>);

/// The [`Publisher`] on its own OS thread and single-threaded runtime: on the readers' runtime
/// its ticks, and so the publish times written into the payloads, would wait behind thousands
/// of reader tasks, and the measured latency would start late.
pub struct PublisherThread {
    steps: tokio::sync::mpsc::UnboundedSender<Step>,
}

impl PublisherThread {
    pub fn start(target: Arc<Target>, pub_url: Option<String>, payload_bytes: usize) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (steps, mut rx) = tokio::sync::mpsc::unbounded_channel::<Step>();
        std::thread::Builder::new().name("publisher".into()).spawn(move || {
            runtime.block_on(async move {
                let publisher = Publisher::new(&target, pub_url.as_deref(), payload_bytes).await;
                while let Some((rate, duration, requests_per_s, done)) = rx.recv().await {
                    let result = match &publisher {
                        Ok(p) => p.run(rate, duration, requests_per_s).await,
                        Err(e) => Err(anyhow::anyhow!("publisher: {e:#}")),
                    };
                    let _ = done.send(result);
                }
            })
        })?;
        Ok(Self { steps })
    }

    /// Publishes one step on the publisher thread and waits for it to finish.
    pub async fn run(&self, rate: u64, duration: Duration, requests_per_s: u64) -> anyhow::Result<u64> {
        let (done, finished) = tokio::sync::oneshot::channel();
        self.steps.send((rate, duration, requests_per_s, done)).ok().context("the publisher thread ended")?;
        finished.await.context("the publisher thread ended")?
    }
}

/// Publishes events at a steady rate through the server's HTTP publish endpoint.
pub struct Publisher {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    /// `{data, count}`, the peers' publish body (Socket.IO and the bare loop), rather than the hub's.
    peer_body: bool,
    /// The payload's padding: `{"t":<19 digits>,"p":"<pad>"}`.
    pad: String,
}

impl Publisher {
    pub async fn new(target: &Target, pub_url: Option<&str>, payload_bytes: usize) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().pool_max_idle_per_host(32).build()?;
        let pad = "x".repeat(payload_bytes.saturating_sub(32));
        Ok(match target {
            Target::Hub { base, workspace, token } => Self {
                http,
                url: format!("{}/api/workspaces/{workspace}/hub/publish", pub_url.unwrap_or(base)),
                token: Some(token.clone()),
                peer_body: false,
                pad,
            },
            Target::SocketIo { base } => {
                Self { http, url: format!("{}/publish", pub_url.unwrap_or(base)), token: None, peer_body: true, pad }
            }
            Target::Bare { base } => {
                let next_port = addr_of(base).map(|a| format!("http://{}:{}", a.ip(), a.port() + 1))?;
                let url = format!("{}/publish", pub_url.unwrap_or(&next_port));
                Self { http, url, token: None, peer_body: true, pad }
            }
        })
    }

    /// Publishes `rate` events per second for `duration` (at most `requests_per_s` requests,
    /// several events per request above that); returns how many were published.
    pub async fn run(&self, rate: u64, duration: Duration, requests_per_s: u64) -> anyhow::Result<u64> {
        let batch = rate.div_ceil(requests_per_s.max(1)).max(1);
        let period = Duration::from_secs_f64(batch as f64 / rate as f64);
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let end = tokio::time::Instant::now() + duration;
        let inflight = Arc::new(tokio::sync::Semaphore::new(32));
        let mut published = 0;
        let mut requests = Vec::new();
        while tokio::time::Instant::now() < end {
            tick.tick().await;
            let permit = inflight.clone().acquire_owned().await?;
            let req = self.request(batch);
            requests.push(tokio::spawn(async move {
                let r = req.send().await.and_then(|r| r.error_for_status());
                drop(permit);
                r.map(|_| ())
            }));
            published += batch;
        }
        for r in requests {
            r.await??;
        }
        Ok(published)
    }

    fn request(&self, count: u64) -> reqwest::RequestBuilder {
        let data = json!({"t": now_ns(), "p": self.pad});
        let body = if self.peer_body {
            json!({"data": data, "count": count})
        } else {
            json!({"topic": "grid", "kind": "bench", "data": data, "count": count})
        };
        let mut req = self.http.post(&self.url).json(&body);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        req
    }
}
