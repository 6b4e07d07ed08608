//! RFC 6749 §6: refreshing an access token. Rotation and reuse detection.

use super::{choose_format, AccessGrant, Endpoint, RequestedTokenType};
use crate::client::{Account, ClientRecord, GrantType, Status, TokenFormat};
use crate::config::TokenSettings;
use crate::error::OAuthError;
use crate::refresh::RefreshTokenState;
use crate::scope::ScopeSet;
use crate::scope_policy::ScopePolicy;
use crate::time::UnixTime;

pub struct RefreshRequest<'a> {
    pub scope: Option<&'a str>,
    pub token_type: RequestedTokenType,
    pub endpoint: Endpoint,
}

/// What to do with a presented refresh token.
#[derive(Debug)]
pub enum RefreshDecision {
    /// Issue this grant and rotate the token.
    Rotate(Box<AccessGrant>),
    /// The token was already rotated: someone holds a copy. Revoke its family.
    Reused { family_id: String },
}

/// Decides a refresh, given the stored token (found and its secret verified by the caller).
pub fn decide(
    client: &ClientRecord,
    token: &RefreshTokenState,
    user: &Account,
    req: &RefreshRequest<'_>,
    policy: &ScopePolicy,
    settings: &TokenSettings,
    now: UnixTime,
) -> Result<RefreshDecision, OAuthError> {
    let app = &client.application;
    let r = &token.record;
    // RFC 6749 §10.4: bound to the client it was issued to.
    if r.client_id != app.client_id.as_str() {
        return Err(OAuthError::invalid_grant("the refresh token was not issued to this client"));
    }
    if !app.allows_grant(GrantType::RefreshToken) && !app.allows_grant(r.grant_type) {
        return Err(OAuthError::unauthorized_client("the application is not allowed to refresh tokens"));
    }
    if r.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the refresh token is revoked"));
    }
    if r.rotated_at.is_some() {
        return Ok(RefreshDecision::Reused { family_id: r.family_id.clone() });
    }
    if r.expires_at.is_some_and(|e| e <= now) {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    if token.account_status != Status::Active || user.status != Status::Active {
        return Err(OAuthError::invalid_grant("the account is disabled"));
    }
    // Narrow, never widen; and never beyond what the application may have today.
    let available = policy.available(app);
    let scopes = match req.scope {
        None => r.scopes.intersection(&available),
        Some(raw) => {
            let requested =
                ScopeSet::parse_space_separated(raw).map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
            let beyond = requested.difference(&r.scopes);
            if !beyond.is_empty() {
                return Err(OAuthError::invalid_scope(format!("a refresh cannot widen the scopes: {beyond}")));
            }
            let gone = requested.difference(&available);
            if !gone.is_empty() {
                return Err(OAuthError::invalid_scope(format!("the application is no longer allowed: {gone}")));
            }
            requested
        }
    };
    let (format, response_type) = choose_format(app, req.endpoint, req.token_type);
    let expires_at = if app.restricted && format == TokenFormat::Opaque {
        UnixTime::EPOCH
    } else {
        now.plus(settings.access_token_ttl)
    };
    Ok(RefreshDecision::Rotate(Box::new(AccessGrant {
        application: app.clone(),
        subject: user.clone(),
        scopes,
        filters: r.filters.clone(),
        grant_type: GrantType::RefreshToken,
        format,
        response_type,
        issued_at: now,
        expires_at,
    })))
}
