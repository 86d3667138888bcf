//! The subscribers of each topic on this instance, and fan-out to them. A room exists while
//! at least one local connection subscribes; it holds the topic's presence view, its live drops
//! and its [`Ring`] of recent frames.
//!
//! Fan-out never waits and never copies: a frame is written once into the room's ring, and each
//! subscriber's connection reads the ring at its own position (its [`Cursor`]). A publish looks
//! at the subscribers only when one of them waits for frames (to wake it) and every
//! [`LAG_CHECKS`]th of a ring (to cut off, as a slow consumer, one that fell a whole ring
//! behind while stuck in a write) — not a queue push per subscriber per frame.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;
use futures_util::task::AtomicWaker;
use switchboard_sender::WorkspaceId;
use tokio::sync::Notify;

use super::drops::DropBoard;
use super::metrics;
use super::presence::{PresenceChange, PresenceView};
use super::protocol::{DropNote, PresenceUser, ServerFrame};

/// How often per ring length a publish checks how far behind each subscriber is: one that stops
/// reading is cut off at most a sixteenth of a ring late (and finds its frames overwritten if it
/// reads first).
const LAG_CHECKS: u64 = 16;

/// `<workspace>/<topic>`: one room per topic per workspace.
pub type RoomKey = Arc<str>;

/// A frame serialized once and shared by every subscriber it goes to.
#[derive(Debug)]
pub struct Frame {
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

/// A room's last frames in publish order. Position `p` (frames ever written before it) lives in
/// slot `p % capacity` until `capacity` later frames overwrite it.
pub struct Ring {
    slots: RwLock<Box<[Option<Arc<Frame>>]>>,
    /// The next frame's position.
    head: AtomicU64,
    capacity: u64,
    /// Set when a reader parked since the last publish that looked at the readers.
    waiting: AtomicBool,
}

/// A reader fell so far behind that the frames it had still to read were overwritten.
#[derive(Debug)]
pub struct Lagged;

impl Ring {
    fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            slots: RwLock::new(vec![None; capacity].into_boxed_slice()),
            head: AtomicU64::new(0),
            capacity: capacity as u64,
            waiting: AtomicBool::new(false),
        }
    }

    /// The next frame's position.
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// Writes `frame` at the head; returns the new head.
    fn push(&self, frame: Arc<Frame>) -> u64 {
        let (head, old) = {
            let mut slots = self.slots.write().expect("ring lock");
            let head = self.head.load(Ordering::Relaxed);
            let slot = (head % self.capacity) as usize;
            let old = slots[slot].replace(frame);
            self.head.store(head + 1, Ordering::Release);
            (head + 1, old)
        };
        drop(old); // outside the lock
        head
    }

    /// Hands `take` the frames from position `from` on, at most `max`, under the read lock,
    /// until it answers false; returns the position after the last frame handed over.
    pub fn read(&self, from: u64, max: usize, mut take: impl FnMut(&Frame) -> bool) -> Result<u64, Lagged> {
        let slots = self.slots.read().expect("ring lock");
        let head = self.head.load(Ordering::Acquire);
        if head.saturating_sub(from) > self.capacity {
            return Err(Lagged);
        }
        let until = head.min(from + max as u64);
        for p in from..until {
            if let Some(frame) = &slots[(p % self.capacity) as usize]
                && !take(frame)
            {
                return Ok(p + 1);
            }
        }
        Ok(until)
    }
}

/// Where one subscriber reads its room's ring: the next position, with [`Cursor::PARKED`] set
/// while its connection waits for frames (the publisher then wakes it).
pub struct Cursor(AtomicU64);

impl Cursor {
    const PARKED: u64 = 1 << 63;

    pub fn new(at: u64) -> Self {
        Self(AtomicU64::new(at))
    }

    /// The next position to read.
    pub fn position(&self) -> u64 {
        self.0.load(Ordering::Acquire) & !Self::PARKED
    }

