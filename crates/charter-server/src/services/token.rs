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
use charter_core::login_throttle;
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
    let decided = match grant_type {
        "client_credentials" => {
            let catalogue = state.catalogue();
            let req = ClientCredentialsRequest { scope: form.params.get("scope"), token_type: requested_type, endpoint };
            client_credentials::decide(&client, &req, &catalogue.policy, &state.settings.tokens, now)
        }
        "password" => {
            account_hint = form.params.get("username").map(|u| u.chars().filter(|c| !c.is_control()).take(150).collect::<String>());
            let req = PasswordRequest { scope: form.params.get("scope"), token_type: requested_type, endpoint };
            password_grant(state, &client, form, &req, now).await
        }
        "authorization_code" | "refresh_token" => Err(OAuthError::unsupported_grant_type(format!(
            "the {grant_type} grant is not enabled on this server"
        ))),
        other => Err(OAuthError::unsupported_grant_type(format!(
            "unknown grant_type '{}'",
            other.chars().filter(|c| !c.is_control()).take(60).collect::<String>()
        ))),
    };
    let grant_label = metric_grant(grant_type);
    match decided {
        Ok(grant) => issue(state, &client, grant, form, now, grant_label).await,
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
    let source = form.source.clone().unwrap_or_else(|| "unknown".into());
    let key = username.to_lowercase();
    let (by_account, by_source) = state
        .store
        .login_failures_since(&key, &source, now.minus(login_throttle::WINDOW))
        .await
        .map_err(|e| unavailable(&e))?;
    if !login_throttle::allowed(by_account, by_source) {
        metrics::counter!("charter_login_throttled_total").increment(1);
        return Err(OAuthError::invalid_grant("too many failed logins; retry later"));
    }
    let found = state.store.login_account(username).await.map_err(|e| unavailable(&e))?;
    let (account, hash) = match found {
        Some((a, h)) => (Some(a), h),
        None => (None, None),
    };
    let ok = crate::services::password::verify(secret.to_owned(), hash).await;
    match account {
        Some(user) if ok => {
            let catalogue = state.catalogue();
            password::decide(client, &user, req, &catalogue.policy, &state.settings.tokens, now)
        }
        _ => {
            state.store.record_login_failure(now, &key, &source).await.map_err(|e| unavailable(&e))?;
            Err(OAuthError::invalid_grant("invalid username or password"))
        }
    }
}

async fn issue(
    state: &AppState,
    client: &ClientRecord,
    grant: AccessGrant,
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
    let response = token::response(&minted, &grant, now);
    state
        .journal
        .commit(WriteBatch { tokens: vec![minted.record], audit: vec![event], ..Default::default() })
        .await
        .map_err(|e| unavailable(&e))?;
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
