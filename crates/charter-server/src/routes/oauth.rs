//! The protocol endpoints. Each handler extracts, calls its service, maps the result.

use crate::form::{FormRejection, ProtocolForm};
use crate::oauth_response::{ErrorResponse, NoStoreJson};
use crate::services;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use charter_core::grant::Endpoint;

/// `POST /oauth2/token` (RFC 6749 §3.2).
pub async fn token(State(state): State<AppState>, form: Result<ProtocolForm, FormRejection>) -> Response {
    token_at(state, form, Endpoint::Standard).await
}

/// `POST /oauth2/access_token`: Open edX's token endpoint.
pub async fn access_token(State(state): State<AppState>, form: Result<ProtocolForm, FormRejection>) -> Response {
    token_at(state, form, Endpoint::OpenEdx).await
}

async fn token_at(state: AppState, form: Result<ProtocolForm, FormRejection>, endpoint: Endpoint) -> Response {
    let form = match form {
        Ok(f) => f,
        Err(rejection) => {
            // Even a request that could not be read is a refused token request: audit it.
            let now = state.clock.now();
            let error = rejection.error();
            if let Err(e) = services::token::refused_before_authentication(&state, None, rejection.source(), &error, now).await {
                return ErrorResponse(e).into_response();
            }
            return rejection.into_response();
        }
    };
    match services::token::token(&state, &form, endpoint).await {
        Ok(r) => NoStoreJson(r).into_response(),
        Err(e) => ErrorResponse(e).into_response(),
    }
}

/// `POST /oauth2/introspect` (RFC 7662).
pub async fn introspect(State(state): State<AppState>, form: ProtocolForm) -> Response {
    match services::introspect::introspect(&state, &form).await {
        Ok(r) => NoStoreJson(r).into_response(),
        Err(e) => ErrorResponse(e).into_response(),
    }
}

/// `POST /oauth2/revoke` and `/oauth2/revoke_token` (RFC 7009).
pub async fn revoke(State(state): State<AppState>, form: ProtocolForm) -> Response {
    match services::revoke::revoke(&state, &form).await {
        Ok(()) => {
            let mut r = StatusCode::OK.into_response();
            crate::oauth_response::no_store(r.headers_mut());
            r
        }
        Err(e) => ErrorResponse(e).into_response(),
    }
}

/// `GET|POST /oauth2/userinfo` (OpenID Connect Core §5.3): Bearer token with `openid`.
pub async fn userinfo(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let token = match crate::services::bearer::authorize(&state, &headers, "openid").await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let user = match state.store.account_by_id(token.record.account_id).await {
        Ok(Some(u)) => u,
        Ok(None) => return crate::services::bearer::BearerError::Invalid.into_response(),
        Err(e) => return ErrorResponse(crate::oauth_response::unavailable(&e)).into_response(),
    };
    let info = charter_core::claims::userinfo(&token.record.scopes, &user);
    let mut body = serde_json::to_value(&info).unwrap_or_default();
    if let Some(o) = body.as_object_mut() {
        o.insert("sub".into(), serde_json::Value::String(user.anonymous_id.clone()));
    }
    NoStoreJson(body).into_response()
}
