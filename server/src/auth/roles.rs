//! Roles and what each may do. This matrix is the single source of truth for authorization;
//! handlers ask `Member::require(Permission)` (see `guard.rs`), never compare roles themselves.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A member's role in one workspace, from most to least powerful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "member_role", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Manager,
    Agent,
    Viewer,
}

/// Something a handler may need permission for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// See the workspace and its members.
    ViewWorkspace,
    /// Add, invite, re-role and remove members below owner.
    ManageMembers,
    /// Grant or take away the owner role.
    ManageOwners,
    /// Read the audit log.
    ViewAudit,
    /// Create and revoke one's own API tokens.
    ManageOwnTokens,
    /// See carrier accounts (never their secrets) and phone numbers.
    ViewCarrier,
    /// Add, change and delete carrier accounts and phone numbers, import numbers.
    ManageCarrier,
    /// Follow campaigns and crusades live (realtime topics `campaign:`, `crusade:`, `grid`).
    WatchCampaigns,
    /// Follow the inbox and tickets live (`inbox`, `ticket:`).
    WatchInbox,
    /// Follow pipeline boards live (`board:`).
    WatchBoards,
    /// Follow imports live (`import:`).
    WatchImports,
    /// Publish events on the realtime hub through the API (integrations, load tests).
    PublishEvents,
    /// See campaigns, crusades, their previews and counters, and leads.
    ViewCampaigns,
    /// Create, change, launch, pause and cancel campaigns and crusades; add and change leads.
    ManageCampaigns,
    /// See opt-outs, consent history, the DNC list and undeliverable numbers.
    ViewCompliance,
    /// Record opt-outs and DNC entries, mark revocations reviewed, import suppression lists.
    ManageCompliance,
    /// Remove an opt-out (re-opt-in by hand) or a DNC entry: owners and admins only, audited.
    LiftSuppression,
}

impl Role {
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match permission {
            ViewWorkspace | ManageOwnTokens | ViewCarrier | WatchCampaigns | WatchBoards | ViewCampaigns => true,
            WatchInbox | ViewCompliance => self != Viewer,
            ManageCampaigns | ManageCompliance => matches!(self, Owner | Admin | Manager),
            LiftSuppression => matches!(self, Owner | Admin),
            WatchImports => matches!(self, Owner | Admin | Manager),
            ManageMembers | ViewAudit | ManageCarrier | PublishEvents => matches!(self, Owner | Admin),
            ManageOwners => self == Owner,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owners_touch_owners_and_only_owner_admin_manage_members() {
        for role in [Role::Owner, Role::Admin, Role::Manager, Role::Agent, Role::Viewer] {
            assert_eq!(role.allows(Permission::ManageOwners), role == Role::Owner);
            assert_eq!(role.allows(Permission::ManageMembers), matches!(role, Role::Owner | Role::Admin));
            assert_eq!(role.allows(Permission::ViewAudit), matches!(role, Role::Owner | Role::Admin));
            assert!(role.allows(Permission::ViewWorkspace));
            assert!(role.allows(Permission::ViewCarrier));
            assert_eq!(role.allows(Permission::ManageCarrier), matches!(role, Role::Owner | Role::Admin));
        }
    }
}
