//! Topic names and who may subscribe to them. [`KINDS`] is the one registration point: a later
//! issue adds a topic kind by adding a line here with the permission (from the role matrix in
//! `auth/roles.rs`) a member needs to follow it.
//!
//! A topic is `<kind>` or `<kind>:<id>` inside one workspace; the workspace is part of every
//! subscription, never of the topic string, so two tenants' `inbox` topics are different rooms.

use crate::auth::roles::{Permission, Role};

/// Whether a kind takes an id (`campaign:<id>`) or stands alone (`inbox`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Single,
    WithId,
}

/// A registered topic kind and the permission needed to subscribe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicKind {
    pub name: &'static str,
    pub shape: Shape,
    pub permission: Permission,
}

/// Every topic kind the hub serves. Add new kinds here.
pub const KINDS: &[TopicKind] = &[
    TopicKind { name: "workspace", shape: Shape::Single, permission: Permission::ViewWorkspace },
    TopicKind { name: "campaign", shape: Shape::WithId, permission: Permission::WatchCampaigns },
    TopicKind { name: "crusade", shape: Shape::WithId, permission: Permission::WatchCampaigns },
    TopicKind { name: "grid", shape: Shape::Single, permission: Permission::WatchCampaigns },
    TopicKind { name: "ticket", shape: Shape::WithId, permission: Permission::WatchInbox },
    TopicKind { name: "inbox", shape: Shape::Single, permission: Permission::WatchInbox },
    TopicKind { name: "board", shape: Shape::WithId, permission: Permission::WatchBoards },
    TopicKind { name: "import", shape: Shape::WithId, permission: Permission::WatchImports },
];

/// The longest topic string accepted.
pub const MAX_TOPIC_LEN: usize = 100;

/// A topic string that names a registered kind with a well-formed id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    pub kind: &'static TopicKind,
    pub name: String,
}

/// Why a subscription is refused; the code goes into the error frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No such topic kind, a malformed id, or a workspace the caller is not in: all look alike.
    NotFound,
    /// The caller's role may not follow this kind.
    Forbidden,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NotFound => "topic_not_found",
            Refusal::Forbidden => "forbidden",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::NotFound => "No such topic in this workspace.",
            Refusal::Forbidden => "Your role may not follow this topic.",
        }
    }
}

impl Topic {
    pub fn parse(raw: &str) -> Result<Self, Refusal> {
        if raw.len() > MAX_TOPIC_LEN {
            return Err(Refusal::NotFound);
        }
        let (kind_name, id) = match raw.split_once(':') {
            Some((k, id)) => (k, Some(id)),
            None => (raw, None),
        };
        let kind = KINDS.iter().find(|k| k.name == kind_name).ok_or(Refusal::NotFound)?;
        let well_formed = match (kind.shape, id) {
            (Shape::Single, None) => true,
            (Shape::WithId, Some(id)) => {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }
            _ => false,
        };
        if !well_formed {
            return Err(Refusal::NotFound);
        }
        Ok(Self { kind, name: raw.to_owned() })
    }

    /// Whether a member with `role` may follow this topic.
    pub fn authorize(&self, role: Role) -> Result<(), Refusal> {
        if role.allows(self.kind.permission) { Ok(()) } else { Err(Refusal::Forbidden) }
    }
}

/// The kind part of a topic string, for metrics labels (`campaign` for `campaign:7`).
pub fn kind_label(topic: &str) -> &'static str {
    let name = topic.split_once(':').map_or(topic, |(k, _)| k);
    KINDS.iter().find(|k| k.name == name).map_or("other", |k| k.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_registered_kinds_only() {
        assert_eq!(Topic::parse("campaign:42").unwrap().kind.name, "campaign");
        assert_eq!(Topic::parse("inbox").unwrap().kind.name, "inbox");
        for bad in ["campaign", "inbox:1", "nope:1", "campaign:", "campaign:a b", "campaign:1:2"] {
            assert_eq!(Topic::parse(bad), Err(Refusal::NotFound), "{bad}");
        }
    }

    #[test]
    fn roles_gate_kinds() {
        let inbox = Topic::parse("inbox").unwrap();
        assert_eq!(inbox.authorize(Role::Viewer), Err(Refusal::Forbidden));
        assert!(inbox.authorize(Role::Agent).is_ok());
        assert_eq!(Topic::parse("import:1").unwrap().authorize(Role::Agent), Err(Refusal::Forbidden));
        assert!(Topic::parse("workspace").unwrap().authorize(Role::Viewer).is_ok());
    }
}
