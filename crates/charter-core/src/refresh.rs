//! Refresh tokens: issued with an access token, rotated on every use, and
//! grouped in families so that the reuse of a rotated token revokes them all.

use crate::client::{GrantType, Status};
use crate::digest::DigestKey;
use crate::filter::Filter;
use crate::grant::AccessGrant;
use crate::scope::ScopeSet;
use crate::time::UnixTime;

/// A refresh token as stored (only the keyed digest of its secret half).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub id: String,
    pub digest: [u8; 32],
    /// Shared by every token descending from one grant.
    pub family_id: String,
    /// The access token issued together with this one.
    pub access_token_id: String,
    pub application_id: String,
    pub client_id: String,
    pub account_id: i64,
    /// The scopes of the original grant: a refresh may narrow, never widen them.
    pub scopes: ScopeSet,
    pub filters: Vec<Filter>,
    /// The grant that started the family.
    pub grant_type: GrantType,
    pub issued_at: UnixTime,
    pub expires_at: Option<UnixTime>,
    pub rotated_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
}

/// A stored refresh token with the state of what it depends on.
#[derive(Debug, Clone)]
pub struct RefreshTokenState {
    pub record: RefreshTokenRecord,
    pub application_status: Status,
    pub account_status: Status,
    pub username: String,
}

/// A refresh token to hand out, and its record.
pub struct MintedRefresh {
    pub value: String,
    pub record: RefreshTokenRecord,
}

impl std::fmt::Debug for MintedRefresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedRefresh").field("value", &"[redacted]").field("record", &self.record).finish()
    }
}

/// Makes the refresh token that goes with the access token `access_token_id`.
/// `family` continues a family (rotation); `None` starts one. `scopes` are the
/// family's (not the possibly narrowed scopes of this access token).
#[allow(clippy::too_many_arguments)]
pub fn mint(
    grant: &AccessGrant,
    access_token_id: &str,
    family: Option<&str>,
    scopes: &ScopeSet,
    original_grant: GrantType,
    ttl: Option<i64>,
    digest_key: &DigestKey,
    now: UnixTime,
) -> Result<MintedRefresh, crate::digest::KeyMaterialError> {
    let id = crate::secret::generate_ordered_id(now)?;
    let secret = crate::secret::generate_secret()?;
    let record = RefreshTokenRecord {
        family_id: family.map(str::to_owned).unwrap_or_else(|| id.clone()),
        id: id.clone(),
        digest: digest_key.digest(secret.as_bytes()),
        access_token_id: access_token_id.to_owned(),
        application_id: grant.application.id.clone(),
        client_id: grant.application.client_id.as_str().to_owned(),
        account_id: grant.subject.id,
        scopes: scopes.clone(),
        filters: grant.filters.clone(),
        grant_type: original_grant,
        issued_at: now,
        expires_at: ttl.map(|t| now.plus(t)),
        rotated_at: None,
        revoked_at: None,
    };
    Ok(MintedRefresh { value: format!("{id}{secret}"), record })
}

/// Whether `secret` is the secret half of the stored refresh token (constant time).
pub fn secret_matches(record: &RefreshTokenRecord, secret: &str, digest_key: &DigestKey) -> bool {
    digest_key.verify(secret.as_bytes(), &record.digest)
}
