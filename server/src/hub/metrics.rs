//! The hub's metrics (Prometheus via the `metrics` crate), labelled by topic kind where that
//! means something: connections, subscriptions, frames in and out, events published, queue
//! overflows, recoveries served and missed (resync).

use super::topics::kind_label;

fn kind_of_room(room: &str) -> &'static str {
    kind_label(room.split_once('/').map_or(room, |(_, t)| t))
}

pub fn connections(n: usize) {
    metrics::gauge!("switchboard_hub_connections").set(n as f64);
}

pub fn subscribed(topic: &str, delta: f64) {
    metrics::gauge!("switchboard_hub_subscriptions", "kind" => kind_label(topic)).increment(delta);
}

pub fn frames_in(n: u64) {
    metrics::counter!("switchboard_hub_frames_in_total").increment(n);
}

pub fn frames_out(n: u64) {
    metrics::counter!("switchboard_hub_frames_out_total").increment(n);
}

pub fn published(topic: &str) {
    metrics::counter!("switchboard_hub_events_published_total", "kind" => kind_label(topic)).increment(1);
}

pub fn overflow(room: &str) {
    metrics::counter!("switchboard_hub_queue_overflows_total", "kind" => kind_of_room(room)).increment(1);
}

/// A recovery request: `served` (every missed event sent) or `resync`.
pub fn recovery(topic: &str, outcome: &'static str) {
    metrics::counter!("switchboard_hub_recoveries_total", "kind" => kind_label(topic), "outcome" => outcome)
        .increment(1);
}
