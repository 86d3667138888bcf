//! One task per WebSocket: it reads the client's frames (subscribe, presence, drop, ping), writes
//! what the hub queued for it in batches, pings, and on the way out withdraws its subscriptions
//! and presence. Whatever ends the connection ends here, in [`run`].
//!
//! Queued record events pass a per-subscription check: duplicates (already sent during
//! recovery) are skipped, a gap is filled from history (or answered with `resync`), and a
//! changed epoch becomes a `resync` — so a client never sees a silent gap (invariant 6).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::task::AtomicWaker;
use futures_util::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota};
use serde_json::Value;
use switchboard_sender::{UserId, WorkspaceId};

use super::history::Outcome;
use super::presence::ConnEntry;
use super::protocol::{self, ClientFrame, DropNote, Position, ServerFrame};
use super::rooms::{Cursor, Frame, Kill, KillReason, Room};
use super::topics::{Refusal, Topic};
use super::{Hub, RoomKey, drops, metrics, room_key};
use crate::auth::guard::{Member, Principal};
use crate::error::ApiError;
use crate::state::AppState;

mod delivery;

/// Largest presence meta accepted, serialized.
pub const MAX_META_BYTES: usize = 1024;
/// Frames written per batch before the socket is flushed.
const BATCH: usize = 256;

/// Why the loop ended.
#[derive(Debug)]
enum Exit {
    /// The client closed, vanished or broke the protocol.
    Gone,
    /// No frame (not even a pong) for two ping intervals.
    Dead,
    /// The hub fired the kill switch (slow consumer or shutdown).
    Killed,
    TooLarge,
}

struct Subscription {
    key: RoomKey,
    /// The room, whose ring this subscription reads from `pos` on.
    room: Arc<Room>,
    pos: u64,
    /// `pos` as the publishers see it (and whether this connection waits for frames).
    cursor: Arc<Cursor>,
    workspace: WorkspaceId,
    topic: String,
    epoch: Arc<str>,
    last_seq: u64,
    presence: bool,
    meta: Value,
}

/// What to do with one queued frame.
enum Admit {
    Send,
    Skip,
    Resync,
    Gap,
}

/// Who is connected: only what the connection needs after the upgrade (ids and the display
/// name), not the whole authenticated [`Principal`] — an idle connection stays small.
struct Caller {
    user_id: UserId,
    name: Box<str>,
    /// The workspace an API token was minted for (`None` for a session).
    token_workspace: Option<WorkspaceId>,
}

struct Connection {
    state: AppState,
    hub: Hub,
    caller: Caller,
    id: Arc<str>,
    kill: Arc<Kill>,
    /// Publishers wake the task through this when it waits for frames; created on the first
    /// subscribe, so a connection that follows no topic holds none.
    wake: Option<Arc<AtomicWaker>>,
    sink: SplitSink<WebSocket, Message>,
    /// A handful at most (HUB_MAX_SUBSCRIPTIONS): a list is cheaper than a map.
    subs: Vec<Subscription>,
    chatter: Option<Box<DefaultDirectRateLimiter>>,
    meta_version: u64,
}

/// Serves one upgraded socket until it ends.
pub async fn run(socket: WebSocket, state: AppState, principal: Principal) {
    let hub = state.hub.clone();
    let caller = Caller {
        user_id: principal.user.id,
        token_workspace: principal.token_workspace(),
        name: principal.user.name.into_boxed_str(),
    };
    let id: Arc<str> = hub.next_conn_id().into();
    let kill = Arc::new(Kill::default());
    hub.rooms.register_conn(&id, &kill);
    let (sink, stream) = socket.split();
    let mut conn =
        Connection { state, hub, caller, id, kill, wake: None, sink, subs: Vec::new(), chatter: None, meta_version: 0 };
    // The rarely taken paths are boxed so the task's future (held by every idle connection)
    // is only as large as the idle loop needs.
    let exit = conn.serve(stream).await;
    Box::pin(conn.withdraw()).await;
    Box::pin(conn.say_goodbye(exit)).await;
    conn.hub.rooms.unregister_conn(&conn.id);
}

