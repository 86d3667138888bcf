//! The engine's in-memory opt-out set: the last line of the STOP fence. The claim statement
//! already excludes every opt-out committed before it ran; a STOP that commits between the claim
//! and the carrier call arrives here through PostgreSQL's `consent` notifications (migration
//! 0010, sent only on commit, to every instance) and the row is canceled instead of sent.
//!
//! Entries only need to outlive the claims that could have missed them, so they expire after
//! [`KEEP`]; the set stays small however many opt-outs a workspace has.
//!
//! The instance whose webhook receives a STOP does not wait for its commit: once the signature
//! checks out and the text reads as an opt-out, the webhook puts the phone in this instance's
//! set ([`OptOutSet::fence_received`]) before it opens its transaction. Should that transaction
//! fail, the entry still stands until it expires — the phone said STOP, so holding its messages
//! is the safe side — and Twilio's retry records the opt-out. Every other instance is fenced by
//! the notification, after the commit.
//!
//! How long the fence takes: an opt-out's notification carries its `opted_out_at` and source
//! (migration 0012); for a STOP that is the moment our webhook received it. Each instance
//! records the time from there to the entry being in its set as the histogram
//! `switchboard_engine_fence_seconds{source, via}` (`via` is `webhook` for the receiving
//! instance's early fence, `notify` for the notification), and logs it at DEBUG ("engine: opt-out
//! fenced", with the phone, `via` and both times in microseconds since the epoch), which
//! `loadtests/bench-stop-fence.sh` reads.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use uuid::Uuid;

use crate::ids::WorkspaceId;

/// Claims older than this are long finished; their opt-outs need no memory.
pub const KEEP: Duration = Duration::from_secs(600);

/// Phones by workspace, each with when it entered the set. Keyed in two levels so the engine's
/// per-message lookup borrows the phone instead of allocating a key.
#[derive(Clone, Default)]
pub struct OptOutSet {
    recent: Arc<RwLock<HashMap<WorkspaceId, HashMap<String, Instant>>>>,
}

impl OptOutSet {
    pub fn contains(&self, workspace: WorkspaceId, phone: &str) -> bool {
        let recent = self.recent.read().unwrap_or_else(|p| p.into_inner());
        recent.get(&workspace).is_some_and(|phones| phones.contains_key(phone))
    }

    pub fn insert(&self, workspace: WorkspaceId, phone: String) {
        let mut recent = self.recent.write().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        recent.retain(|_, phones| {
            phones.retain(|_, at| now.duration_since(*at) < KEEP);
            !phones.is_empty()
        });
        recent.entry(workspace).or_default().insert(phone, now);
    }

    /// The receiving instance's early fence: `phone` sent an opt-out that our webhook received at
    /// `received_at` (signature checked), not yet committed.
    pub fn fence_received(&self, workspace: WorkspaceId, phone: &str, source: &str, received_at: SystemTime) {
        self.insert(workspace, phone.to_owned());
        record_fence(workspace, phone, source, "webhook", received_at);
    }

    pub fn remove(&self, workspace: WorkspaceId, phone: &str) {
        let mut recent = self.recent.write().unwrap_or_else(|p| p.into_inner());
        if let Some(phones) = recent.get_mut(&workspace) {
            phones.remove(phone);
        }
    }

    /// Applies one `consent` notification payload: "<workspace> <phone> in", or
    /// "<workspace> <phone> out" followed (since migration 0012) by "<opted_out_at µs> <source>".
    /// For a stamped opt-out, records how long after `opted_out_at` the fence holds here.
    pub fn apply(&self, payload: &str) -> Option<()> {
        let Notice { workspace, phone, opted_out, stamp } = Notice::parse(payload)?;
        match (opted_out, stamp) {
            (false, _) => self.remove(workspace, &phone),
            (true, None) => self.insert(workspace, phone),
            (true, Some(stamp)) => {
                self.insert(workspace, phone.clone());
                record_fence(workspace, &phone, &stamp.source, "notify", stamp.at);
            }
        }
        metrics::counter!("switchboard_engine_consent_notifications_total").increment(1);
        Some(())
    }

