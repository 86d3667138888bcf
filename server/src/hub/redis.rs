//! The hub across instances, through Redis (when REDIS_URL is set):
//!
//! - **Events**: a Lua script numbers each event in its topic (one counter per topic, so seq is
//!   atomic across instances), appends it to the topic's stream (`XADD ... MAXLEN ~`), and
//!   publishes it on one pub/sub channel; every instance, the publishing one included, delivers
//!   what arrives on the channel to its local subscribers — one path, one order.
//! - **History**: recovery reads the stream (`XRANGE`) in a script that also reads the epoch
//!   and seq, so the answer is consistent. Counter and stream expire together after
//!   `history_idle` without events; the next epoch makes clients resync.
//! - **Presence**: each connection's entry is a field of the topic's presence hash, changes are
//!   published on the channel; each instance keeps a liveness key with a TTL
//!   (`presence_ttl`) refreshed by a heartbeat. Every instance reaps, from its views and the
//!   hashes, the entries of instances whose key expired — a crashed instance's presence is
//!   gone within the TTL plus one heartbeat.
//! - **Drops** ride the channel only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use anyhow::Context;
use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::history::{self, Recovery};
use super::presence::{ConnEntry, PresenceChange};
use super::protocol::{DropNote, Position};
use super::rooms::{Frame, Room};
use super::{Hub, HubConfig, Inner, RoomKey};

/// KEYS: counter hash, stream. ARGV: frame head, fresh epoch, max length, idle seconds,
/// channel, room. Returns the seq.
const PUBLISH: &str = r#"
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[2]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local frame = ARGV[1] .. '"epoch":"' .. epoch .. '","seq":' .. seq .. '}'
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], seq .. '-0', 'f', frame)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[5], 'E' .. ARGV[6] .. '\n' .. epoch .. '\n' .. seq .. '\n' .. frame)
return seq
"#;

/// KEYS: counter hash, stream. ARGV: fresh epoch, idle seconds, client's epoch, client's seq,
/// max events. Returns {epoch, seq, events after the client's seq...} (events only when the
/// epoch matches and the gap fits the history length).
const RECOVER: &str = r#"
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq'))
local out = {epoch, tostring(seq)}
local from = tonumber(ARGV[4])
if ARGV[3] == epoch and from < seq and seq - from <= tonumber(ARGV[5]) then
  for _, e in ipairs(redis.call('XRANGE', KEYS[2], (from + 1) .. '-0', '+')) do
    out[#out + 1] = e[2][2]
  end
end
return out
"#;

pub struct Backplane {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    instance: Arc<str>,
    channel: String,
    history_len: usize,
    idle_secs: u64,
    presence_ttl: Duration,
    publish_tx: mpsc::UnboundedSender<(RoomKey, String)>,
    publish_rx: Mutex<Option<mpsc::UnboundedReceiver<(RoomKey, String)>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    recover_script: redis::Script,
}

impl Backplane {
    pub fn new(
        url: &str,
        conn: ConnectionManager,
        prefix: &str,
        instance: Arc<str>,
        config: &HubConfig,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("REDIS_URL is not a valid Redis URL")?;
        let (publish_tx, publish_rx) = mpsc::unbounded_channel();
        Ok(Self {
            client,
            conn,
            channel: format!("{prefix}:hub:events"),
            prefix: prefix.to_owned(),
            instance,
            history_len: config.history_len,
            idle_secs: config.history_idle.as_secs().max(1),
            presence_ttl: config.presence_ttl,
            publish_tx,
            publish_rx: Mutex::new(Some(publish_rx)),
            tasks: Mutex::new(Vec::new()),
            recover_script: redis::Script::new(RECOVER),
        })
    }

    fn key(&self, what: &str, name: &str) -> String {
        format!("{}:hub:{what}:{name}", self.prefix)
    }

    /// Queues an event for numbering and fan-out; the publisher task keeps the order.
    pub fn publish(&self, room: RoomKey, head: String) {
        let _ = self.publish_tx.send((room, head));
    }

    pub async fn recover(&self, room: &RoomKey, since: Option<&Position>) -> anyhow::Result<Recovery> {
        let (client_epoch, from) = since.map_or(("", 0), |p| (p.epoch.as_str(), p.seq));
        let mut conn = self.conn.clone();
        let reply: Vec<String> = self
            .recover_script
            .key(self.key("seq", room))
            .key(self.key("hist", room))
            .arg(&*history::new_epoch())
            .arg(self.idle_secs)
            .arg(client_epoch)
            .arg(from)
            .arg(self.history_len)
            .invoke_async(&mut conn)
            .await?;
        let mut reply = reply.into_iter();
        let epoch: Arc<str> = reply.next().context("recover: no epoch")?.into();
        let seq: u64 = reply.next().context("recover: no seq")?.parse()?;
        let events: Vec<Utf8Bytes> = reply.map(Utf8Bytes::from).collect();
        let outcome = history::decide(since, &epoch, seq, |_| Some(events));
        Ok(Recovery { epoch, seq, outcome })
    }

    pub async fn presence(&self, change: &PresenceChange) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let message = format!("P{}", serde_json::to_string(change)?);
        let mut pipe = redis::pipe();
        match change {
            PresenceChange::Upsert { room, entry } => {
                let key = self.key("pres", room);
                pipe.hset(&key, &entry.conn, serde_json::to_string(entry)?).ignore().expire(&key, 86_400).ignore();
            }
            PresenceChange::Remove { room, conn } => {
                pipe.hdel(self.key("pres", room), conn).ignore();
            }
        }
        pipe.publish(&self.channel, message).ignore();
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    pub async fn drop_note(&self, room: &RoomKey, note: &DropNote) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let message = format!("D{room}\n{}", serde_json::to_string(note)?);
        conn.publish::<_, _, ()>(&self.channel, message).await?;
        Ok(())
    }

    /// Which of `instances` still heartbeat.
    async fn alive(&self, instances: impl IntoIterator<Item = String>) -> anyhow::Result<HashMap<String, bool>> {
        let mut conn = self.conn.clone();
        let mut out = HashMap::new();
        for instance in instances {
            let alive: bool = conn.exists(self.key("inst", &instance)).await?;
            out.insert(instance, alive);
        }
        Ok(out)
    }

    async fn heartbeat(&self) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let ttl_ms = self.presence_ttl.as_millis() as u64;
        conn.pset_ex::<_, _, ()>(self.key("inst", &self.instance), 1, ttl_ms).await?;
        Ok(())
    }

    pub async fn stop(&self) {
        for task in self.tasks.lock().expect("tasks lock").drain(..) {
            task.abort();
        }
        let mut conn = self.conn.clone();
        let _ = conn.del::<_, ()>(self.key("inst", &self.instance)).await;
    }
}

