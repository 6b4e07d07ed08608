//! Administration: the operations behind the CLI today and the admin API tomorrow.
//!
//! Each operation validates its input with the engine's types, changes the
//! store, and records an audit event naming the actor. Outputs are wire
//! types (`*View`), apart from the store's rows.

pub mod accounts;
pub mod applications;
pub mod catalogue;
pub mod keys;
pub mod observations;
pub mod secrets;

use charter_core::audit::{AuditEvent, Outcome};
use charter_core::time::UnixTime;
use charter_store::{Store, StoreError, WriteBatch};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Crypto(String),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => AdminError::NotFound(m),
            StoreError::Conflict(m) => AdminError::Conflict(m),
            other => AdminError::Store(other),
        }
    }
}

impl From<charter_core::digest::KeyMaterialError> for AdminError {
    fn from(e: charter_core::digest::KeyMaterialError) -> Self {
        AdminError::Crypto(e.to_string())
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

/// Who is acting, when: passed to every operation.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub now: UnixTime,
}

/// The audit event of an administrative change, written by the store in the
/// change's own transaction (`*_audited`): no change without its record.
pub(crate) fn event(
    actor: &Actor,
    action: &str,
    client_id: Option<&str>,
    account: Option<&str>,
    detail: serde_json::Value,
) -> AuditEvent {
    let mut e = AuditEvent::new(actor.now, actor.name.clone(), action, Outcome::Success).detail(detail);
    e.client_id = client_id.map(str::to_owned);
    e.account = account.map(str::to_owned);
    e
}

/// An audit event that records no change of its own.
pub(crate) async fn audit(
    store: &dyn Store,
    actor: &Actor,
    action: &str,
    client_id: Option<&str>,
    account: Option<&str>,
    detail: serde_json::Value,
) -> AdminResult<()> {
    let e = event(actor, action, client_id, account, detail);
    store.write_batch(&WriteBatch { audit: vec![e], ..Default::default() }).await?;
    Ok(())
}
