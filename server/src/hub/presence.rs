//! Presence on one topic: who is here, with every connection (tab) they have and each
//! connection's meta. A view turns connection-level changes into user-level diffs: a user's
//! first connection is a `join`, their last one leaving is a `leave`, anything in between — a
//! second tab, a changed focus — is an `update`, never a leave followed by a join.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_sender::UserId;

use super::protocol::{DiffKind, PresenceConn, PresenceUser};

/// One connection's presence on one topic, as stored in Redis and sent between instances.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnEntry {
    /// Unique across instances: `<instance>.<connection number>`.
    pub conn: String,
    pub instance: String,
    pub user_id: UserId,
    pub name: String,
    pub meta: Value,
    /// Grows with each meta change of this connection; older news is ignored.
    pub version: u64,
}

/// A change to one connection's presence on a topic.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum PresenceChange {
    Upsert { room: String, entry: ConnEntry },
    Remove { room: String, conn: String },
}

struct UserPresence {
    name: String,
    conns: BTreeMap<String, ConnEntry>,
}

/// Everyone present on one topic, as this instance knows it.
#[derive(Default)]
pub struct PresenceView {
    users: HashMap<UserId, UserPresence>,
    owner_of: HashMap<String, UserId>,
}

impl PresenceView {
    /// Adds or changes a connection; returns the diff to send, if anything changed.
    pub fn upsert(&mut self, entry: ConnEntry) -> Option<(DiffKind, PresenceUser)> {
        let user_id = entry.user_id;
        let joined = !self.users.contains_key(&user_id);
        let user = self
            .users
            .entry(user_id)
            .or_insert_with(|| UserPresence { name: entry.name.clone(), conns: BTreeMap::new() });
        if let Some(old) = user.conns.get(&entry.conn)
            && (old.version >= entry.version || old.meta == entry.meta)
        {
            return None;
        }
        self.owner_of.insert(entry.conn.clone(), user_id);
        user.conns.insert(entry.conn.clone(), entry);
        let kind = if joined { DiffKind::Join } else { DiffKind::Update };
        Some((kind, to_wire(user_id, user)))
    }

    /// Removes a connection; returns the diff to send, if it was here.
    pub fn remove(&mut self, conn: &str) -> Option<(DiffKind, PresenceUser)> {
        let user_id = self.owner_of.remove(conn)?;
        let user = self.users.get_mut(&user_id)?;
        user.conns.remove(conn);
        if user.conns.is_empty() {
            let user = self.users.remove(&user_id)?;
            return Some((DiffKind::Leave, to_wire(user_id, &user)));
        }
        Some((DiffKind::Update, to_wire(user_id, user)))
    }

    pub fn snapshot(&self) -> Vec<PresenceUser> {
        let mut users: Vec<_> = self.users.iter().map(|(id, u)| to_wire(*id, u)).collect();
        users.sort_by(|a, b| a.name.cmp(&b.name).then(a.user_id.cmp(&b.user_id)));
        users
    }

    /// Instances other than `me` holding connections here.
    pub fn other_instances(&self, me: &str) -> HashSet<String> {
        self.users.values().flat_map(|u| u.conns.values()).map(|c| c.instance.clone()).filter(|i| i != me).collect()
    }

    /// The connections held by `instance`.
    pub fn conns_of(&self, instance: &str) -> Vec<String> {
        self.users
            .values()
            .flat_map(|u| u.conns.values())
            .filter(|c| c.instance == instance)
            .map(|c| c.conn.clone())
            .collect()
    }
}

fn to_wire(user_id: UserId, user: &UserPresence) -> PresenceUser {
    PresenceUser {
        user_id,
        name: user.name.clone(),
        conns: user.conns.values().map(|c| PresenceConn { conn: c.conn.clone(), meta: c.meta.clone() }).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(conn: &str, user: UserId, meta: Value, version: u64) -> ConnEntry {
        ConnEntry { conn: conn.into(), instance: "i".into(), user_id: user, name: "Ann".into(), meta, version }
    }

    #[test]
    fn two_tabs_are_one_user_and_meta_changes_are_updates() {
        let mut view = PresenceView::default();
        let ann = UserId::new();
        assert_eq!(view.upsert(entry("a", ann, json!({}), 1)).unwrap().0, DiffKind::Join);
        let (kind, user) = view.upsert(entry("b", ann, json!({}), 1)).unwrap();
        assert_eq!((kind, user.conns.len()), (DiffKind::Update, 2));
        assert_eq!(view.snapshot().len(), 1);
        assert_eq!(view.upsert(entry("a", ann, json!({"focus": "x"}), 2)).unwrap().0, DiffKind::Update);
        assert!(view.upsert(entry("a", ann, json!({"focus": "old"}), 1)).is_none(), "stale version ignored");
        assert_eq!(view.remove("a").unwrap().0, DiffKind::Update);
        assert_eq!(view.remove("b").unwrap().0, DiffKind::Leave);
        assert!(view.remove("b").is_none());
        assert!(view.snapshot().is_empty());
    }
}
