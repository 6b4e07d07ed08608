//! The token endpoint: one engine handler per grant.

use super::client_auth::{authenticate_client, commit_audit};
use crate::form::ProtocolForm;
use crate::oauth_response::unavailable;
use crate::state::AppState;
use charter_core::audit::{AuditEvent, Outcome};
use charter_core::client::ClientRecord;
use charter_core::error::OAuthError;
use charter_core::grant::client_credentials::{self, ClientCredentialsRequest};
use charter_core::grant::password::{self, PasswordRequest};
use charter_core::grant::refresh_token::{self, RefreshDecision, RefreshRequest};
use charter_core::refresh::RefreshTokenState;
use charter_core::token::split_opaque;
use crate::services::password::LoginError;
use charter_core::grant::{AccessGrant, Endpoint, RequestedTokenType};
use charter_core::time::UnixTime;
use charter_core::token::{self, TokenResponse};
use charter_store::WriteBatch;

pub async fn token(state: &AppState, form: &ProtocolForm, endpoint: Endpoint) -> Result<TokenResponse, OAuthError> {
    let now = state.clock.now();
    let grant_type = match form.params.require("grant_type") {
        Ok(g) => g,
        Err(e) => {
            refused_before_authentication(state, form.params.get("client_id"), form.source.clone(), &e, now).await?;
            return Err(e);
        }
    };
    // Failures of client authentication itself are audited inside.
    let client = authenticate_client(state, form, "token", now).await?;
    let requested_type = RequestedTokenType::from_request(form.params.get("token_type"), form.x_token_type.as_deref());
    let mut account_hint = None;
    let settings = &state.settings.tokens;
    let decided = match grant_type {
        "client_credentials" => {
            let catalogue = state.catalogue();
            let req = ClientCredentialsRequest { scope: form.params.get("scope"), token_type: requested_type, endpoint };
            client_credentials::decide(&client, &req, &catalogue.policy, settings, now).map(|g| {
                let refresh = if settings.refresh_for_client_credentials { Refresh::Start } else { Refresh::None };
                (g, refresh)
            })
        }
        "password" => {
            account_hint = form.params.get("username").map(|u| u.chars().filter(|c| !c.is_control()).take(150).collect::<String>());
            let req = PasswordRequest { scope: form.params.get("scope"), token_type: requested_type, endpoint };
            password_grant(state, &client, form, &req, now).await.map(|g| (g, Refresh::Start))
        }
        "refresh_token" => {
            let req = RefreshRequest { scope: form.params.get("scope"), token_type: requested_type, endpoint };
            refresh_grant(state, &client, form, &req, now).await
        }
        "authorization_code" => {
            let req = AuthorizationCodeRequest { token_type: requested_type, endpoint };
            code_grant(state, &client, form, &req, now).await
        }
        other => Err(OAuthError::unsupported_grant_type(format!(
            "unknown grant_type '{}'",
            other.chars().filter(|c| !c.is_control()).take(60).collect::<String>()
        ))),
    };
    let grant_label = metric_grant(grant_type);
    match decided {
        Ok((grant, refresh)) => issue(state, &client, grant, refresh, form, now, grant_label).await,
        Err(e) => {
            metrics::counter!("charter_tokens_total", "grant" => grant_label, "outcome" => e.code.as_str()).increment(1);
            let event = AuditEvent::new(now, actor(&client), "token.refused", Outcome::Failure)
                .client(client.application.client_id.as_str())
                .account(account_hint.unwrap_or_else(|| client.owner.username.clone()))
                .source(form.source.clone())
                .detail(serde_json::json!({ "error": e.code.as_str(), "description": e.description, "grant_type": grant_label }));
            commit_audit(state, event).await?;
            Err(e)
        }
    }
}

