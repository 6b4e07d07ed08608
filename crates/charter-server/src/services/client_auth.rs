//! Authenticating the client of a protocol request, with its audit trail on failure.

use crate::form::ProtocolForm;
use crate::oauth_response::unavailable;
use crate::state::AppState;
use charter_core::audit::{AuditEvent, Outcome};
use charter_core::client::ClientRecord;
use charter_core::client_auth::{authenticate, presented_credentials};
use charter_core::error::OAuthError;
use charter_core::time::UnixTime;
use charter_store::WriteBatch;

/// Authenticates the request's client. `purpose` names the endpoint for the audit log
/// (`token`, `introspect`, `revoke`).
pub async fn authenticate_client(
    state: &AppState,
    form: &ProtocolForm,
    purpose: &'static str,
    now: UnixTime,
) -> Result<ClientRecord, OAuthError> {
    let presented = match presented_credentials(form.authorization.as_deref(), &form.params) {
        Ok(Some(p)) => p,
        Ok(None) => {
            let e = OAuthError::invalid_client("client authentication is required");
            audit_malformed(state, form, purpose, &e, now).await?;
            return Err(e);
        }
        Err(e) => {
            audit_malformed(state, form, purpose, &e, now).await?;
            return Err(e);
        }
    };
    let lookup = state.store.client_record(presented.client_id.as_str()).await.map_err(|e| unavailable(&e))?;
    if let Some(l) = &lookup {
        state.observe(l.revisions).await.map_err(|e| unavailable(&e))?;
    }
    let record = lookup.map(|l| l.record);
    match authenticate(record.as_ref(), &presented, &state.digest_key, now) {
        Ok(()) => record.ok_or_else(|| OAuthError::server_error("client vanished")),
        Err(failure) => {
            metrics::counter!("charter_client_auth_failures_total", "endpoint" => purpose, "reason" => failure.reason())
                .increment(1);
            let event = AuditEvent::new(now, format!("client:{}", presented.client_id), format!("{purpose}.refused"), Outcome::Failure)
                .client(presented.client_id.as_str())
                .source(form.source.clone())
                .detail(serde_json::json!({ "error": "invalid_client", "reason": failure.reason(), "method": presented.method.as_str() }));
            commit_audit(state, event).await?;
            Err(failure.to_oauth())
        }
    }
}

/// Audits a request whose credentials could not even be read.
async fn audit_malformed(
    state: &AppState,
    form: &ProtocolForm,
    purpose: &'static str,
    error: &OAuthError,
    now: UnixTime,
) -> Result<(), OAuthError> {
    metrics::counter!("charter_client_auth_failures_total", "endpoint" => purpose, "reason" => "malformed").increment(1);
    let mut event = AuditEvent::new(now, "anonymous", format!("{purpose}.refused"), Outcome::Failure)
        .source(form.source.clone())
        .detail(serde_json::json!({ "error": error.code.as_str(), "description": error.description }));
    event.client_id = form.params.get("client_id").map(|c| c.chars().filter(|ch| ch.is_ascii_graphic()).take(100).collect());
    commit_audit(state, event).await
}

/// Commits one audit event durably.
pub async fn commit_audit(state: &AppState, event: AuditEvent) -> Result<(), OAuthError> {
    state
        .journal
        .commit(WriteBatch { audit: vec![event], ..Default::default() })
        .await
        .map_err(|e| unavailable(&e))
}
