//! Mapping of results to HTTP: RFC 6749 §5.1 / §5.2 responses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use charter_core::error::{OAuthError, OAuthErrorCode};
use serde::Serialize;

/// An RFC 6749 §5.2 error response. `invalid_client` carries `WWW-Authenticate`.
pub struct ErrorResponse(pub OAuthError);

impl From<OAuthError> for ErrorResponse {
    fn from(e: OAuthError) -> Self {
        ErrorResponse(e)
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = (status, Json(self.0.body())).into_response();
        let h = resp.headers_mut();
        no_store(h);
        if self.0.code == OAuthErrorCode::InvalidClient {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"charter\""));
        }
        resp
    }
}

/// A JSON body that must not be cached (tokens, introspection results).
pub struct NoStoreJson<T>(pub T);

impl<T: Serialize> IntoResponse for NoStoreJson<T> {
    fn into_response(self) -> Response {
        let mut resp = Json(self.0).into_response();
        no_store(resp.headers_mut());
        resp
    }
}

pub fn no_store(h: &mut axum::http::HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A storage failure, as the client sees it: a retryable 503, no detail.
pub fn unavailable(e: &charter_store::StoreError) -> OAuthError {
    tracing::error!(error = %e, "storage failure");
    OAuthError::temporarily_unavailable("the server cannot reach its storage; retry shortly")
}