/// The password grant: throttled per account and per client address, the
/// password checked with Argon2id off the async threads. Every failure is the
/// same `invalid_grant` to the client.
async fn password_grant(
    state: &AppState,
    client: &ClientRecord,
    form: &ProtocolForm,
    req: &PasswordRequest<'_>,
    now: UnixTime,
) -> Result<AccessGrant, OAuthError> {
    password::check_client(client)?;
    let username = form.params.require("username")?;
    let secret = form.params.require("password")?;
    let ip = form.source.as_deref().and_then(|s| s.parse::<std::net::IpAddr>().ok());
    match crate::services::password::check_login(state, username, secret, ip, now).await {
        Ok(user) => {
            let catalogue = state.catalogue();
            password::decide(client, &user, req, &catalogue.policy, &state.settings.tokens, now)
        }
        Err(LoginError::Throttled) => Err(OAuthError::invalid_grant("too many failed logins; retry later")),
        Err(LoginError::Invalid) => Err(OAuthError::invalid_grant("invalid username or password")),
        Err(LoginError::Unavailable(e)) => Err(unavailable(&e)),
    }
}

/// Whether a refresh token goes with the access token.
enum Refresh {
    None,
    /// A new family (the password grant, or client_credentials when enabled).
    Start,
    /// The rotation of this token: the new one continues its family.
    Rotate(Box<RefreshTokenState>),
    /// A new family, for the redemption of this authorization code.
    Code(Box<charter_core::browser::CodeRecord>),
}

struct AuthorizationCodeRequest {
    token_type: RequestedTokenType,
    endpoint: Endpoint,
}

/// RFC 6749 §4.1.3: the code exchanged, once, by the client it was issued to, at
/// the same redirect URI, with the PKCE verifier (RFC 7636 §4.5) when it had a challenge.
async fn code_grant(
    state: &AppState,
    client: &ClientRecord,
    form: &ProtocolForm,
    req: &AuthorizationCodeRequest,
    now: UnixTime,
) -> Result<(AccessGrant, Refresh), OAuthError> {
    let app = &client.application;
    if !app.allows_grant(charter_core::client::GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client("the application is not allowed the authorization code grant"));
    }
    let value = form.params.require("code")?;
    let invalid = || OAuthError::invalid_grant("the authorization code is invalid, expired or already used");
    let (id, secret) = split_opaque(value).ok_or_else(invalid)?;
    let code = state.store.code_by_id(id).await.map_err(|e| unavailable(&e))?;
    let code = code.filter(|c| state.digest_key.verify(secret.as_bytes(), &c.digest)).ok_or_else(invalid)?;
    if code.client_id != app.client_id.as_str() {
        return Err(invalid());
    }
    if code.used_at.is_some() {
        // RFC 6749 §4.1.2: a code used twice revokes what it already issued.
        let n = state.store.revoke_code_tokens(&code.id, now).await.map_err(|e| unavailable(&e))?;
        tracing::warn!(client = %code.client_id, revoked = n, "an authorization code was presented twice; its tokens are revoked");
        let event = AuditEvent::new(now, actor(client), "authorization.code_reused", Outcome::Failure)
            .client(code.client_id.as_str())
            .detail(serde_json::json!({ "code": code.id, "revoked_tokens": n }));
        commit_audit(state, event).await?;
        return Err(invalid());
    }
    if code.expires_at <= now {
        return Err(invalid());
    }
    // RFC 6749 §4.1.3, strictly: the redirect URI of the authorization, always.
    if form.params.get("redirect_uri") != Some(code.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"));
    }
    match (&code.pkce, form.params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if challenge.verify(verifier) => {}
        (Some(_), _) => return Err(OAuthError::invalid_grant("the PKCE code_verifier does not match")),
        (None, Some(_)) => return Err(OAuthError::invalid_grant("the authorization request carried no code_challenge")),
        (None, None) => {}
    }
    let user = state.store.account_by_id(code.account_id).await.map_err(|e| unavailable(&e))?.ok_or_else(invalid)?;
    if user.status != charter_core::client::Status::Active {
        return Err(OAuthError::invalid_grant("the account is disabled"));
    }
    let (format, response_type) = charter_core::grant::choose_format(app, req.endpoint, req.token_type);
    let expires_at = if app.restricted && format == charter_core::client::TokenFormat::Opaque {
        UnixTime::EPOCH
    } else {
        now.plus(state.settings.tokens.access_token_ttl)
    };
    let grant = AccessGrant {
        application: app.clone(),
        subject: user,
        scopes: code.scopes.clone(),
        filters: charter_core::grant::token_filters(app),
        grant_type: charter_core::client::GrantType::AuthorizationCode,
        format,
        response_type,
        issued_at: now,
        expires_at,
    };
    Ok((grant, Refresh::Code(Box::new(code))))
}

