//! Client secrets: several live at once, each with an optional expiry, so a
//! secret can be rotated with overlap. A secret is shown once, when made.

use super::{event, Actor, AdminError, AdminResult};
use charter_core::client::ClientSecret;
use charter_core::digest::DigestKey;
use charter_core::time::UnixTime;
use charter_store::Store;
use serde::Serialize;

/// (No `Debug`: it holds the secret.)
#[derive(Clone, Serialize)]
pub struct CreatedSecret {
    pub client_id: String,
    pub secret_id: String,
    /// The only time the secret is shown.
    pub client_secret: String,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretView {
    pub secret_id: String,
    pub label: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub live: bool,
}

pub async fn issue_secret(
    store: &dyn Store,
    actor: &Actor,
    client_id: &str,
    expires_in: Option<i64>,
    label: Option<String>,
    digest: &DigestKey,
) -> AdminResult<CreatedSecret> {
    if expires_in.is_some_and(|s| s <= 0) {
        return Err(AdminError::Invalid("a secret's lifetime must be positive".into()));
    }
    let value = charter_core::secret::generate_secret()?;
    let secret = ClientSecret {
        id: uuid::Uuid::new_v4().to_string(),
        digest: digest.digest(value.as_bytes()),
        label,
        created_at: actor.now,
        expires_at: expires_in.map(|s| actor.now.plus(s)),
        revoked_at: None,
    };
    let created = event(actor, "secret.created", Some(client_id), None, serde_json::json!({"secret_id": secret.id, "expires_at": secret.expires_at}));
    store.add_secret_audited(client_id, &secret, Some(&created)).await.map_err(|e| match e {
        charter_store::StoreError::NotFound(_) => AdminError::NotFound(format!("no application '{client_id}'")),
        other => other.into(),
    })?;
    Ok(CreatedSecret {
        client_id: client_id.to_owned(),
        secret_id: secret.id,
        client_secret: value,
        expires_at: secret.expires_at.map(|t| t.0),
    })
}

pub async fn list(store: &dyn Store, client_id: &str, now: UnixTime) -> AdminResult<Vec<SecretView>> {
    super::applications::load(store, client_id).await?;
    Ok(store
        .list_secrets(client_id)
        .await?
        .into_iter()
        .map(|s| SecretView {
            live: s.is_live(now),
            secret_id: s.id,
            label: s.label,
            created_at: s.created_at.0,
            expires_at: s.expires_at.map(|t| t.0),
            revoked_at: s.revoked_at.map(|t| t.0),
        })
        .collect())
}

pub async fn revoke(store: &dyn Store, actor: &Actor, client_id: &str, secret_id: &str) -> AdminResult<()> {
    let revoked = event(actor, "secret.revoked", Some(client_id), None, serde_json::json!({"secret_id": secret_id}));
    store.revoke_secret_audited(client_id, secret_id, actor.now, Some(&revoked)).await.map_err(|e| match e {
        charter_store::StoreError::NotFound(_) => AdminError::NotFound(format!("no secret '{secret_id}' of '{client_id}'")),
        other => other.into(),
    })
}

/// Makes a secret expire `in_seconds` from now (0: at once): the old half of a rotation.
pub async fn expire(store: &dyn Store, actor: &Actor, client_id: &str, secret_id: &str, in_seconds: i64) -> AdminResult<()> {
    if in_seconds < 0 {
        return Err(AdminError::Invalid("the delay must not be negative".into()));
    }
    let at = actor.now.plus(in_seconds);
    let set = event(actor, "secret.expiry_set", Some(client_id), None, serde_json::json!({"secret_id": secret_id, "expires_at": at.0}));
    store.set_secret_expiry_audited(client_id, secret_id, Some(at), Some(&set)).await.map_err(|e| match e {
        charter_store::StoreError::NotFound(_) => AdminError::NotFound(format!("no secret '{secret_id}' of '{client_id}'")),
        other => other.into(),
    })
}

/// Rotation in one step: a new secret now, and every other live secret
/// expiring after `overlap` seconds, so deployed clients can move over.
pub async fn rotate(
    store: &dyn Store,
    actor: &Actor,
    client_id: &str,
    overlap: i64,
    digest: &DigestKey,
) -> AdminResult<CreatedSecret> {
    let old: Vec<_> = store.list_secrets(client_id).await?.into_iter().filter(|s| s.is_live(actor.now)).collect();
    let created = issue_secret(store, actor, client_id, None, Some("rotated".into()), digest).await?;
    for s in old {
        let at = actor.now.plus(overlap.max(0));
        if s.expires_at.is_none_or(|e| e > at) {
            expire(store, actor, client_id, &s.id, overlap.max(0)).await?;
        }
    }
    Ok(created)
}
