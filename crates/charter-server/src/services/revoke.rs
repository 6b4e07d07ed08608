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
        return Ok(());
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
