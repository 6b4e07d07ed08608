//! RFC 7662 introspection.
//!
//! A caller may introspect its own tokens; tokens of other applications only
//! when the caller is a resource server, allowed the `charter:introspect`
//! scope (RFC 7662 §4: the server decides which callers may see which tokens).
//! Everything else is `{"active": false}`. Each call by a resource server is an
//! observation for the access report.

use super::client_auth::authenticate_client;
use super::lookup::find_token;
use crate::form::ProtocolForm;
use crate::state::AppState;
use charter_core::client::ClientType;
use charter_core::error::OAuthError;
use charter_core::introspection::{self, IntrospectionResponse};
use charter_core::scope_policy::INTROSPECT_SCOPE;

pub async fn introspect(state: &AppState, form: &ProtocolForm) -> Result<IntrospectionResponse, OAuthError> {
    let now = state.clock.now();
    let caller = authenticate_client(state, form, "introspect", now).await?;
    if caller.application.client_type != ClientType::Confidential {
        return Err(OAuthError::invalid_client("introspection requires a confidential client"));
    }
    let token = form.params.require("token")?;
    let found = find_token(state, token, now).await?;
    let caller_id = caller.application.client_id.as_str();
    let resource_server = caller.application.allowed_scopes.contains_str(INTROSPECT_SCOPE)
        && state.catalogue().policy.known.contains_str(INTROSPECT_SCOPE);
    let visible = found.filter(|t| resource_server || t.record.client_id == caller_id);
    let s = &state.settings.tokens;
    let decided = introspection::decide(visible.as_ref(), &s.issuer, &s.audience, now);
    if let (Some(t), true) = (&visible, resource_server) {
        state.observations.record_introspection(
            now,
            caller_id,
            &t.record.client_id,
            &t.record.scopes.to_space_separated(),
            decided.is_ok(),
        );
    }
    Ok(match decided {
        Ok(active) => {
            metrics::counter!("charter_introspections_total", "active" => "true").increment(1);
            active
        }
        Err(_) => {
            metrics::counter!("charter_introspections_total", "active" => "false").increment(1);
            IntrospectionResponse::inactive()
        }
    })
}