/// Returns once a followed room's ring holds a frame this connection has not taken; never when
/// it follows none. Before it sleeps it registers the task's waker, marks every cursor parked
/// and looks again: a publish either sees the mark and wakes the task, or its frame is seen by
/// that second look.
async fn frames_ready(subs: &[Subscription], wake: &Option<Arc<AtomicWaker>>) {
    let Some(wake) = wake else { return std::future::pending().await };
    let pending = || subs.iter().any(|s| s.room.ring.head() > s.pos);
    std::future::poll_fn(|cx| {
        wake.register(cx.waker());
        if pending() {
            return Poll::Ready(());
        }
        for s in subs {
            s.cursor.park(s.pos, &s.room.ring);
        }
        if pending() { Poll::Ready(()) } else { Poll::Pending }
    })
    .await
}

impl Connection {
    async fn serve(&mut self, mut stream: SplitStream<WebSocket>) -> Exit {
        let interval = self.hub.config.ping_interval;
        let hello = ServerFrame::Hello {
            conn: &self.id,
            user_id: self.caller.user_id,
            ping_ms: interval.as_millis() as u64,
            max_frame: self.hub.config.max_frame,
        };
        if let Err(exit) = self.write(hello.to_text().into()).await {
            return exit;
        }
        let kill = self.kill.clone();
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        let mut heard = true;
        loop {
            let step = tokio::select! {
                biased;
                _ = kill.notify.notified() => Err(Exit::Killed),
                msg = stream.next() => {
                    heard = true;
                    self.on_message(msg).await
                }
                _ = frames_ready(&self.subs, &self.wake) => self.write_batch().await,
                _ = ping.tick() => {
                    if !heard {
                        Err(Exit::Dead)
                    } else {
                        heard = false;
                        self.write(Message::Ping(Default::default())).await
                    }
                }
            };
            if let Err(exit) = step {
                return exit;
            }
        }
    }

    async fn on_message(&mut self, msg: Option<Result<Message, axum::Error>>) -> Result<(), Exit> {
        match msg {
            None | Some(Ok(Message::Close(_))) => Err(Exit::Gone),
            Some(Err(e)) => Err(if too_large(&e) { Exit::TooLarge } else { Exit::Gone }),
            Some(Ok(Message::Text(text))) => {
                metrics::frames_in(1);
                match serde_json::from_str::<ClientFrame>(&text) {
                    Ok(frame) => Box::pin(self.on_frame(frame)).await,
                    Err(e) => self.error("bad_frame", &format!("Not a frame of this protocol: {e}"), None, None).await,
                }
            }
            Some(Ok(Message::Binary(_))) => {
                metrics::frames_in(1);
                self.error(
                    "bad_frame",
                    "Frames are JSON text; binary frames are not part of this protocol.",
                    None,
                    None,
                )
                .await
            }
            Some(Ok(_)) => Ok(()), // ping and pong: tungstenite answers pings itself
        }
    }

    async fn on_frame(&mut self, frame: ClientFrame) -> Result<(), Exit> {
        match frame {
            ClientFrame::Ping => self.write(ServerFrame::Pong.to_text().into()).await,
            ClientFrame::Subscribe { workspace, topic, since, meta, presence, reference } => {
                self.subscribe(workspace, &topic, since, meta.unwrap_or(Value::Null), presence, reference.as_deref())
                    .await
            }
            ClientFrame::Unsubscribe { workspace, topic } => {
                let key = room_key(workspace, &topic);
                if self.find(&key).is_none() {
                    return self.not_subscribed(workspace, &topic).await;
                }
                self.leave(&key).await;
                self.write(ServerFrame::Unsubscribed { workspace, topic: &topic }.to_text().into()).await
            }
            ClientFrame::Presence { workspace, topic, meta } => self.set_meta(workspace, &topic, meta).await,
            ClientFrame::Drop { workspace, topic, text, anchor, ttl_ms } => {
                self.drop_note(workspace, &topic, text, anchor, ttl_ms).await
            }
        }
    }

