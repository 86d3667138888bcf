//! The engine's in-memory opt-out set: the last line of the STOP fence. The claim statement
//! already excludes every opt-out committed before it ran; a STOP that commits between the claim
//! and the carrier call arrives here through PostgreSQL's `consent` notifications (migration
//! 0010, sent only on commit, to every instance) and the row is canceled instead of sent.
//!
//! Entries only need to outlive the claims that could have missed them, so they expire after
//! [`KEEP`]; the set stays small however many opt-outs a workspace has.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use uuid::Uuid;

use crate::ids::WorkspaceId;

/// Claims older than this are long finished; their opt-outs need no memory.
pub const KEEP: Duration = Duration::from_secs(600);

#[derive(Clone, Default)]
pub struct OptOutSet {
    recent: Arc<RwLock<HashMap<(WorkspaceId, String), Instant>>>,
}

impl OptOutSet {
    pub fn contains(&self, workspace: WorkspaceId, phone: &str) -> bool {
        let recent = self.recent.read().unwrap_or_else(|p| p.into_inner());
        recent.contains_key(&(workspace, phone.to_owned()))
    }

    pub fn insert(&self, workspace: WorkspaceId, phone: String) {
        let mut recent = self.recent.write().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        recent.retain(|_, at| now.duration_since(*at) < KEEP);
        recent.insert((workspace, phone), now);
    }

    pub fn remove(&self, workspace: WorkspaceId, phone: &str) {
        let mut recent = self.recent.write().unwrap_or_else(|p| p.into_inner());
        recent.remove(&(workspace, phone.to_owned()));
    }

    /// Applies one `consent` notification payload ("<workspace> <phone> out|in").
    pub fn apply(&self, payload: &str) -> Option<()> {
        let mut parts = payload.split(' ');
        let workspace = WorkspaceId(Uuid::parse_str(parts.next()?).ok()?);
        let phone = parts.next()?.to_owned();
        match parts.next()? {
            "out" => self.insert(workspace, phone),
            "in" => self.remove(workspace, &phone),
            _ => return None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_add_and_remove() {
        let set = OptOutSet::default();
        let ws = WorkspaceId(Uuid::nil());
        assert!(set.apply(&format!("{} +14155550100 out", ws.0)).is_some());
        assert!(set.contains(ws, "+14155550100"));
        assert!(!set.contains(WorkspaceId(Uuid::max()), "+14155550100"), "per workspace");
        set.apply(&format!("{} +14155550100 in", ws.0));
        assert!(!set.contains(ws, "+14155550100"));
        assert!(set.apply("garbage").is_none());
    }
}
