//! RFC 7009 revocation.

use super::client_auth::authenticate_client;
use super::lookup::find_token;
use crate::form::ProtocolForm;
use crate::oauth_response::unavailable;
use crate::state::AppState;
use charter_core::audit::{AuditEvent, Outcome};
use charter_core::error::OAuthError;
use charter_store::{Revocation, WriteBatch};

/// Revokes the token if it is ours and was issued to the caller. An unknown,
/// expired or already revoked token, or another client's, is answered with
/// success (RFC 7009 §2.2) and nothing is revoked.
pub async fn revoke(state: &AppState, form: &ProtocolForm) -> Result<(), OAuthError> {
    let now = state.clock.now();
    let client = authenticate_client(state, form, "revoke", now).await?;
    let token = form.params.require("token")?;
    let Some(found) = find_token(state, token, now).await? else {
        return revoke_refresh(state, form, client.application.client_id.as_str(), token, now).await;
    };
    let record = &found.record;
    let client_id = client.application.client_id.as_str();
    if record.client_id != client_id {
        // RFC 7009 §2.1 lets the server refuse; answering as for an unknown token
        // (200, nothing revoked) tells the caller nothing about the token.
        let event = AuditEvent::new(now, format!("client:{client_id}"), "revoke.refused", Outcome::Failure)
            .client(client_id)
            .source(form.source.clone())
            .detail(serde_json::json!({ "reason": "token_of_another_client", "jti": record.id }));
        super::client_auth::commit_audit(state, event).await?;
        return Ok(());
    }
    if record.revoked_at.is_some() {
        return Ok(());
    }
    let event = AuditEvent::new(now, format!("client:{client_id}"), "token.revoked", Outcome::Success)
        .client(client_id)
        .account(found.username.clone())
        .scopes(record.scopes.to_space_separated())
        .source(form.source.clone())
        .detail(serde_json::json!({ "jti": record.id }));
    state
        .journal
        .commit(WriteBatch {
            revocations: vec![Revocation { token_id: record.id.clone(), at: now }],
            audit: vec![event],
            ..Default::default()
        })
        .await
        .map_err(|e| unavailable(&e))?;
    metrics::counter!("charter_revocations_total").increment(1);
    Ok(())
}

/// A refresh token: revoking it revokes its whole family and the access tokens
/// issued with it (RFC 7009 §2.1: "the authorization server SHOULD also
/// invalidate all access tokens based on the same authorization grant").
async fn revoke_refresh(
    state: &AppState,
    form: &ProtocolForm,
    client_id: &str,
    token: &str,
    now: charter_core::time::UnixTime,
) -> Result<(), OAuthError> {
    let Some((id, secret)) = charter_core::token::split_opaque(token) else {
        return Ok(());
    };
    let found = state.store.refresh_token_by_id(id).await.map_err(|e| unavailable(&e))?;
    let Some(found) = found.filter(|t| charter_core::refresh::secret_matches(&t.record, secret, &state.digest_key)) else {
        return Ok(());
    };
    let r = &found.record;
    if r.client_id != client_id {
        let event = AuditEvent::new(now, format!("client:{client_id}"), "revoke.refused", Outcome::Failure)
            .client(client_id)
            .source(form.source.clone())
            .detail(serde_json::json!({ "reason": "token_of_another_client", "refresh_family": r.family_id }));
        return super::client_auth::commit_audit(state, event).await;
    }
    let revoked = state.store.revoke_refresh_family(&r.family_id, now).await.map_err(|e| unavailable(&e))?;
    let event = AuditEvent::new(now, format!("client:{client_id}"), "token.revoked", Outcome::Success)
        .client(client_id)
        .account(found.username.clone())
        .scopes(r.scopes.to_space_separated())
        .source(form.source.clone())
        .detail(serde_json::json!({ "refresh_family": r.family_id, "refresh_tokens_revoked": revoked }));
    super::client_auth::commit_audit(state, event).await?;
    metrics::counter!("charter_revocations_total").increment(1);
    Ok(())
}
