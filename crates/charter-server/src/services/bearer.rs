//! Bearer-token authorization of Charter's own API (RFC 6750), with Charter's own tokens.

use super::lookup::find_token;
use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use charter_core::introspection::{self, TokenState};

/// Why a Bearer request was refused (RFC 6750 §3.1).
pub enum BearerError {
    /// No token: 401 with a bare challenge.
    Missing,
    /// Unknown, expired, revoked or malformed: 401 `invalid_token`.
    Invalid,
    /// Valid, but without the scope: 403 `insufficient_scope`.
    InsufficientScope(&'static str),
    Unavailable,
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let (status, challenge, body) = match self {
            BearerError::Missing => (
                StatusCode::UNAUTHORIZED,
                "Bearer realm=\"charter\"".to_owned(),
                serde_json::json!({"error": "invalid_request", "error_description": "a Bearer access token is required"}),
            ),
            BearerError::Invalid => (
                StatusCode::UNAUTHORIZED,
                "Bearer realm=\"charter\", error=\"invalid_token\"".to_owned(),
                serde_json::json!({"error": "invalid_token", "error_description": "the access token is not active"}),
            ),
            BearerError::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                format!("Bearer realm=\"charter\", error=\"insufficient_scope\", scope=\"{scope}\""),
                serde_json::json!({"error": "insufficient_scope", "error_description": format!("the token lacks the scope {scope}"), "scope": scope}),
            ),
            BearerError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                String::new(),
                serde_json::json!({"error": "temporarily_unavailable"}),
            ),
        };
        let mut r = (status, Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            if !challenge.is_empty() {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        crate::oauth_response::no_store(r.headers_mut());
        r
    }
}

/// The active token of the request, if it carries `scope`.
pub async fn authorize(state: &AppState, headers: &HeaderMap, scope: &'static str) -> Result<TokenState, BearerError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (Some(v), None) => v.to_str().map_err(|_| BearerError::Invalid)?,
        (None, _) => return Err(BearerError::Missing),
        (Some(_), Some(_)) => return Err(BearerError::Invalid),
    };
    let (scheme, token) = value.trim().split_once(' ').ok_or(BearerError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Missing);
    }
    let now = state.clock.now();
    let found = find_token(state, token.trim(), now).await.map_err(|_| BearerError::Unavailable)?;
    let s = &state.settings.tokens;
    introspection::decide(found.as_ref(), &s.issuer, &s.audience, now).map_err(|_| BearerError::Invalid)?;
    let found = found.ok_or(BearerError::Invalid)?;
    if !found.record.scopes.contains_str(scope) {
        return Err(BearerError::InsufficientScope(scope));
    }
    Ok(found)
}