    async fn subscribe(
        &mut self,
        workspace: WorkspaceId,
        raw_topic: &str,
        since: Option<Position>,
        meta: Value,
        presence: bool,
        reference: Option<&str>,
    ) -> Result<(), Exit> {
        let topic = match self.authorize(workspace, raw_topic).await {
            Ok(topic) => topic,
            Err(refusal) => {
                return self.error(refusal.code(), refusal.message(), Some((workspace, raw_topic)), reference).await;
            }
        };
        if serde_json::to_string(&meta).map_or(0, |s| s.len()) > MAX_META_BYTES {
            return self
                .error("meta_too_large", "Presence meta is limited to 1 KiB.", Some((workspace, raw_topic)), reference)
                .await;
        }
        let key = room_key(workspace, &topic.name);
        if self.find(&key).is_some() {
            self.leave(&key).await;
        } else if self.subs.len() >= self.hub.config.max_subscriptions {
            let msg = "This connection holds as many topics as it may; unsubscribe from one first.";
            return self.error("too_many_subscriptions", msg, Some((workspace, raw_topic)), reference).await;
        }
        let wake = self.wake.get_or_insert_with(Default::default).clone();
        let (room, cursor) = self.hub.rooms.join(&key, workspace, &topic.name, &self.id, &wake, &self.kill);
        if presence {
            self.hub.load_presence(&key, &room).await;
        }
        let recovery = match self.hub.recover(&key, since.as_ref()).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read topic history");
                self.hub.rooms.leave(&key, &self.id);
                let msg = "The topic's history is unavailable right now; try again.";
                return self.error("unavailable", msg, Some((workspace, raw_topic)), reference).await;
            }
        };
        metrics::subscribed(&topic.name, 1.0);
        let sub = Subscription {
            key: key.clone(),
            room: room.clone(),
            pos: cursor.position(),
            cursor,
            workspace,
            topic: topic.name.clone(),
            epoch: recovery.epoch.clone(),
            last_seq: recovery.seq,
            presence,
            meta: meta.clone(),
        };
        self.subs.push(sub);
        let (epoch, seq, t) = (&*recovery.epoch, recovery.seq, topic.name.as_str());
        let (recovered, missed, resync) = match recovery.outcome {
            Outcome::Fresh => (None, Vec::new(), None),
            Outcome::Missed(events) => {
                metrics::recovery(t, "served");
                (Some(events.len()), events, None)
            }
            Outcome::Resync(reason) => {
                metrics::recovery(t, "resync");
                (None, Vec::new(), Some(reason))
            }
        };
        let subscribed = ServerFrame::Subscribed { workspace, topic: t, epoch, seq, recovered, reference };
        self.feed(subscribed.to_text().into()).await?;
        if let Some(reason) = resync {
            self.feed(ServerFrame::Resync { workspace, topic: t, epoch, seq, reason }.to_text().into()).await?;
        }
        for event in missed {
            self.feed(Message::Text(event)).await?;
        }
        let now = chrono::Utc::now().timestamp_millis();
        let live_drops = room.drops.lock().expect("drops lock").live(now);
        for note in &live_drops {
            self.feed(ServerFrame::Drop { workspace, topic: t, note }.to_text().into()).await?;
        }
        if presence {
            let users = room.presence.lock().expect("presence lock").snapshot();
            self.feed(ServerFrame::PresenceState { workspace, topic: t, users }.to_text().into()).await?;
        }
        self.flush().await?;
        if presence {
            let entry = self.entry(meta);
            self.hub.presence_upsert(&key, entry).await;
        }
        Ok(())
    }

    /// The topic, if the caller is a member of `workspace` whose role may follow it. Another
    /// workspace's topic is refused exactly like one that does not exist (invariant 7).
    async fn authorize(&self, workspace: WorkspaceId, raw_topic: &str) -> Result<Topic, Refusal> {
        let topic = Topic::parse(raw_topic)?;
        let caller = &self.caller;
        let role = match Member::role_of(&self.state, caller.user_id, caller.token_workspace, workspace).await {
            Ok(role) => role,
            Err(ApiError::NotFound) => return Err(Refusal::NotFound),
            Err(e) => {
                tracing::warn!(error = ?e, "membership lookup failed");
                return Err(Refusal::NotFound);
            }
        };
        topic.authorize(role)?;
        Ok(topic)
    }

    fn entry(&mut self, meta: Value) -> ConnEntry {
        self.meta_version += 1;
        ConnEntry {
            conn: self.id.to_string(),
            instance: self.hub.instance.to_string(),
            user_id: self.caller.user_id,
            name: self.caller.name.to_string(),
            meta,
            version: self.meta_version,
        }
    }

    async fn set_meta(&mut self, workspace: WorkspaceId, topic: &str, meta: Value) -> Result<(), Exit> {
        let key = room_key(workspace, topic);
        let Some(i) = self.find(&key) else { return self.not_subscribed(workspace, topic).await };
        if !self.subs[i].presence {
            return self
                .error("presence_off", "This subscription takes no part in presence.", Some((workspace, topic)), None)
                .await;
        }
        if serde_json::to_string(&meta).map_or(0, |s| s.len()) > MAX_META_BYTES {
            return self
                .error("meta_too_large", "Presence meta is limited to 1 KiB.", Some((workspace, topic)), None)
                .await;
        }
        if !self.allow_chatter() {
            return self.rate_limited(workspace, topic).await;
        }
        self.subs[i].meta = meta.clone();
        let entry = self.entry(meta);
        self.hub.presence_upsert(&key, entry).await;
        Ok(())
    }

    async fn drop_note(
        &mut self,
        workspace: WorkspaceId,
        topic: &str,
        text: String,
        anchor: Option<String>,
        ttl_ms: Option<u64>,
    ) -> Result<(), Exit> {
        let key = room_key(workspace, topic);
        if self.find(&key).is_none() {
            return self.not_subscribed(workspace, topic).await;
        }
        if let Err(msg) = drops::validate(&text, anchor.as_deref()) {
            return self.error("invalid_drop", msg, Some((workspace, topic)), None).await;
        }
        if !self.allow_chatter() {
            return self.rate_limited(workspace, topic).await;
        }
        let ttl = drops::ttl(ttl_ms);
        let note = DropNote {
            id: uuid::Uuid::new_v4().simple().to_string(),
            user_id: self.caller.user_id,
            name: self.caller.name.to_string(),
            text: text.trim().to_owned(),
            anchor,
            expires_at: chrono::Utc::now().timestamp_millis() + ttl.as_millis() as i64,
        };
        self.hub.drop_note(&key, note).await;
        Ok(())
    }

    fn allow_chatter(&mut self) -> bool {
        let per_sec = self.hub.config.chatter_per_sec;
        let limiter = self.chatter.get_or_insert_with(|| {
            let rate = NonZeroU32::new(per_sec).unwrap_or(NonZeroU32::MIN);
            let burst = NonZeroU32::new(per_sec.saturating_mul(2)).unwrap_or(NonZeroU32::MIN);
            Box::new(governor::RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)))
        });
        limiter.check().is_ok()
    }

    async fn rate_limited(&mut self, workspace: WorkspaceId, topic: &str) -> Result<(), Exit> {
        self.error("rate_limited", "Too many presence updates or drops; slow down.", Some((workspace, topic)), None)
            .await
    }

    async fn not_subscribed(&mut self, workspace: WorkspaceId, topic: &str) -> Result<(), Exit> {
        self.error("not_subscribed", "Subscribe to the topic first.", Some((workspace, topic)), None).await
    }

    /// The index of the subscription to `key`.
    fn find(&self, key: &str) -> Option<usize> {
        self.subs.iter().position(|s| &*s.key == key)
    }

    /// Leaves one topic: the room, and its presence.
    async fn leave(&mut self, key: &RoomKey) {
        let Some(i) = self.find(key) else { return };
        let sub = self.subs.remove(i);
        self.hub.rooms.leave(key, &self.id);
        if sub.presence {
            self.hub.presence_remove(key, &self.id).await;
        }
        metrics::subscribed(&sub.topic, -1.0);
    }

    /// Leaves every topic; runs before any goodbye, so nobody waits on a dying connection.
    async fn withdraw(&mut self) {
        let keys: Vec<RoomKey> = self.subs.iter().map(|s| s.key.clone()).collect();
        for key in keys {
            self.leave(&key).await;
        }
    }

    async fn say_goodbye(&mut self, exit: Exit) {
        let (code, reason, grace) = match exit {
            Exit::Killed => match self.kill.reason() {
                KillReason::SlowConsumer => {
                    (protocol::CLOSE_SLOW_CONSUMER, "slow consumer: queue overflowed", self.hub.config.ping_interval)
                }
                KillReason::Shutdown => {
                    (protocol::CLOSE_GOING_AWAY, "server shutting down", Duration::from_millis(500))
                }
                KillReason::None => return,
            },
            Exit::TooLarge => (protocol::CLOSE_FRAME_TOO_LARGE, "frame too large", Duration::from_secs(1)),
            Exit::Gone | Exit::Dead => return,
        };
        let close = Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }));
        let _ = tokio::time::timeout(grace, self.sink.send(close)).await;
    }
}

/// Whether a read failed because the client's frame exceeded the size limit.
fn too_large(e: &axum::Error) -> bool {
    use std::error::Error as _;
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(s) = source {
        if let Some(tungstenite::Error::Capacity(_)) = s.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}