/// The refresh token grant: the token found by its id half and its secret half
/// verified; rotated on use; a token used twice revokes its whole family.
async fn refresh_grant(
    state: &AppState,
    client: &ClientRecord,
    form: &ProtocolForm,
    req: &RefreshRequest<'_>,
    now: UnixTime,
) -> Result<(AccessGrant, Refresh), OAuthError> {
    let value = form.params.require("refresh_token")?;
    let unknown = || OAuthError::invalid_grant("the refresh token is invalid");
    let (id, secret) = split_opaque(value).ok_or_else(unknown)?;
    let found = state.store.refresh_token_by_id(id).await.map_err(|e| unavailable(&e))?;
    let token = found.filter(|t| charter_core::refresh::secret_matches(&t.record, secret, &state.digest_key)).ok_or_else(unknown)?;
    let user = state
        .store
        .account_by_id(token.record.account_id)
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or_else(unknown)?;
    let catalogue = state.catalogue();
    match refresh_token::decide(client, &token, &user, req, &catalogue.policy, &state.settings.tokens, now)? {
        RefreshDecision::Rotate(grant) => Ok((*grant, Refresh::Rotate(Box::new(token)))),
        RefreshDecision::Reused { family_id } => Err(revoke_reused_family(state, &family_id, now).await),
    }
}

/// A rotated refresh token came back: a copy is in someone else's hands. Revoke
/// everything descending from the grant (RFC 6819 §5.2.2.3).
async fn revoke_reused_family(state: &AppState, family_id: &str, now: UnixTime) -> OAuthError {
    match state.store.revoke_refresh_family(family_id, now).await {
        Ok(n) => {
            metrics::counter!("charter_refresh_reuse_total").increment(1);
            tracing::warn!(family = %family_id, revoked = n, "a rotated refresh token was presented again; its family is revoked");
            OAuthError::invalid_grant("the refresh token was already used; every token of its grant is now revoked")
        }
        Err(e) => unavailable(&e),
    }
}

async fn issue(
    state: &AppState,
    client: &ClientRecord,
    grant: AccessGrant,
    refresh: Refresh,
    form: &ProtocolForm,
    now: UnixTime,
    grant_label: &'static str,
) -> Result<TokenResponse, OAuthError> {
    let keys = state.keys();
    let minted = token::mint(&grant, &keys.ring, &state.digest_key, &state.settings.tokens, now).map_err(|e| {
        tracing::error!(error = %e, "minting a token failed");
        OAuthError::server_error("the token could not be issued")
    })?;
    let event = AuditEvent::new(now, actor(client), "token.issued", Outcome::Success)
        .client(client.application.client_id.as_str())
        .account(grant.subject.username.clone())
        .scopes(grant.scopes.to_space_separated())
        .source(form.source.clone())
        .detail(serde_json::json!({
            "jti": minted.record.id,
            "format": grant.format.as_str(),
            "grant_type": grant_label,
            "expires_at": grant.expires_at.0,
        }));
    let mut response = token::response(&minted, &grant, now);
    if let (Refresh::Code(code), true) = (&refresh, grant.scopes.contains_str("openid")) {
        response.id_token = Some(id_token(state, &grant, code, &minted.access_token, now)?);
    }
    let ttl = Some(state.settings.tokens.refresh_token_ttl).filter(|t| *t > 0);
    let key_error = |e: charter_core::digest::KeyMaterialError| {
        tracing::error!(error = %e, "minting a refresh token failed");
        OAuthError::server_error("the token could not be issued")
    };
    let (refresh_record, rotating) = match &refresh {
        Refresh::None => (None, None),
        Refresh::Start | Refresh::Code(_) => {
            let r = charter_core::refresh::mint(&grant, &minted.record.id, None, &grant.scopes, grant.grant_type, ttl, &state.digest_key, now)
                .map_err(key_error)?;
            response.refresh_token = Some(r.value);
            (Some(r.record), None)
        }
        Refresh::Rotate(old) => {
            let o = &old.record;
            let r = charter_core::refresh::mint(&grant, &minted.record.id, Some(&o.family_id), &o.scopes, o.grant_type, ttl, &state.digest_key, now)
                .map_err(key_error)?;
            response.refresh_token = Some(r.value);
            (Some(r.record), Some(o.id.clone()))
        }
    };
    let event = match &refresh_record {
        Some(r) => {
            let mut e = event;
            if let Some(d) = e.detail.as_object_mut() {
                d.insert("refresh_family".into(), serde_json::Value::String(r.family_id.clone()));
            }
            e
        }
        None => event,
    };
    let batch = WriteBatch {
        tokens: vec![minted.record],
        audit: vec![event],
        refresh_tokens: refresh_record.into_iter().collect(),
        ..Default::default()
    };
    match (rotating, &refresh) {
        (_, Refresh::Code(code)) => {
            let code_id = &code.id;
            let access_id = batch.tokens.first().map(|t| t.id.clone()).unwrap_or_default();
            let family = batch.refresh_tokens.first().map(|r| r.family_id.clone());
            let redeemed = state
                .store
                .redeem_code(code_id, now, &access_id, family.as_deref(), &batch)
                .await
                .map_err(|e| unavailable(&e))?;
            if !redeemed {
                // Two redemptions raced: the loser revokes what the winner got.
                let _ = state.store.revoke_code_tokens(code_id, now).await;
                return Err(OAuthError::invalid_grant("the authorization code is invalid, expired or already used"));
            }
        }
        (Some(old_id), Refresh::Rotate(old)) => {
            // Check-and-set in one transaction: of two concurrent uses, one wins.
            let rotated = state.store.rotate_refresh_token(&old_id, now, &batch).await.map_err(|e| unavailable(&e))?;
            if !rotated {
                return Err(revoke_reused_family(state, &old.record.family_id, now).await);
            }
        }
        _ => state.journal.commit(batch).await.map_err(|e| unavailable(&e))?,
    }
    metrics::counter!("charter_tokens_total", "grant" => grant_label, "outcome" => "issued").increment(1);
    Ok(response)
}

