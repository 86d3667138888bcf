//! The subscribers of each topic on this instance, and fan-out to them. A room exists while
//! at least one local connection subscribes; it holds the topic's presence view and live drops.
//!
//! Fan-out never waits: each subscriber has a bounded queue, `try_send` either queues a shared
//! frame (a reference count, not a copy) or finds the queue full, and then that one connection
//! is told to close as a slow consumer.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;
use switchboard_sender::WorkspaceId;
use tokio::sync::{Notify, mpsc};

use super::drops::DropBoard;
use super::metrics;
use super::presence::{PresenceChange, PresenceView};
use super::protocol::{DropNote, PresenceUser, ServerFrame};

/// `<workspace>/<topic>`: one room per topic per workspace.
pub type RoomKey = Arc<str>;

/// A frame serialized once and shared by every subscriber it goes to.
#[derive(Debug)]
pub struct Frame {
    pub room: RoomKey,
    /// For record events: the topic's epoch and the event's seq; seq 0 for other frames.
    pub epoch: Arc<str>,
    pub seq: u64,
    /// Presence frames skip subscribers that opted out of presence.
    pub presence: bool,
    pub text: Utf8Bytes,
}

/// Why a connection was told to close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillReason {
    None = 0,
    SlowConsumer = 1,
    Shutdown = 2,
}

/// A connection's off switch, flipped from the fan-out path or by shutdown.
#[derive(Default)]
pub struct Kill {
    reason: AtomicU8,
    pub notify: Notify,
}

impl Kill {
    pub fn fire(&self, reason: KillReason) {
        if self.reason.compare_exchange(0, reason as u8, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            self.notify.notify_one();
        }
    }

    pub fn reason(&self) -> KillReason {
        match self.reason.load(Ordering::Acquire) {
            1 => KillReason::SlowConsumer,
            2 => KillReason::Shutdown,
            _ => KillReason::None,
        }
    }
}

/// How the hub reaches one connection.
#[derive(Clone)]
pub struct ConnHandle {
    pub id: Arc<str>,
    pub tx: mpsc::Sender<Arc<Frame>>,
    pub kill: Arc<Kill>,
}

impl ConnHandle {
    fn offer(&self, frame: &Arc<Frame>) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(frame.clone())
            && self.kill.reason() == KillReason::None
        {
            metrics::overflow(&frame.room);
            self.kill.fire(KillReason::SlowConsumer);
        }
    }
}

struct Subscriber {
    conn: ConnHandle,
    presence: bool,
}

/// One topic's local subscribers, presence view and live drops.
pub struct Room {
    pub workspace: WorkspaceId,
    pub topic: String,
    subscribers: RwLock<Vec<Subscriber>>,
    pub presence: Mutex<PresenceView>,
    pub drops: Mutex<DropBoard>,
    /// Set once the presence view has been loaded (from Redis, with a backplane).
    pub loaded: tokio::sync::OnceCell<()>,
}

impl Room {
    fn frame(&self, room: &RoomKey, presence: bool, frame: &ServerFrame<'_>) -> Arc<Frame> {
        Arc::new(Frame { room: room.clone(), epoch: "".into(), seq: 0, presence, text: frame.to_text().into() })
    }

    fn deliver(&self, frame: &Arc<Frame>) {
        let subscribers = self.subscribers.read().expect("room lock");
        for s in subscribers.iter() {
            if frame.presence && !s.presence {
                continue;
            }
            s.conn.offer(frame);
        }
    }
}

/// Every room and connection of this instance.
#[derive(Default)]
pub struct Rooms {
    rooms: DashMap<RoomKey, Arc<Room>>,
    conns: DashMap<Arc<str>, Arc<Kill>>,
}

impl Rooms {
    pub fn register_conn(&self, id: &Arc<str>, kill: &Arc<Kill>) {
        self.conns.insert(id.clone(), kill.clone());
        metrics::connections(self.conns.len());
    }

    pub fn unregister_conn(&self, id: &str) {
        self.conns.remove(id);
        metrics::connections(self.conns.len());
    }

    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    pub fn shutdown_all(&self) {
        for c in self.conns.iter() {
            c.value().fire(KillReason::Shutdown);
        }
    }

    /// Adds a subscriber (creating the room) and returns the room.
    pub fn join(
        &self,
        key: &RoomKey,
        workspace: WorkspaceId,
        topic: &str,
        conn: ConnHandle,
        presence: bool,
    ) -> Arc<Room> {
        let entry = self.rooms.entry(key.clone()).or_insert_with(|| {
            Arc::new(Room {
                workspace,
                topic: topic.to_owned(),
                subscribers: RwLock::new(Vec::new()),
                presence: Mutex::new(PresenceView::default()),
                drops: Mutex::new(DropBoard::default()),
                loaded: tokio::sync::OnceCell::new(),
            })
        });
        entry.subscribers.write().expect("room lock").push(Subscriber { conn, presence });
        entry.clone()
    }

    /// Removes a subscriber, and the room when it was the last.
    pub fn leave(&self, key: &RoomKey, conn_id: &str) {
        if let Some(room) = self.rooms.get(key) {
            room.subscribers.write().expect("room lock").retain(|s| &*s.conn.id != conn_id);
        }
        self.rooms.remove_if(key, |_, room| room.subscribers.read().expect("room lock").is_empty());
    }

    pub fn get(&self, key: &str) -> Option<Arc<Room>> {
        self.rooms.get(key).map(|r| r.clone())
    }

    /// Every local room, for presence upkeep.
    pub fn all(&self) -> Vec<(RoomKey, Arc<Room>)> {
        self.rooms.iter().map(|r| (r.key().clone(), r.value().clone())).collect()
    }

    /// Queues `frame` for every local subscriber of its room.
    pub fn deliver(&self, key: &str, frame: Arc<Frame>) {
        let room = self.rooms.get(key).map(|r| r.clone());
        if let Some(room) = room {
            room.deliver(&frame);
        }
    }

    /// Applies a presence change to the local view of its room and sends the diff.
    pub fn apply_presence(&self, change: PresenceChange) {
        let (key, room) = match &change {
            PresenceChange::Upsert { room, .. } | PresenceChange::Remove { room, .. } => {
                match self.rooms.get(room.as_str()) {
                    Some(r) => (r.key().clone(), r.value().clone()),
                    None => return,
                }
            }
        };
        let diff = {
            let mut view = room.presence.lock().expect("presence lock");
            match change {
                PresenceChange::Upsert { entry, .. } => view.upsert(entry),
                PresenceChange::Remove { conn, .. } => view.remove(&conn),
            }
        };
        if let Some((event, user)) = diff {
            send_diff(&key, &room, event, &user);
        }
    }

    /// Keeps a drop for late subscribers and shows it to the room.
    pub fn apply_drop(&self, key: &str, note: DropNote) {
        let Some((key, room)) = self.rooms.get(key).map(|r| (r.key().clone(), r.value().clone())) else { return };
        let frame =
            room.frame(&key, false, &ServerFrame::Drop { workspace: room.workspace, topic: &room.topic, note: &note });
        room.drops.lock().expect("drops lock").add(note, chrono::Utc::now().timestamp_millis());
        room.deliver(&frame);
    }
}

/// Sends a presence diff to the room's presence subscribers.
pub fn send_diff(key: &RoomKey, room: &Room, event: super::protocol::DiffKind, user: &PresenceUser) {
    let frame = room.frame(
        key,
        true,
        &ServerFrame::PresenceDiff { workspace: room.workspace, topic: &room.topic, event, user },
    );
    room.deliver(&frame);
}
