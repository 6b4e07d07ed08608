//! Values that cross the storage boundary.

use charter_core::audit::AuditEvent;
use charter_core::observation::Observation;
use charter_core::client::{AccountKind, ClientRecord};
use charter_core::time::UnixTime;
use charter_core::token::AccessTokenRecord;

/// A new account. `id` is set only by importers keeping an existing numbering.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub id: Option<i64>,
    pub username: String,
    pub kind: AccountKind,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub anonymous_id: String,
    pub created_at: UnixTime,
}

/// Counters bumped by every change of the scope catalogue and of the signing keys,
/// so a node knows, in the same round trip as the client lookup, when to reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Revisions {
    pub catalogue: i64,
    pub keys: i64,
}

#[derive(Debug, Clone)]
pub struct ClientLookup {
    pub record: ClientRecord,
    pub revisions: Revisions,
}

/// A revocation of one access token (by id), recorded in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub token_id: String,
    pub at: UnixTime,
}

/// Writes that must land together, in one transaction.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    pub tokens: Vec<AccessTokenRecord>,
    pub revocations: Vec<Revocation>,
    pub audit: Vec<AuditEvent>,
    pub observations: Vec<Observation>,
    pub refresh_tokens: Vec<charter_core::refresh::RefreshTokenRecord>,
}

impl WriteBatch {
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
            && self.revocations.is_empty()
            && self.audit.is_empty()
            && self.observations.is_empty()
            && self.refresh_tokens.is_empty()
    }
    pub fn append(&mut self, other: WriteBatch) {
        self.tokens.extend(other.tokens);
        self.revocations.extend(other.revocations);
        self.audit.extend(other.audit);
        self.observations.extend(other.observations);
        self.refresh_tokens.extend(other.refresh_tokens);
    }
}

/// Which audit events to read. Every field narrows; `limit` caps the count.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub client_id: Option<String>,
    /// Exact, case-sensitive prefix of the action (no wildcards), e.g. `token.`.
    pub action_prefix: Option<String>,
    /// Events at or after this time.
    pub since: Option<UnixTime>,
    /// Events at or before this time.
    pub until: Option<UnixTime>,
    /// At most this many events; 0 means no cap.
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct StoredAuditEvent {
    pub seq: i64,
    pub event: AuditEvent,
}

/// Which observations to aggregate: one application's, in `[since, until]`.
#[derive(Debug, Clone)]
pub struct ObservationQuery {
    pub client_id: String,
    pub since: UnixTime,
    pub until: UnixTime,
}