    /// Records that everything before `at` was taken (and that the reader is awake).
    pub fn advance(&self, at: u64) {
        self.0.store(at, Ordering::Release);
    }

    /// Marks the reader waiting at `at` on `ring`. The caller then re-checks the ring's head
    /// before it sleeps: a publish either sees the marks (and wakes it) or its frame is seen by
    /// that check.
    pub fn park(&self, at: u64, ring: &Ring) {
        self.0.store(at | Self::PARKED, Ordering::SeqCst);
        ring.waiting.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }
}

/// How the hub reaches one connection's subscription to a room.
pub struct ConnHandle {
    pub id: Arc<str>,
    pub cursor: Arc<Cursor>,
    /// Wakes the connection task when it waits (shared by its subscriptions).
    pub wake: Arc<AtomicWaker>,
    pub kill: Arc<Kill>,
}

impl ConnHandle {
    /// After a frame was written at `head - 1`: wakes the reader if it waits and, with
    /// `check_lag`, cuts it off if the frames it has still to read no longer fit the ring.
    fn offer(&self, head: u64, capacity: u64, check_lag: bool, room: &str) {
        let at = self.cursor.0.load(Ordering::SeqCst);
        if at & Cursor::PARKED != 0 {
            if self.cursor.0.compare_exchange(at, at & !Cursor::PARKED, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                self.wake.wake();
            }
        } else if check_lag && head.saturating_sub(at) > capacity && self.kill.reason() == KillReason::None {
            // Saturating: with publishers racing on one room, a reader may already have taken a
            // frame written after the one whose `head` this publish holds.
            metrics::overflow(room);
            self.kill.fire(KillReason::SlowConsumer);
        }
    }
}

struct Subscriber {
    conn: ConnHandle,
}

/// One topic's local subscribers, recent frames, presence view and live drops.
pub struct Room {
    pub key: RoomKey,
    pub workspace: WorkspaceId,
    pub topic: String,
    pub ring: Ring,
    subscribers: RwLock<Vec<Subscriber>>,
    pub presence: Mutex<PresenceView>,
    pub drops: Mutex<DropBoard>,
    /// Set once the presence view has been loaded (from Redis, with a backplane).
    pub loaded: tokio::sync::OnceCell<()>,
}

impl Room {
    fn frame(presence: bool, frame: &ServerFrame<'_>) -> Arc<Frame> {
        Arc::new(Frame { epoch: "".into(), seq: 0, presence, text: frame.to_text().into() })
    }

    /// Writes `frame` into the ring, then wakes the subscribers that wait and, now and then,
    /// cuts off those a whole ring behind.
    fn deliver(&self, frame: Arc<Frame>) {
        let ring = &self.ring;
        let head = ring.push(frame);
        fence(Ordering::SeqCst);
        let wake = ring.waiting.load(Ordering::SeqCst) && ring.waiting.swap(false, Ordering::SeqCst);
        let check_lag = head.is_multiple_of((ring.capacity / LAG_CHECKS).max(1));
        if !wake && !check_lag {
            return;
        }
        for s in self.subscribers.read().expect("room lock").iter() {
            s.conn.offer(head, ring.capacity, check_lag, &self.key);
        }
    }

    /// Whether a subscriber that follows presence (or not) reads `frame`.
    pub fn wants(frame: &Frame, presence: bool) -> bool {
        presence || !frame.presence
    }
}

/// Every room and connection of this instance.
pub struct Rooms {
    rooms: DashMap<RoomKey, Arc<Room>>,
    conns: DashMap<Arc<str>, Arc<Kill>>,
    /// Each room's ring size: how far a subscriber may fall behind (HUB_QUEUE_LEN).
    ring_len: usize,
}

impl Rooms {
    pub fn new(ring_len: usize) -> Self {
        Self { rooms: DashMap::new(), conns: DashMap::new(), ring_len }
    }

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

