//! Per-topic sequence numbers and the bounded history that recovery reads (invariant 6), kept
//! in process. With Redis the same rules run inside Redis (see `redis.rs`): one epoch and one
//! counter per topic, the last `history_len` events, all forgotten together after
//! `history_idle` without a publish — the next epoch then tells clients to resync.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;

use super::RoomKey;
use super::protocol::Position;

/// A fresh epoch: any string a client cannot have seen before.
pub fn new_epoch() -> Arc<str> {
    uuid::Uuid::new_v4().simple().to_string()[..12].into()
}

/// What a (re)subscribing client gets: where the topic stands and, when it asked to recover,
/// either the events it missed or the reason it must resync.
#[derive(Debug)]
pub struct Recovery {
    pub epoch: Arc<str>,
    pub seq: u64,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub enum Outcome {
    /// No position was given: the client starts at `seq`.
    Fresh,
    /// Every event after the client's seq, in order (possibly none).
    Missed(Vec<Utf8Bytes>),
    /// The client's position cannot be served: `"epoch"` changed or `"gap"` left history.
    Resync(&'static str),
}

/// Decides recovery from what the history holds: `held` are the events with seq
/// `seq - held.len() + 1 ..= seq`.
pub fn decide(
    since: Option<&Position>,
    epoch: &str,
    seq: u64,
    held: impl FnOnce(u64) -> Option<Vec<Utf8Bytes>>,
) -> Outcome {
    let Some(since) = since else { return Outcome::Fresh };
    if since.epoch != epoch || since.seq > seq {
        return Outcome::Resync("epoch");
    }
    if since.seq == seq {
        return Outcome::Missed(Vec::new());
    }
    match held(since.seq) {
        Some(events) if events.len() as u64 == seq - since.seq => Outcome::Missed(events),
        _ => Outcome::Resync("gap"),
    }
}

/// One topic's sequence and recent events.
pub struct TopicLog {
    epoch: Arc<str>,
    seq: u64,
    events: VecDeque<Utf8Bytes>,
    touched: Instant,
}

impl TopicLog {
    fn new() -> Self {
        Self { epoch: new_epoch(), seq: 0, events: VecDeque::new(), touched: Instant::now() }
    }

    /// Forgets everything (a new epoch) when the topic has been idle too long.
    fn expire_if_idle(&mut self, idle: Duration) {
        if self.touched.elapsed() > idle {
            *self = Self::new();
        }
    }
}

/// In-process history for every topic of this instance.
pub struct LocalHistory {
    logs: DashMap<RoomKey, Arc<Mutex<TopicLog>>>,
    len: usize,
    idle: Duration,
}

impl LocalHistory {
    pub fn new(len: usize, idle: Duration) -> Self {
        Self { logs: DashMap::new(), len: len.max(1), idle }
    }

    fn log(&self, room: &RoomKey) -> Arc<Mutex<TopicLog>> {
        if let Some(log) = self.logs.get(room) {
            return log.clone();
        }
        self.logs.entry(room.clone()).or_insert_with(|| Arc::new(Mutex::new(TopicLog::new()))).clone()
    }

    /// Numbers the next event of `room`, keeps it, and calls `deliver` with it while the topic
    /// is still locked, so events reach subscribers in seq order.
    pub fn append(&self, room: &RoomKey, head: &str, deliver: impl FnOnce(Arc<str>, u64, Utf8Bytes)) {
        let log = self.log(room);
        let mut log = log.lock().expect("topic log lock");
        log.expire_if_idle(self.idle);
        log.seq += 1;
        log.touched = Instant::now();
        let text: Utf8Bytes = super::protocol::finish_event(head, &log.epoch, log.seq).into();
        if log.events.len() == self.len {
            log.events.pop_front();
        }
        log.events.push_back(text.clone());
        deliver(log.epoch.clone(), log.seq, text);
    }

    pub fn recover(&self, room: &RoomKey, since: Option<&Position>) -> Recovery {
        let log = self.log(room);
        let mut log = log.lock().expect("topic log lock");
        log.expire_if_idle(self.idle);
        let (epoch, seq) = (log.epoch.clone(), log.seq);
        let outcome = decide(since, &epoch, seq, |from| {
            let wanted = (seq - from) as usize;
            (wanted <= log.events.len()).then(|| log.events.iter().skip(log.events.len() - wanted).cloned().collect())
        });
        Recovery { epoch, seq, outcome }
    }

    /// Drops the logs of topics idle for longer than the history window.
    pub fn forget_idle(&self) {
        self.logs.retain(|_, log| log.lock().map(|l| l.touched.elapsed() <= self.idle).unwrap_or(false));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(epoch: &str, seq: u64) -> Position {
        Position { epoch: epoch.into(), seq }
    }

    #[test]
    fn recovery_serves_exactly_the_missed_events_or_resyncs() {
        let history = LocalHistory::new(5, Duration::from_secs(60));
        let room: RoomKey = "w/campaign:1".into();
        let mut epoch = None;
        for _ in 0..8 {
            history.append(&room, "{\"type\":\"event\",", |e, _, _| epoch = Some(e));
        }
        let epoch = epoch.unwrap();
        let r = history.recover(&room, Some(&pos(&epoch, 5)));
        let Outcome::Missed(events) = r.outcome else { panic!("{r:?}") };
        assert_eq!(events.len(), 3);
        assert!(events[0].as_str().ends_with("\"seq\":6}"));
        assert!(matches!(history.recover(&room, Some(&pos(&epoch, 2))).outcome, Outcome::Resync("gap")));
        assert!(
            matches!(history.recover(&room, Some(&pos(&epoch, 3))).outcome, Outcome::Missed(ref e) if e.len() == 5)
        );
        assert!(matches!(history.recover(&room, Some(&pos("other", 8))).outcome, Outcome::Resync("epoch")));
        assert!(
            matches!(history.recover(&room, Some(&pos(&epoch, 8))).outcome, Outcome::Missed(ref e) if e.is_empty())
        );
    }
}
