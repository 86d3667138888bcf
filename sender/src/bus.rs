//! The event bus the domain publishes on. The sender knows nothing of WebSockets: it hands each
//! domain event (a campaign counter moved, a ticket changed owner, an import progressed) to a
//! [`Bus`], and the server's realtime hub fans it out to subscribed consoles, numbering it in the
//! topic's sequence so a reconnecting client can recover what it missed.

use serde_json::Value;

use crate::WorkspaceId;

/// Where domain events go. Implemented in-process and over Redis by the server's hub.
///
/// `publish` never blocks and never fails the caller: delivery to browsers is best-effort for
/// the domain (PostgreSQL holds the truth), and recovery is the client's job (resync).
pub trait Bus: Send + Sync + 'static {
    /// Publishes `payload` as an event of `kind` on `topic` (e.g. `campaign:<id>`) of `workspace`.
    /// Events of one topic published from one task are delivered in that order.
    fn publish(&self, workspace: WorkspaceId, topic: &str, kind: &str, payload: Value);
}

/// A bus that drops everything: for commands and tests that run the domain without a hub.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullBus;

impl Bus for NullBus {
    fn publish(&self, _: WorkspaceId, _: &str, _: &str, _: Value) {}
}
