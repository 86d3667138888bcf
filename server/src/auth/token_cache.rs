//! A short-lived in-process cache of API-token lookups: token hash → the token's user, and the
//! token's role in its workspace. An integration publishing hundreds of requests a second then
//! costs no database round trip per request (the hub's publish endpoint measures this).
//!
//! Never wrong for longer than [`TTL`]:
//! - entries expire [`TTL`] after they were read from the database, so a change made on
//!   another instance (or directly in the database) takes effect within [`TTL`];
//! - on this instance, revoking a token, changing a role or removing a member clears the
//!   cache ([`TokenCache::invalidate`]) after the change commits, and a lookup that raced with
//!   such a change is not cached (the generation check), so it takes effect at once.
//!
//! Only API tokens are cached — sessions (cookies) always read the database — and only
//! positive answers; an unknown or revoked token always reaches the database.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use switchboard_sender::{UserId, WorkspaceId};
use uuid::Uuid;

use super::guard::UserSummary;
use super::roles::Role;

/// How long a cached lookup is trusted.
pub const TTL: Duration = Duration::from_secs(5);
/// Entries kept at most; past this the cache starts over.
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone, Debug)]
pub struct CachedToken {
    pub workspace_id: WorkspaceId,
    pub token_id: Uuid,
    pub user: UserSummary,
}

#[derive(Default)]
pub struct TokenCache {
    tokens: DashMap<Vec<u8>, (Instant, CachedToken)>,
    roles: DashMap<(WorkspaceId, UserId), (Instant, Role)>,
    generation: AtomicU64,
}

impl TokenCache {
    /// Read before a database lookup; pass to `put_*` so a lookup that raced with an
    /// invalidation is not kept.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn token(&self, token_hash: &[u8]) -> Option<CachedToken> {
        let hit = self.tokens.get(token_hash).filter(|e| e.0.elapsed() < TTL).map(|e| e.1.clone());
        if hit.is_none() {
            self.tokens.remove_if(token_hash, |_, e| e.0.elapsed() >= TTL);
        }
        hit
    }

    pub fn put_token(&self, generation: u64, token_hash: Vec<u8>, token: CachedToken) {
        if self.tokens.len() >= MAX_ENTRIES {
            self.tokens.clear();
        }
        self.tokens.insert(token_hash, (Instant::now(), token));
        self.drop_if_raced(generation);
    }

    pub fn role(&self, workspace_id: WorkspaceId, user_id: UserId) -> Option<Role> {
        self.roles.get(&(workspace_id, user_id)).filter(|e| e.0.elapsed() < TTL).map(|e| e.1)
    }

    pub fn put_role(&self, generation: u64, workspace_id: WorkspaceId, user_id: UserId, role: Role) {
        if self.roles.len() >= MAX_ENTRIES {
            self.roles.clear();
        }
        self.roles.insert((workspace_id, user_id), (Instant::now(), role));
        self.drop_if_raced(generation);
    }

    /// Forgets everything; call after a revocation or membership change has committed.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.tokens.clear();
        self.roles.clear();
    }

    /// An invalidation since `generation` may have been missed by the entry just stored.
    fn drop_if_raced(&self, generation: u64) {
        if self.generation() != generation {
            self.tokens.clear();
            self.roles.clear();
        }
    }
}