/// Starts the listener, publisher and heartbeat tasks; returns once subscribed.
pub async fn start(hub: &Hub) -> anyhow::Result<()> {
    let bp = hub.backplane().expect("started with a backplane");
    bp.heartbeat().await.context("cannot write the hub heartbeat to Redis")?;
    let weak = Arc::downgrade(&hub.0);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let listener = tokio::spawn(listen(bp.client.clone(), bp.channel.clone(), weak.clone(), ready_tx));
    let rx = bp.publish_rx.lock().expect("publisher lock").take().expect("started once");
    let publisher = tokio::spawn(publish_loop(weak.clone(), rx));
    let heartbeat = tokio::spawn(heartbeat_loop(weak));
    bp.tasks.lock().expect("tasks lock").extend([listener, publisher, heartbeat]);
    tokio::time::timeout(Duration::from_secs(5), ready_rx)
        .await
        .context("timed out subscribing to the hub channel")?
        .context("hub listener stopped")?;
    Ok(())
}

async fn listen(client: redis::Client, channel: String, hub: Weak<Inner>, ready: tokio::sync::oneshot::Sender<()>) {
    let mut ready = Some(ready);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        let Some(inner) = hub.upgrade() else { return };
                        on_message(&inner, msg.get_payload_bytes());
                    }
                    tracing::warn!("hub channel connection lost; resubscribing");
                }
                Err(e) => tracing::warn!(error = %e, "cannot subscribe to the hub channel"),
            },
            Err(e) => tracing::warn!(error = %e, "cannot connect to Redis for the hub channel"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn on_message(hub: &Inner, payload: &[u8]) {
    let Some((&tag, rest)) = payload.split_first() else { return };
    let Ok(rest) = std::str::from_utf8(rest) else { return };
    match tag {
        b'E' => {
            let mut parts = rest.splitn(4, '\n');
            let (Some(room), Some(epoch), Some(seq), Some(text)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return;
            };
            if hub.rooms.get(room).is_none() {
                return;
            }
            let Ok(seq) = seq.parse() else { return };
            let frame = Frame { epoch: epoch.into(), seq, presence: false, text: text.to_owned().into() };
            hub.rooms.deliver(room, Arc::new(frame));
        }
        b'P' => match serde_json::from_str::<PresenceChange>(rest) {
            Ok(change) => hub.rooms.apply_presence(change),
            Err(e) => tracing::warn!(error = %e, "bad presence message on the hub channel"),
        },
        b'D' => {
            let Some((room, json)) = rest.split_once('\n') else { return };
            if let Ok(note) = serde_json::from_str::<DropNote>(json) {
                hub.rooms.apply_drop(room, note);
            }
        }
        _ => {}
    }
}

/// Runs the publish script for queued events, in order, pipelining what is waiting.
async fn publish_loop(hub: Weak<Inner>, mut rx: mpsc::UnboundedReceiver<(RoomKey, String)>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 256).await > 0 {
        let Some(inner) = hub.upgrade() else { return };
        let bp = inner.backplane.as_ref().expect("backplane");
        let mut pipe = redis::pipe();
        for (room, head) in batch.drain(..) {
            pipe.cmd("EVAL")
                .arg(PUBLISH)
                .arg(2)
                .arg(bp.key("seq", &room))
                .arg(bp.key("hist", &room))
                .arg(head)
                .arg(&*history::new_epoch())
                .arg(bp.history_len)
                .arg(bp.idle_secs)
                .arg(&bp.channel)
                .arg(&*room)
                .ignore();
        }
        let mut conn = bp.conn.clone();
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            tracing::warn!(error = %e, "events not published through Redis");
        }
    }
}

