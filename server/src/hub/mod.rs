//! The realtime hub: one WebSocket endpoint (`/ws`) where consoles subscribe to topics of a
//! workspace and receive record events (numbered per topic, recoverable after a reconnect),
//! presence and ephemeral drops. docs/protocol.md describes the wire protocol.
//!
//! - `protocol.rs` — frames in and out, close codes.
//! - `topics.rs` — topic kinds and the permission each needs (the one registration point).
//! - `connection.rs` — one task per socket: reads frames, writes the bounded queue, pings.
//! - `history.rs` — per-topic epoch + seq and the bounded history (in process).
//! - `presence.rs`, `drops.rs` — presence views and diffs; ephemeral notes.
//! - `redis.rs` — the same across instances: pub/sub fan-out, history in Redis Streams,
//!   presence with heartbeats.
//! - `endpoint.rs` — the `/ws` upgrade (authentication) and the publish API.
//! - `metrics.rs` — counters and gauges by topic kind.
//!
//! The publish path takes no global lock: a topic's lock orders its events, and each event is
//! serialized once into shared bytes that every subscriber's queue holds a reference to.

pub mod connection;
pub mod drops;
pub mod endpoint;
pub mod history;
pub mod metrics;
pub mod presence;
pub mod protocol;
pub mod redis;
pub mod rooms;
pub mod topics;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use switchboard_sender::{Bus, WorkspaceId};

use self::history::{LocalHistory, Recovery};
use self::presence::{ConnEntry, PresenceChange};
use self::protocol::{DropNote, Position};
use self::redis::Backplane;
use self::rooms::Rooms;
pub use self::rooms::{ConnHandle, Frame, RoomKey};

/// The hub's knobs; environment variables in parentheses.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// How often the server pings (HUB_PING_SECS, 25); no answer for two intervals drops it.
    pub ping_interval: Duration,
    /// Frames a topic's ring keeps: how far one connection may fall behind before it is cut off
    /// as a slow consumer (HUB_QUEUE_LEN, 1024).
    pub queue_len: usize,
    /// Events kept per topic for recovery (HUB_HISTORY_LEN, 1000).
    pub history_len: usize,
    /// A topic's history and epoch are forgotten after this long without events (HUB_HISTORY_IDLE_SECS, 300).
    pub history_idle: Duration,
    /// Presence of an instance that stops heartbeating disappears after this (HUB_PRESENCE_TTL_SECS, 30).
    pub presence_ttl: Duration,
    /// Largest frame a client may send, in bytes (HUB_MAX_FRAME, 16384).
    pub max_frame: usize,
    /// Topics one connection may hold (HUB_MAX_SUBSCRIPTIONS, 64).
    pub max_subscriptions: usize,
    /// Presence updates and drops per second per connection, with twice that as burst (HUB_CHATTER_PER_SEC, 10).
    pub chatter_per_sec: u32,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(25),
            queue_len: 1024,
            history_len: 1000,
            history_idle: Duration::from_secs(300),
            presence_ttl: Duration::from_secs(30),
            max_frame: 16 * 1024,
            max_subscriptions: 64,
            chatter_per_sec: 10,
        }
    }
}

impl HubConfig {
    /// Reads the HUB_* variables through `env`, over the defaults.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let mut c = Self::default();
        let num = |name: &str| -> anyhow::Result<Option<u64>> {
            env(name).map(|v| v.parse::<u64>().with_context(|| format!("{name} must be a whole number"))).transpose()
        };
        if let Some(v) = num("HUB_PING_SECS")? {
            c.ping_interval = Duration::from_secs(v.max(1));
        }
        if let Some(v) = num("HUB_QUEUE_LEN")? {
            c.queue_len = v.max(1) as usize;
        }
        if let Some(v) = num("HUB_HISTORY_LEN")? {
            c.history_len = v.max(1) as usize;
        }
        if let Some(v) = num("HUB_HISTORY_IDLE_SECS")? {
            c.history_idle = Duration::from_secs(v.max(1));
        }
        if let Some(v) = num("HUB_PRESENCE_TTL_SECS")? {
            c.presence_ttl = Duration::from_secs(v.max(1));
        }
        if let Some(v) = num("HUB_MAX_FRAME")? {
            c.max_frame = v.max(256) as usize;
        }
        if let Some(v) = num("HUB_MAX_SUBSCRIPTIONS")? {
            c.max_subscriptions = v.max(1) as usize;
        }
        if let Some(v) = num("HUB_CHATTER_PER_SEC")? {
            c.chatter_per_sec = v.clamp(1, 1000) as u32;
        }
        Ok(c)
    }
}

/// The room key of a topic in a workspace: `<workspace>/<topic>`.
pub fn room_key(workspace: WorkspaceId, topic: &str) -> RoomKey {
    format!("{workspace}/{topic}").into()
}