    /// Adds a subscriber (creating the room) and returns the room with the subscriber's cursor,
    /// placed at the ring's head: it reads every frame published from now on.
    pub fn join(
        &self,
        key: &RoomKey,
        workspace: WorkspaceId,
        topic: &str,
        id: &Arc<str>,
        wake: &Arc<AtomicWaker>,
        kill: &Arc<Kill>,
    ) -> (Arc<Room>, Arc<Cursor>) {
        let entry = self.rooms.entry(key.clone()).or_insert_with(|| {
            Arc::new(Room {
                key: key.clone(),
                workspace,
                topic: topic.to_owned(),
                ring: Ring::new(self.ring_len),
                subscribers: RwLock::new(Vec::new()),
                presence: Mutex::new(PresenceView::default()),
                drops: Mutex::new(DropBoard::default()),
                loaded: tokio::sync::OnceCell::new(),
            })
        });
        let mut subscribers = entry.subscribers.write().expect("room lock");
        // Under the subscriber lock: a publish either lands before the head read here, or
        // finds this subscriber in the list.
        let cursor = Arc::new(Cursor::new(entry.ring.head()));
        let conn = ConnHandle { id: id.clone(), cursor: cursor.clone(), wake: wake.clone(), kill: kill.clone() };
        subscribers.push(Subscriber { conn });
        drop(subscribers);
        (entry.clone(), cursor)
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

    /// Hands `frame` to every local subscriber of its room.
    pub fn deliver(&self, key: &str, frame: Arc<Frame>) {
        let room = self.rooms.get(key).map(|r| r.clone());
        if let Some(room) = room {
            room.deliver(frame);
        }
    }

    /// Applies a presence change to the local view of its room and sends the diff.
    pub fn apply_presence(&self, change: PresenceChange) {
        let room = match &change {
            PresenceChange::Upsert { room, .. } | PresenceChange::Remove { room, .. } => {
                match self.rooms.get(room.as_str()) {
                    Some(r) => r.value().clone(),
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
            send_diff(&room, event, &user);
        }
    }

    /// Keeps a drop for late subscribers and shows it to the room.
    pub fn apply_drop(&self, key: &str, note: DropNote) {
        let Some(room) = self.rooms.get(key).map(|r| r.value().clone()) else { return };
        let frame =
            Room::frame(false, &ServerFrame::Drop { workspace: room.workspace, topic: &room.topic, note: &note });
        room.drops.lock().expect("drops lock").add(note, chrono::Utc::now().timestamp_millis());
        room.deliver(frame);
    }
}

/// Sends a presence diff to the room's presence subscribers.
pub fn send_diff(room: &Room, event: super::protocol::DiffKind, user: &PresenceUser) {
    let frame =
        Room::frame(true, &ServerFrame::PresenceDiff { workspace: room.workspace, topic: &room.topic, event, user });
    room.deliver(frame);
}

#[cfg(test)]
mod tests {
    use std::task::{Wake, Waker};

    use super::*;

    /// A waker that remembers being woken.
    #[derive(Default)]
    struct Woken(AtomicBool);

    impl Wake for Woken {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn event(seq: u64) -> Arc<Frame> {
        Arc::new(Frame { epoch: "e".into(), seq, presence: false, text: format!("{seq}").into() })
    }

    /// The seqs `ring` hands over from `from` (at most `max`), and the position after them.
    fn read(ring: &Ring, from: u64, max: usize) -> Result<(Vec<u64>, u64), Lagged> {
        let mut seqs = Vec::new();
        let at = ring.read(from, max, |f| {
            seqs.push(f.seq);
            true
        })?;
        Ok((seqs, at))
    }

    #[test]
    fn a_ring_keeps_its_last_frames_in_order_and_refuses_a_reader_it_overwrote() {
        let ring = Ring::new(4);
        for seq in 1..=6 {
            ring.push(event(seq));
        }
        assert_eq!(read(&ring, 2, 10).unwrap(), (vec![3, 4, 5, 6], 6));
        assert_eq!(read(&ring, 3, 2).unwrap(), (vec![4, 5], 5), "at most `max` frames");
        assert!(read(&ring, 1, 10).is_err(), "position 1 was overwritten");
        assert_eq!(read(&ring, 6, 10).unwrap(), (vec![], 6), "nothing new");
        let mut seen = Vec::new();
        let stop_at_4 = |f: &Frame| {
            seen.push(f.seq);
            f.seq != 4
        };
        assert_eq!(ring.read(2, 10, stop_at_4).unwrap(), 4, "stops after the frame `take` refused");
        assert_eq!(seen, vec![3, 4]);
    }

    #[test]
    fn a_publish_wakes_a_parked_reader_and_cuts_off_one_a_whole_ring_behind() {
        let rooms = Rooms::new(4);
        let key: RoomKey = "w/grid".into();
        let ws = WorkspaceId(uuid::Uuid::nil());
        let (wake_a, kill_a) = (Arc::new(AtomicWaker::new()), Arc::new(Kill::default()));
        let (wake_b, kill_b) = (Arc::new(AtomicWaker::new()), Arc::new(Kill::default()));
        let (room, a) = rooms.join(&key, ws, "grid", &"a".into(), &wake_a, &kill_a);
        let (_, b) = rooms.join(&key, ws, "grid", &"b".into(), &wake_b, &kill_b);

        let (woken_a, woken_b) = (Arc::new(Woken::default()), Arc::new(Woken::default()));
        wake_a.register(&Waker::from(woken_a.clone()));
        wake_b.register(&Waker::from(woken_b.clone()));
        a.park(a.position(), &room.ring);
        rooms.deliver(&key, event(1));
        assert!(woken_a.0.load(Ordering::SeqCst), "the parked reader was woken");
        assert!(!woken_b.0.load(Ordering::SeqCst), "a reader that is not parked is not woken");
        assert_eq!(a.position(), 0, "waking clears the mark, not the position");

        // a keeps up, b reads nothing: after five frames in a ring of four, b is cut off.
        for seq in 2..=5 {
            rooms.deliver(&key, event(seq));
            a.advance(room.ring.head());
        }
        assert_eq!(kill_a.reason(), KillReason::None);
        assert_eq!(kill_b.reason(), KillReason::SlowConsumer);
        assert!(read(&room.ring, b.position(), 10).is_err());
    }

    #[test]
    fn a_reader_ahead_of_a_late_publishers_head_is_not_cut_off() {
        // Two publishers on one room: the reader took both frames before the first publisher,
        // holding head 1, looked at it.
        let kill = Arc::new(Kill::default());
        let conn = ConnHandle {
            id: "a".into(),
            cursor: Arc::new(Cursor::new(2)),
            wake: Arc::new(AtomicWaker::new()),
            kill: kill.clone(),
        };
        conn.offer(1, 4, true, "w/grid");
        assert_eq!(kill.reason(), KillReason::None);
    }

    #[test]
    fn a_reader_that_stops_is_cut_off_within_a_sixteenth_of_a_ring() {
        let rooms = Rooms::new(64);
        let key: RoomKey = "w/grid".into();
        let (wake, kill) = (Arc::new(AtomicWaker::new()), Arc::new(Kill::default()));
        let (room, _cursor) = rooms.join(&key, WorkspaceId(uuid::Uuid::nil()), "grid", &"a".into(), &wake, &kill);
        let mut seq = 0;
        while kill.reason() == KillReason::None {
            seq += 1;
            rooms.deliver(&key, event(seq));
            assert!(seq <= 64 + 64 / LAG_CHECKS, "still not cut off after {seq} frames");
        }
        assert!(seq > 64, "cut off at {seq} frames, within its ring");
        assert_eq!(room.ring.head(), seq);
    }
}
