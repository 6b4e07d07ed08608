//! Signing key administration: list, rotate, export, retire.

use super::{event, Actor, AdminError, AdminResult};
use charter_core::digest::SealingKey;
use charter_core::keys::{openedx_jwk_set, KeyRing, KeyState, SigningAlgorithm, SigningKey};
use charter_store::Store;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    pub kid: String,
    pub alg: SigningAlgorithm,
    pub state: String,
    pub created_at: i64,
    pub activates_at: i64,
    pub retired_at: Option<i64>,
}

async fn ring(store: &dyn Store, sealing: &SealingKey) -> AdminResult<KeyRing> {
    let mut keys = Vec::new();
    for s in store.keys().await? {
        keys.push(SigningKey::open(&s, sealing).map_err(|e| AdminError::Crypto(e.to_string()))?);
    }
    Ok(KeyRing::new(keys))
}

pub async fn list(store: &dyn Store, sealing: &SealingKey, now: charter_core::time::UnixTime, max_ttl: i64) -> AdminResult<Vec<KeyView>> {
    let ring = ring(store, sealing).await?;
    Ok(ring
        .keys()
        .iter()
        .map(|k| KeyView {
            kid: k.kid.clone(),
            alg: k.alg,
            state: ring.state(&k.kid, now, max_ttl).unwrap_or(KeyState::Unpublished).to_string(),
            created_at: k.created_at.0,
            activates_at: k.activates_at.0,
            retired_at: k.retired_at.map(|t| t.0),
        })
        .collect())
}

/// Makes the next key: published at once, signing after `delay` seconds.
pub async fn rotate(
    store: &dyn Store,
    actor: &Actor,
    sealing: &SealingKey,
    alg: SigningAlgorithm,
    delay: i64,
) -> AdminResult<KeyView> {
    if delay < 0 {
        return Err(AdminError::Invalid("the delay must not be negative".into()));
    }
    // The newest key always wins: activate strictly after every existing key,
    // so two keys never tie for "the signer".
    let latest = store.keys().await?.iter().map(|k| k.activates_at).max();
    let activates = match latest {
        Some(l) if l >= actor.now.plus(delay) => l.plus(1),
        _ => actor.now.plus(delay),
    };
    make_key(store, actor, sealing, alg, activates).await
}

async fn make_key(
    store: &dyn Store,
    actor: &Actor,
    sealing: &SealingKey,
    alg: SigningAlgorithm,
    activates: charter_core::time::UnixTime,
) -> AdminResult<KeyView> {
    let (_k, stored) =
        SigningKey::generate(alg, sealing, actor.now, activates).map_err(|e| AdminError::Crypto(e.to_string()))?;
    let rotated = event(actor, "key.rotated", None, None, serde_json::json!({"kid": stored.kid, "alg": alg, "activates_at": activates.0}));
    store.insert_key_audited(&stored, Some(&rotated)).await?;
    Ok(KeyView {
        kid: stored.kid,
        alg,
        state: if activates > actor.now { "pending".into() } else { "signing".into() },
        created_at: actor.now.0,
        activates_at: activates.0,
        retired_at: None,
    })
}

/// The published public keys: as a JWKS, or as Open edX's `JWT_PUBLIC_SIGNING_JWK_SET` value.
pub async fn export(
    store: &dyn Store,
    sealing: &SealingKey,
    now: charter_core::time::UnixTime,
    max_ttl: i64,
    openedx: bool,
) -> AdminResult<serde_json::Value> {
    let ring = ring(store, sealing).await?;
    Ok(if openedx { openedx_jwk_set(&ring, now, max_ttl) } else { ring.jwks(now, max_ttl) })
}

/// Withdraws a key at once (e.g. compromised): it neither signs nor is published.
///
/// Retiring the key that signs now would hand signing back to an older key
/// that verifiers may already have dropped, or to none: so a successor of the
/// same algorithm is made first, signing at once (no publish-first delay: a
/// compromised key must stop now). Returns that successor, if one was made.
pub async fn retire(store: &dyn Store, actor: &Actor, sealing: &SealingKey, kid: &str) -> AdminResult<Option<KeyView>> {
    let ring = ring(store, sealing).await?;
    let key = ring.find(kid).ok_or_else(|| AdminError::NotFound(format!("no key '{kid}'")))?;
    let is_signer = ring.signer(actor.now).is_some_and(|s| s.kid == kid);
    let newer_exists = ring.keys().iter().any(|k| k.retired_at.is_none() && k.activates_at > key.activates_at);
    let successor = if is_signer && !newer_exists {
        // Signs from now: the key being retired is gone a moment later, so no tie remains.
        Some(make_key(store, actor, sealing, key.alg, actor.now).await?)
    } else {
        None
    };
    let retired = event(actor, "key.retired", None, None, serde_json::json!({"kid": kid, "successor": successor.as_ref().map(|k| k.kid.clone())}));
    store.retire_key_audited(kid, actor.now, Some(&retired)).await.map_err(|e| match e {
        charter_store::StoreError::NotFound(_) => AdminError::NotFound(format!("no key '{kid}'")),
        other => other.into(),
    })?;
    Ok(successor)
}
