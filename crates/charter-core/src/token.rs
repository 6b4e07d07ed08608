//! Minting access tokens from a decided grant: a signed JWT or an opaque value.

use crate::claims::{email_verified, user_claims, AccessTokenClaims};
use crate::client::{GrantType, TokenFormat};
use crate::config::TokenSettings;
use crate::digest::DigestKey;
use crate::filter::Filter;
use crate::grant::AccessGrant;
use crate::jws::sign_compact;
use crate::keys::{KeyError, KeyRing};
use crate::scope::ScopeSet;
use crate::time::UnixTime;
use serde::Serialize;

/// An access token as stored, found by `id`: a JWT's `jti`, or the first half of an
/// opaque token (`<id><secret>`, see [`split_opaque`]), whose second half must match `digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    pub id: String,
    pub digest: Option<[u8; 32]>,
    pub format: TokenFormat,
    pub application_id: String,
    pub client_id: String,
    pub account_id: i64,
    pub scopes: ScopeSet,
    pub filters: Vec<Filter>,
    pub grant_type: GrantType,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
}

/// The token the client receives and the record the server keeps.
pub struct MintedToken {
    pub access_token: String,
    pub record: AccessTokenRecord,
}

impl std::fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedToken").field("access_token", &"[redacted]").field("record", &self.record).finish()
    }
}

/// RFC 6749 §5.1 successful response. (No `Debug`: it holds the token.)
#[derive(Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// OpenID Connect: when the grant carried the `openid` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

pub fn mint(
    grant: &AccessGrant,
    keys: &KeyRing,
    digest_key: &DigestKey,
    settings: &TokenSettings,
    now: UnixTime,
) -> Result<MintedToken, KeyError> {
    let id = crate::secret::generate_ordered_id(now)?;
    let app = &grant.application;
    let (access_token, digest) = match grant.format {
        TokenFormat::Opaque => {
            // Selector and verifier: the id finds the row through an index that grows
            // in time order; the secret is checked against its keyed digest.
            let secret = crate::secret::generate_secret()?;
            let d = digest_key.digest(secret.as_bytes());
            (format!("{id}{secret}"), Some(d))
        }
        TokenFormat::Jwt => {
            let key = keys.signer(now).ok_or(KeyError::NoActiveKey)?;
            let claims = jwt_claims(grant, &id, settings);
            (sign_compact(key, &claims)?, None)
        }
    };
    Ok(MintedToken {
        access_token,
        record: AccessTokenRecord {
            id,
            digest,
            format: grant.format,
            application_id: app.id.clone(),
            client_id: app.client_id.as_str().to_owned(),
            account_id: grant.subject.id,
            scopes: grant.scopes.clone(),
            filters: grant.filters.clone(),
            grant_type: grant.grant_type,
            issued_at: grant.issued_at,
            expires_at: grant.expires_at,
            revoked_at: None,
        },
    })
}

pub fn jwt_claims(grant: &AccessGrant, jti: &str, settings: &TokenSettings) -> AccessTokenClaims {
    let app = &grant.application;
    let mut scopes = grant.scopes.clone();
    // Open edX adds user_id to the JWT scopes of password applications.
    if app.primary_grant() == GrantType::Password {
        if let Ok(uid) = crate::scope::ScopeName::parse("user_id") {
            scopes.insert(uid);
        }
    }
    let u = user_claims(&scopes, &grant.subject);
    AccessTokenClaims {
        iss: settings.issuer.clone(),
        sub: grant.subject.anonymous_id.clone(),
        aud: settings.audience.clone(),
        exp: grant.expires_at.0,
        iat: grant.issued_at.0,
        jti: jti.to_owned(),
        client_id: app.client_id.as_str().to_owned(),
        scope: scopes.to_space_separated(),
        scopes: scopes.to_vec(),
        filters: grant.filters.iter().map(|f| f.to_string()).collect(),
        is_restricted: app.restricted,
        version: settings.jwt_version.clone(),
        preferred_username: grant.subject.username.clone(),
        grant_type: app.primary_grant().openedx_name().to_owned(),
        email_verified: email_verified(&grant.subject),
        user_id: u.user_id,
        email: u.email,
        name: u.name,
        given_name: u.given_name,
        family_name: u.family_name,
        administrator: u.administrator,
        superuser: u.superuser,
    }
}

pub fn response(minted: &MintedToken, grant: &AccessGrant, now: UnixTime) -> TokenResponse {
    TokenResponse {
        access_token: minted.access_token.clone(),
        token_type: grant.response_type.as_str(),
        expires_in: now.until(grant.expires_at),
        scope: grant.scopes.to_space_separated(),
        refresh_token: None,
        id_token: None,
    }
}

/// Length of the id half of an opaque token (32 hex characters).
pub const OPAQUE_ID_LEN: usize = 32;
/// Length of the secret half (32 random bytes, base64url).
pub const OPAQUE_SECRET_LEN: usize = 43;

/// Splits an opaque access token into its id and its secret, if it has that shape.
pub fn split_opaque(token: &str) -> Option<(&str, &str)> {
    if token.len() != OPAQUE_ID_LEN + OPAQUE_SECRET_LEN || !token.is_ascii() {
        return None;
    }
    let (id, secret) = token.split_at(OPAQUE_ID_LEN);
    let id_ok = id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let secret_ok = secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some((id, secret))
}

/// Whether `secret` is the secret half of the stored opaque token (constant time).
pub fn opaque_secret_matches(record: &AccessTokenRecord, secret: &str, digest_key: &DigestKey) -> bool {
    match (&record.format, &record.digest) {
        (TokenFormat::Opaque, Some(d)) => digest_key.verify(secret.as_bytes(), d),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_tokens_split_into_id_and_secret() {
        let id = "0123456789abcdef0123456789abcdef";
        let secret = "A".repeat(43);
        let token = format!("{id}{secret}");
        assert_eq!(split_opaque(&token), Some((id, secret.as_str())));
        assert_eq!(split_opaque(&token[1..]), None);
        assert_eq!(split_opaque(&format!("{}{}", id.to_uppercase(), secret)), None);
        assert_eq!(split_opaque(&format!("{id}{}!", "A".repeat(42))), None);
        assert_eq!(split_opaque("a.b.c"), None);
    }
}