/// Refreshes this instance's liveness key and reaps presence of instances whose key expired.
async fn heartbeat_loop(hub: Weak<Inner>) {
    let period = match hub.upgrade() {
        Some(inner) => inner.config.presence_ttl / 3,
        None => return,
    };
    let mut tick = tokio::time::interval(period.max(Duration::from_millis(100)));
    loop {
        tick.tick().await;
        let Some(inner) = hub.upgrade() else { return };
        let bp = inner.backplane.as_ref().expect("backplane");
        if let Err(e) = bp.heartbeat().await {
            tracing::warn!(error = %e, "hub heartbeat failed");
            continue;
        }
        if let Err(e) = reap(&inner).await {
            tracing::warn!(error = %e, "presence reaping failed");
        }
    }
}

async fn reap(inner: &Inner) -> anyhow::Result<()> {
    let bp = inner.backplane.as_ref().expect("backplane");
    let rooms = inner.rooms.all();
    let others: std::collections::HashSet<String> = rooms
        .iter()
        .flat_map(|(_, room)| room.presence.lock().expect("presence lock").other_instances(&inner.instance))
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    let alive = bp.alive(others).await?;
    let mut conn = bp.conn.clone();
    for (key, room) in rooms {
        for (instance, _) in alive.iter().filter(|(_, up)| !**up) {
            let dead = room.presence.lock().expect("presence lock").conns_of(instance);
            for c in dead {
                let _ = conn.hdel::<_, _, ()>(bp.key("pres", &key), &c).await;
                inner.rooms.apply_presence(PresenceChange::Remove { room: key.to_string(), conn: c });
            }
        }
    }
    Ok(())
}

impl Hub {
    /// Fills a new room's presence view from Redis (once), leaving out dead instances.
    pub async fn load_presence(&self, key: &RoomKey, room: &Arc<Room>) {
        let Some(bp) = self.backplane() else { return };
        room.loaded
            .get_or_init(|| async {
                if let Err(e) = load(bp, key, room).await {
                    tracing::warn!(error = %e, "cannot load presence from Redis");
                }
            })
            .await;
    }
}

async fn load(bp: &Backplane, key: &RoomKey, room: &Room) -> anyhow::Result<()> {
    let mut conn = bp.conn.clone();
    let fields: HashMap<String, String> = conn.hgetall(bp.key("pres", key)).await?;
    let entries: Vec<ConnEntry> = fields.values().filter_map(|v| serde_json::from_str(v).ok()).collect();
    let alive = bp.alive(entries.iter().map(|e| e.instance.clone()).collect::<std::collections::HashSet<_>>()).await?;
    for entry in entries {
        if alive.get(&entry.instance).copied().unwrap_or(false) {
            let diff = room.presence.lock().expect("presence lock").upsert(entry);
            if let Some((event, user)) = diff {
                super::rooms::send_diff(room, event, &user);
            }
        }
    }
    Ok(())
}

impl std::fmt::Debug for Backplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backplane").field("prefix", &self.prefix).field("instance", &self.instance).finish()
    }
}
