//! RFC 6749 §4.3: the resource owner password credentials grant, as Open edX's
//! mobile apps use it. Only for applications configured for it.

use super::{choose_format, token_filters, AccessGrant, Endpoint, RequestedTokenType};
use crate::client::{Account, ClientRecord, GrantType, Status};
use crate::config::TokenSettings;
use crate::error::OAuthError;
use crate::scope_policy::ScopePolicy;
use crate::time::UnixTime;

pub struct PasswordRequest<'a> {
    pub scope: Option<&'a str>,
    pub token_type: RequestedTokenType,
    pub endpoint: Endpoint,
}

/// Checks that the client may use the grant at all, before any password is looked at.
pub fn check_client(client: &ClientRecord) -> Result<(), OAuthError> {
    if !client.application.allows_grant(GrantType::Password) {
        return Err(OAuthError::unauthorized_client("the application is not allowed the password grant"));
    }
    Ok(())
}

/// Decides a password request whose user the server has authenticated.
pub fn decide(
    client: &ClientRecord,
    user: &Account,
    req: &PasswordRequest<'_>,
    policy: &ScopePolicy,
    settings: &TokenSettings,
    now: UnixTime,
) -> Result<AccessGrant, OAuthError> {
    check_client(client)?;
    if user.status != Status::Active {
        return Err(OAuthError::invalid_grant("the account is disabled"));
    }
    let app = &client.application;
    let scopes = policy.resolve(app, req.scope, GrantType::Password)?;
    let (format, response_type) = choose_format(app, req.endpoint, req.token_type);
    // Open edX: restricted applications' opaque tokens are issued already expired.
    let expires_at = if app.restricted && format == crate::client::TokenFormat::Opaque {
        UnixTime::EPOCH
    } else {
        now.plus(settings.access_token_ttl)
    };
    Ok(AccessGrant {
        application: app.clone(),
        subject: user.clone(),
        scopes,
        filters: token_filters(app),
        grant_type: GrantType::Password,
        format,
        response_type,
        issued_at: now,
        expires_at,
    })
}
