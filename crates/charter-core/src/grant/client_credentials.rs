//! RFC 6749 §4.4: the client credentials grant.

use super::{choose_format, token_filters, AccessGrant, Endpoint, RequestedTokenType};
use crate::client::{ClientRecord, ClientType, GrantType, TokenFormat};
use crate::config::TokenSettings;
use crate::error::OAuthError;
use crate::scope_policy::ScopePolicy;
use crate::time::UnixTime;

pub struct ClientCredentialsRequest<'a> {
    pub scope: Option<&'a str>,
    pub token_type: RequestedTokenType,
    pub endpoint: Endpoint,
}

/// Decides a client credentials request from an already authenticated client.
pub fn decide(
    client: &ClientRecord,
    req: &ClientCredentialsRequest<'_>,
    policy: &ScopePolicy,
    settings: &TokenSettings,
    now: UnixTime,
) -> Result<AccessGrant, OAuthError> {
    let app = &client.application;
    // RFC 6749 §4.4: only confidential clients.
    if app.client_type != ClientType::Confidential {
        return Err(OAuthError::unauthorized_client("client_credentials requires a confidential client"));
    }
    if !app.allows_grant(GrantType::ClientCredentials) {
        return Err(OAuthError::unauthorized_client(
            "the application is not allowed the client_credentials grant",
        ));
    }
    let scopes = policy.resolve(app, req.scope, GrantType::ClientCredentials)?;
    let (format, response_type) = choose_format(app, req.endpoint, req.token_type);
    // Open edX: a restricted application's opaque tokens are issued already expired.
    let expires_at = if app.restricted && format == TokenFormat::Opaque {
        UnixTime::EPOCH
    } else {
        now.plus(settings.access_token_ttl)
    };
    Ok(AccessGrant {
        application: app.clone(),
        subject: client.owner.clone(),
        scopes,
        filters: token_filters(app),
        grant_type: GrantType::ClientCredentials,
        format,
        response_type,
        issued_at: now,
        expires_at,
    })
}