/// The hub; cheap to clone.
#[derive(Clone)]
pub struct Hub(Arc<Inner>);

pub struct Inner {
    pub config: HubConfig,
    /// This instance's name in presence entries and Redis keys.
    pub instance: Arc<str>,
    pub rooms: Rooms,
    history: LocalHistory,
    backplane: Option<Backplane>,
    next_conn: AtomicU64,
}

impl std::ops::Deref for Hub {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Hub {
    /// An in-process hub (one instance).
    pub fn local(config: HubConfig) -> Self {
        Self::with_backplane(config, None)
    }

    /// A hub sharing events, history and presence with other instances through Redis.
    pub async fn with_redis(
        config: HubConfig,
        redis_url: &str,
        conn: ::redis::aio::ConnectionManager,
        prefix: &str,
    ) -> anyhow::Result<Self> {
        let instance = history::new_epoch();
        let backplane = Backplane::new(redis_url, conn, prefix, instance.clone(), &config)?;
        let hub = Self::with_backplane(config, Some((instance, backplane)));
        redis::start(&hub).await?;
        Ok(hub)
    }

    fn with_backplane(config: HubConfig, backplane: Option<(Arc<str>, Backplane)>) -> Self {
        let (instance, backplane) = match backplane {
            Some((i, b)) => (i, Some(b)),
            None => (history::new_epoch(), None),
        };
        Self(Arc::new(Inner {
            history: LocalHistory::new(config.history_len, config.history_idle),
            rooms: Rooms::new(config.queue_len),
            config,
            instance,
            backplane,
            next_conn: AtomicU64::new(1),
        }))
    }

    pub fn backplane(&self) -> Option<&Backplane> {
        self.backplane.as_ref()
    }

    /// A connection id unique across instances.
    pub fn next_conn_id(&self) -> String {
        format!("{}.{}", self.instance, self.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    /// Numbers and fans out one record event (see [`Bus::publish`]).
    pub fn publish_event(&self, workspace: WorkspaceId, topic: &str, kind: &str, data: &Value) {
        let room = room_key(workspace, topic);
        let head = protocol::event_head(workspace, topic, kind, data);
        metrics::published(topic);
        match &self.backplane {
            Some(bp) => bp.publish(room, head),
            None => self.history.append(&room, &head, |epoch, seq, text| {
                self.rooms.deliver(&room, Arc::new(Frame { epoch, seq, presence: false, text }));
            }),
        }
    }

    /// Where `room` stands, and what a client at `since` missed (or why it must resync).
    pub async fn recover(&self, room: &RoomKey, since: Option<&Position>) -> anyhow::Result<Recovery> {
        match &self.backplane {
            Some(bp) => bp.recover(room, since).await,
            None => Ok(self.history.recover(room, since)),
        }
    }

    /// Announces a connection's presence (new, or with a changed meta).
    pub async fn presence_upsert(&self, room: &RoomKey, entry: ConnEntry) {
        let change = PresenceChange::Upsert { room: room.to_string(), entry };
        self.presence_change(change).await;
    }

    pub async fn presence_remove(&self, room: &RoomKey, conn: &str) {
        let change = PresenceChange::Remove { room: room.to_string(), conn: conn.to_owned() };
        self.presence_change(change).await;
    }

    async fn presence_change(&self, change: PresenceChange) {
        match &self.backplane {
            Some(bp) => {
                if let Err(e) = bp.presence(&change).await {
                    tracing::warn!(error = %e, "presence change not shared through Redis");
                }
            }
            None => self.rooms.apply_presence(change),
        }
    }

    /// Shows a drop to everyone on the topic.
    pub async fn drop_note(&self, room: &RoomKey, note: DropNote) {
        match &self.backplane {
            Some(bp) => {
                if let Err(e) = bp.drop_note(room, &note).await {
                    tracing::warn!(error = %e, "drop not shared through Redis");
                }
            }
            None => self.rooms.apply_drop(room, note),
        }
    }

    /// Periodic upkeep: forget idle in-process histories.
    pub fn forget_idle(&self) {
        self.history.forget_idle();
    }

    /// Closes every connection (going away), removes this instance's presence, stops the
    /// Redis tasks.
    pub async fn shutdown(&self) {
        self.rooms.shutdown_all();
        // Give connection tasks a moment to say goodbye and withdraw their presence.
        for _ in 0..50 {
            if self.rooms.connection_count() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Some(bp) = &self.backplane {
            bp.stop().await;
        }
    }
}

impl Bus for Hub {
    fn publish(&self, workspace: WorkspaceId, topic: &str, kind: &str, payload: Value) {
        self.publish_event(workspace, topic, kind, &payload);
    }
}
