//! RFC 7662 introspection.

use super::client_auth::authenticate_client;
use super::lookup::find_token;
use crate::form::ProtocolForm;
use crate::state::AppState;
use charter_core::client::ClientType;
use charter_core::error::OAuthError;
use charter_core::introspection::{self, IntrospectionResponse};

pub async fn introspect(state: &AppState, form: &ProtocolForm) -> Result<IntrospectionResponse, OAuthError> {
    let now = state.clock.now();
    let caller = authenticate_client(state, form, "introspect", now).await?;
    if caller.application.client_type != ClientType::Confidential {
        return Err(OAuthError::invalid_client("introspection requires a confidential client"));
    }
    let token = form.params.require("token")?;
    let found = find_token(state, token, now).await?;
    let s = &state.settings.tokens;
    Ok(match introspection::decide(found.as_ref(), &s.issuer, &s.audience, now) {
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