/// Audits a token request refused before its client was authenticated (a
/// malformed request, or one the body extractor refused). The client id is
/// the one presented, if any: unverified, but worth knowing.
pub async fn refused_before_authentication(
    state: &AppState,
    presented_client_id: Option<&str>,
    source: Option<String>,
    error: &OAuthError,
    now: UnixTime,
) -> Result<(), OAuthError> {
    let client: Option<String> =
        presented_client_id.map(|c| c.chars().filter(|ch| ch.is_ascii_graphic()).take(100).collect());
    let mut event = AuditEvent::new(now, "anonymous", "token.refused", Outcome::Failure)
        .source(source)
        .detail(serde_json::json!({ "error": error.code.as_str(), "description": error.description }));
    event.client_id = client;
    metrics::counter!("charter_tokens_total", "grant" => "unknown", "outcome" => error.code.as_str()).increment(1);
    commit_audit(state, event).await
}

/// OpenID Connect Core §3.1.3.6: the ID token of an authorization code redemption.
fn id_token(
    state: &AppState,
    grant: &AccessGrant,
    code: &charter_core::browser::CodeRecord,
    access_token: &str,
    now: UnixTime,
) -> Result<String, OAuthError> {
    let keys = state.keys();
    let failed = || OAuthError::server_error("the ID token could not be signed");
    let key = keys.ring.signer(now).ok_or_else(failed)?;
    let claims = charter_core::claims::IdTokenClaims {
        iss: state.settings.tokens.issuer.clone(),
        sub: grant.subject.anonymous_id.clone(),
        aud: grant.application.client_id.as_str().to_owned(),
        exp: now.plus(state.settings.tokens.access_token_ttl).0,
        iat: now.0,
        auth_time: code.auth_time.0,
        nonce: code.nonce.clone(),
        at_hash: charter_core::claims::at_hash(access_token, key.alg),
        user: charter_core::claims::userinfo(&grant.scopes, &grant.subject),
    };
    charter_core::jws::sign_compact(key, &claims).map_err(|_| failed())
}

fn actor(client: &ClientRecord) -> String {
    format!("client:{}", client.application.client_id)
}

fn metric_grant(g: &str) -> &'static str {
    match g {
        "client_credentials" => "client_credentials",
        "authorization_code" => "authorization_code",
        "refresh_token" => "refresh_token",
        "password" => "password",
        _ => "other",
    }
}