    /// Listens for consent changes until the process ends, reconnecting after errors.
    /// `ready` fires once the first LISTEN is in place.
    pub async fn listen(self, db: PgPool, ready: tokio::sync::oneshot::Sender<()>) {
        let mut ready = Some(ready);
        loop {
            match PgListener::connect_with(&db).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen("consent").await {
                        tracing::warn!(error = %e, "engine: LISTEN consent failed");
                    } else {
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(());
                        }
                        loop {
                            match listener.recv().await {
                                Ok(n) => {
                                    if self.apply(n.payload()).is_none() {
                                        tracing::warn!(
                                            payload = n.payload(),
                                            "engine: unreadable consent notification"
                                        );
                                    }
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "engine: consent listener lost its connection");
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "engine: cannot connect the consent listener"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// One `consent` notification, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub workspace: WorkspaceId,
    pub phone: String,
    pub opted_out: bool,
    /// When and how the opt-out was taken (opt-outs since migration 0012).
    pub stamp: Option<Stamp>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The opt-out's `opted_out_at`: for a STOP, when our webhook received it.
    pub at: SystemTime,
    /// `keyword`, `phrase`, `carrier`, `manual` or `import`.
    pub source: String,
}

impl Notice {
    /// Reads a payload; `None` when it is not one. An opt-out without a stamp (0010's payload)
    /// or with one that does not read is still an opt-out, unmeasured.
    pub fn parse(payload: &str) -> Option<Self> {
        let mut parts = payload.split(' ');
        let workspace = WorkspaceId(Uuid::parse_str(parts.next()?).ok()?);
        let phone = parts.next().filter(|p| !p.is_empty())?.to_owned();
        let (opted_out, stamp) = match parts.next()? {
            "in" => (false, None),
            // The opt-out holds whatever follows: a stamp that does not read only goes unmeasured.
            "out" => {
                let micros = parts.next().and_then(|m| m.parse::<u64>().ok());
                let source = parts.next().filter(|s| !s.is_empty());
                let stamp = micros.zip(source).map(|(micros, source)| Stamp {
                    at: UNIX_EPOCH + Duration::from_micros(micros),
                    source: source.to_owned(),
                });
                (true, stamp)
            }
            _ => return None,
        };
        // Any fields after these are for later readers.
        Some(Self { workspace, phone, opted_out, stamp })
    }
}

/// Records how long after `at` the fence held here (the entry is in the set from now on).
fn record_fence(workspace: WorkspaceId, phone: &str, source: &str, via: &'static str, at: SystemTime) {
    let applied = SystemTime::now();
    // The clock of the instance that took the opt-out may run ahead of ours: a negative interval
    // counts as zero.
    let lag = applied.duration_since(at).unwrap_or_default();
    metrics::histogram!("switchboard_engine_fence_seconds", "source" => source.to_owned(), "via" => via)
        .record(lag.as_secs_f64());
    tracing::debug!(
        workspace = %workspace.0,
        phone = %phone,
        source = %source,
        via = via,
        opted_out_at_us = micros(at),
        applied_at_us = micros(applied),
        lag_us = lag.as_micros() as u64,
        "engine: opt-out fenced"
    );
}

fn micros(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_add_and_remove() {
        let set = OptOutSet::default();
        let ws = WorkspaceId(Uuid::nil());
        assert!(set.apply(&format!("{} +14155550100 out", ws.0)).is_some(), "0010's payload");
        assert!(set.contains(ws, "+14155550100"));
        assert!(!set.contains(WorkspaceId(Uuid::max()), "+14155550100"), "per workspace");
        set.apply(&format!("{} +14155550100 in", ws.0));
        assert!(!set.contains(ws, "+14155550100"));
        assert!(set.apply(&format!("{} +14155550101 out 1764400000123456 keyword", ws.0)).is_some(), "0012's");
        assert!(set.contains(ws, "+14155550101"));
        assert!(set.apply("garbage").is_none());
    }

    #[test]
    fn stamped_opt_outs_read_their_time_and_source() {
        let ws = Uuid::parse_str("0190b5a0-0000-7000-8000-000000000001").unwrap();
        let notice = Notice::parse(&format!("{ws} +14155550100 out 1764400000123456 keyword")).unwrap();
        assert_eq!(notice.workspace, WorkspaceId(ws));
        assert_eq!(notice.phone, "+14155550100");
        assert!(notice.opted_out);
        let stamp = notice.stamp.unwrap();
        assert_eq!(stamp.at.duration_since(UNIX_EPOCH).unwrap(), Duration::from_micros(1_764_400_000_123_456));
        assert_eq!(stamp.source, "keyword");

        let later = Notice::parse(&format!("{ws} +14155550100 out 1764400000123456 keyword more")).unwrap();
        assert_eq!(later.stamp.map(|s| s.source).as_deref(), Some("keyword"), "later fields are ignored");
        let plain = Notice::parse(&format!("{ws} +14155550100 out")).unwrap();
        assert!(plain.opted_out && plain.stamp.is_none());
        let opt_in = Notice::parse(&format!("{ws} +14155550100 in")).unwrap();
        assert!(!opt_in.opted_out && opt_in.stamp.is_none());

        for unstamped in [format!("{ws} +14155550100 out soon keyword"), format!("{ws} +14155550100 out 17644")] {
            let notice = Notice::parse(&unstamped).unwrap();
            assert!(notice.opted_out && notice.stamp.is_none(), "{unstamped:?}: fenced, not measured");
        }
        for bad in
            [format!("{ws} +14155550100 sideways"), format!("{ws}  out"), "not-a-uuid +14155550100 out".to_owned()]
        {
            assert_eq!(Notice::parse(&bad), None, "{bad:?}");
        }
    }

    /// The histogram gets the time from the stamp to the entry being in the set, and renders
    /// through the exporter the server uses.
    #[test]
    fn a_stamped_opt_out_records_its_fence_time() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let set = OptOutSet::default();
        let ws = WorkspaceId(Uuid::nil());
        let stamped = SystemTime::now() - Duration::from_millis(250);
        let before = SystemTime::now();
        metrics::with_local_recorder(&recorder, || {
            set.apply(&format!("{} +14155550100 out {} keyword", ws.0, micros(stamped))).unwrap();
            set.apply(&format!("{} +14155550101 out", ws.0)).unwrap();
        });
        let elapsed = before.elapsed().unwrap().as_secs_f64();
        assert!(set.contains(ws, "+14155550100"));
        let text = handle.render();
        let value = |series: &str| -> f64 {
            let line = text.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("{series} in {text}"));
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        // One sample: the unstamped opt-out records nothing.
        assert_eq!(value("switchboard_engine_fence_seconds_count{source=\"keyword\",via=\"notify\"}"), 1.0);
        assert_eq!(text.matches("switchboard_engine_fence_seconds_count").count(), 1, "{text}");
        // Microsecond stamps: 250 ms less at most 1 µs of truncation, plus however long this took.
        let sum = value("switchboard_engine_fence_seconds_sum{source=\"keyword\",via=\"notify\"}");
        assert!((0.25 - 1e-6..=0.25 + elapsed + 1e-6).contains(&sum), "{sum}");
        assert_eq!(value("switchboard_engine_consent_notifications_total"), 2.0);
    }
}
